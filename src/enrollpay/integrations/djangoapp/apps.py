"""The app's configuration: its label is ``enrollpay``."""

from django.apps import AppConfig


class EnrollpayConfig(AppConfig):  # type: ignore[misc] # Django is untyped (see pyproject)
    """enrollpay's Django app: the ``enrollpay_dispatch`` command and the event signals."""

    name = "enrollpay.integrations.djangoapp"
    label = "enrollpay"
    verbose_name = "enrollpay"
