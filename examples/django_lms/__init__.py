"""A Django app that keeps the school's LMS in step with enrollpay's access events.

In ``settings.py``::

    INSTALLED_APPS = [..., "enrollpay.integrations.djangoapp", "examples.django_lms"]

then run ``python manage.py enrollpay_dispatch`` from cron (or call
``enrollpay.integrations.djangoapp.dispatch()`` from a task): a student
whose access is suspended is revoked in the LMS, and granted again when
they pay.
"""
