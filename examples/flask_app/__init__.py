"""A Flask shop on enrollpay: storage on the app's database setting, the webhook view."""
