"""Django management commands of the enrollpay app."""
