"""Stripe API keys and webhook secrets: which mode a key is for, and checking secrets.

This module is pure: it does not import the Stripe SDK.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from enrollpay.errors import InvalidInputError

__all__ = ["check_secrets", "key_livemode"]

_LIVE_PREFIXES: Final = ("sk_live_", "rk_live_")
_TEST_PREFIXES: Final = ("sk_test_", "rk_test_")


def key_livemode(api_key: str) -> bool:
    """Whether a Stripe secret or restricted key is a live key (else a test key).

    Raises :class:`~enrollpay.errors.InvalidInputError` for anything else
    (a publishable key, a typo); the message never shows the key.
    """
    if not isinstance(api_key, str):
        raise InvalidInputError("the Stripe API key must be a string")
    if api_key.startswith(_LIVE_PREFIXES):
        return True
    if api_key.startswith(_TEST_PREFIXES):
        return False
    if api_key.startswith("pk_"):
        raise InvalidInputError(
            "that is a publishable key; the server needs the secret key (sk_...) "
            "or a restricted key (rk_...)"
        )
    raise InvalidInputError(
        "the Stripe API key is not a secret or restricted key "
        "(expected sk_live_, sk_test_, rk_live_ or rk_test_)"
    )


def check_secrets(secrets: Sequence[str]) -> tuple[str, ...]:
    """The webhook signing secrets as a tuple; refuses none, blanks or a bare string."""
    if isinstance(secrets, (str, bytes)):
        raise InvalidInputError("webhook_secrets is a list of secrets, e.g. [os.environ[...]]")
    checked = tuple(secrets)
    if not checked:
        raise InvalidInputError("at least one webhook secret is needed")
    for secret in checked:
        if not isinstance(secret, str) or not secret.strip():
            raise InvalidInputError("webhook secrets must be non-empty strings")
    return checked
