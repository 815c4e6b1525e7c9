"""The one door to the Stripe SDK: request options, calls and reading the answers.

Every request goes through :meth:`StripeCalls.call` with the caller's
idempotency key in the request options; the SDK retries connection errors,
409s and 5xx answers itself and reuses that key on each retry, so Stripe
performs the operation once. Stripe's exceptions stop here
(:func:`~enrollpay.gateways.stripe.errors.translate`), and an answer that
cannot be read leaves the outcome unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

import stripe

from enrollpay.domain.money import Money
from enrollpay.errors import EnrollpayError, GatewayRequestError, GatewayUnavailableError
from enrollpay.gateways.stripe.amounts import to_stripe_amount
from enrollpay.gateways.stripe.errors import translate
from enrollpay.gateways.stripe.params import check_key

__all__ = ["StripeCalls", "StripeClient"]

#: The SDK's client, for modules of the adapter that take one without importing the SDK.
StripeClient = stripe.StripeClient

T = TypeVar("T")
P = ParamSpec("P")


class StripeCalls:
    """An injected :class:`stripe.StripeClient` and the way enrollpay calls it.

    ``max_network_retries`` is sent with every request;
    ``payment_method_types`` replaces automatic payment methods when given.
    """

    def __init__(
        self,
        client: stripe.StripeClient,
        *,
        max_network_retries: int,
        payment_method_types: Sequence[str] | None,
    ) -> None:
        self.client = client
        self.max_network_retries = max_network_retries
        self._method_types = None if payment_method_types is None else list(payment_method_types)

    def options(self, idempotency_key: str | None = None) -> stripe.RequestOptions:
        """Request options: the retries, and the idempotency key when there is one."""
        options: stripe.RequestOptions = {"max_network_retries": self.max_network_retries}
        if idempotency_key is not None:
            options["idempotency_key"] = check_key(idempotency_key)
        return options

    def call(self, action: str, method: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call the SDK, translating its exceptions at this boundary."""
        try:
            return method(*args, **kwargs)
        except stripe.StripeError as exc:
            raise translate(exc, action) from exc

    def read(self, action: str, read: Callable[[], T]) -> T:
        """Read Stripe's answer; an answer we cannot read leaves the outcome unknown."""
        try:
            return read()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise GatewayUnavailableError(
                f"Stripe's answer to {action} could not be read ({type(exc).__name__}); "
                "the outcome is unknown"
            ) from exc

    def amount(self, amount: Money) -> int:
        """``amount`` in Stripe's units; one Stripe would refuse is a request error."""
        try:
            return to_stripe_amount(amount)
        except EnrollpayError as exc:
            raise GatewayRequestError(str(exc), param="amount") from exc

    def payment_methods(self, *, off_session: bool) -> dict[str, Any]:
        """The payment-method parameters of a PaymentIntent or SetupIntent."""
        if self._method_types is not None:
            return {"payment_method_types": list(self._method_types)}
        if off_session:
            # Nobody is there to follow a redirect.
            return {"automatic_payment_methods": {"enabled": True, "allow_redirects": "never"}}
        return {"automatic_payment_methods": {"enabled": True}}
