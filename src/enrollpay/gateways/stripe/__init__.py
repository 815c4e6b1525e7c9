"""The Stripe adapter: :class:`StripeGateway` on the official SDK, one module per concept.

- :mod:`~enrollpay.gateways.stripe.gateway`: :class:`StripeGateway`, its
  configuration, and the verbs forwarded to the modules below;
- :mod:`~enrollpay.gateways.stripe.customers`,
  :mod:`~enrollpay.gateways.stripe.payments`,
  :mod:`~enrollpay.gateways.stripe.refunds`,
  :mod:`~enrollpay.gateways.stripe.billing` and
  :mod:`~enrollpay.gateways.stripe.webhooks`: the verbs;
- :mod:`~enrollpay.gateways.stripe.calls` (the one door to the SDK),
  :mod:`~enrollpay.gateways.stripe.errors` (Stripe's exceptions
  translated), :mod:`~enrollpay.gateways.stripe.answers` (Stripe's answers
  read into the port's values), :mod:`~enrollpay.gateways.stripe.params`
  (metadata and keys sent);
- :mod:`~enrollpay.gateways.stripe.client` (building a
  :class:`stripe.StripeClient`), :mod:`~enrollpay.gateways.stripe.keys`
  and :mod:`~enrollpay.gateways.stripe.amounts` (Stripe's units).

Importing this package, or its pure modules (``amounts``, ``keys``,
``params``), does not import the Stripe SDK: the names that need it are
loaded on first use, so the amount rules work without the ``stripe`` extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from enrollpay.gateways.stripe.keys import key_livemode
from enrollpay.gateways.stripe.params import (
    ATTEMPT_KEY_METADATA,
    REFUND_REFERENCE_METADATA,
    USER_ID_METADATA,
)

if TYPE_CHECKING:
    from enrollpay.gateways.stripe.gateway import StripeGateway
    from enrollpay.gateways.stripe.tax import StripeTaxCalculator as StripeTaxCalculator
    from enrollpay.gateways.stripe.webhooks import SIGNATURE_HEADER

__all__ = [
    "ATTEMPT_KEY_METADATA",
    "REFUND_REFERENCE_METADATA",
    "SIGNATURE_HEADER",
    "USER_ID_METADATA",
    "StripeGateway",
    "key_livemode",
]

# Names whose modules import the SDK, and the module each one lives in
# (StripeTaxCalculator, the Stripe Tax adapter, is importable from here too).
_NEEDS_SDK = {
    "StripeGateway": "enrollpay.gateways.stripe.gateway",
    "StripeTaxCalculator": "enrollpay.gateways.stripe.tax",
    "SIGNATURE_HEADER": "enrollpay.gateways.stripe.webhooks",
}


def __getattr__(name: str) -> Any:
    module = _NEEDS_SDK.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_NEEDS_SDK])
