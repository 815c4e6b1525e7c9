"""What enrollpay sends Stripe: metadata keys, idempotency keys and metadata values.

Stripe limits idempotency keys to 255 characters and metadata values to
500; both are checked here, before a request is made. This module is pure:
it does not import the Stripe SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from enrollpay.errors import GatewayRequestError

__all__ = [
    "ATTEMPT_KEY_METADATA",
    "MAX_METADATA_VALUE",
    "REFUND_REFERENCE_METADATA",
    "USER_ID_METADATA",
    "attempt_key_of",
    "check_key",
    "meta_value",
    "metadata",
    "search_literal",
]

#: Metadata key holding the idempotency key that created a PaymentIntent,
#: so :meth:`StripeGateway.payment_status` can find it by key alone.
ATTEMPT_KEY_METADATA: Final = "enrollpay_attempt_key"
#: Metadata key holding the library's refund id on a Stripe refund.
REFUND_REFERENCE_METADATA: Final = "enrollpay_refund_id"
#: Metadata key holding the library's user id on a Stripe customer.
USER_ID_METADATA: Final = "enrollpay_user_id"

_MAX_KEY_LENGTH: Final = 255  # Stripe's limit for Idempotency-Key
MAX_METADATA_VALUE: Final = 500  # Stripe's limit for a metadata value


def check_key(key: str) -> str:
    """``key`` if Stripe accepts it as an idempotency key, else a request error."""
    # An empty key would make the SDK invent a random one, silently losing idempotency.
    if not isinstance(key, str) or not key.strip() or len(key) > _MAX_KEY_LENGTH:
        raise GatewayRequestError(
            f"idempotency keys must be non-empty strings of at most {_MAX_KEY_LENGTH} characters",
            param="idempotency_key",
        )
    return key


def meta_value(value: str) -> str:
    """``value`` if Stripe accepts it as a metadata value, else a request error."""
    if not isinstance(value, str) or len(value) > MAX_METADATA_VALUE:
        raise GatewayRequestError(
            f"metadata values must be strings of at most {MAX_METADATA_VALUE} characters",
            param="metadata",
        )
    return value


def metadata(values: Mapping[str, str], idempotency_key: str | None) -> dict[str, str]:
    """Checked metadata, with the attempt's idempotency key when there is one."""
    result = {str(k): meta_value(v) for k, v in values.items()}
    if idempotency_key is not None:
        result[ATTEMPT_KEY_METADATA] = meta_value(check_key(idempotency_key))
    return result


def attempt_key_of(intent: Mapping[str, Any]) -> Any:
    """The idempotency key recorded on a PaymentIntent (as a dict), if any."""
    return (intent.get("metadata") or {}).get(ATTEMPT_KEY_METADATA)


def search_literal(value: str) -> str:
    """Quote ``value`` for Stripe's search query language."""
    return value.replace("\\", "\\\\").replace("'", "\\'")
