"""A Django test app that records every enrollpay signal it receives, in order."""
