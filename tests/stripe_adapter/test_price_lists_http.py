"""A product sold in two currencies, enrolled through StripeGateway over HTTP (local stand-in)."""

from __future__ import annotations

from enrollpay import Installments, Money, PaymentSystem
from enrollpay.gateways.stripe import StripeGateway
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FrozenClock, SequentialIds
from tests.support.stripe_server import StripeServer

INTENTS = "/v1/payment_intents"


def test_a_charge_in_the_second_currency_goes_out_in_it(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock
) -> None:
    """EUR enrollment: the intent is 9000 eur; the default USD one is 10000 usd."""
    system = PaymentSystem(store=InMemoryStore(), gateway=gateway, clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="course",
        product_id="c-1",
        name="Course",
        price=Money.of("300.00", "USD"),
        prices=[Money.of("270.00", "EUR")],
        payment_plan=Installments(3),
    )

    in_eur = system.enroll(user_id="u-1", product_id=product.id, currency="EUR")
    in_usd = system.enroll(user_id="u-2", product_id=product.id)

    assert in_eur.client_secret is not None
    assert in_usd.client_secret is not None
    sent = [(r.param("amount"), r.param("currency")) for r in server.requests_to("POST", INTENTS)]
    assert sent == [("9000", "eur"), ("10000", "usd")]
    stored = {intent["currency"] for intent in server.stripe.intents.values()}
    assert stored == {"eur", "usd"}
    [attempt] = system.payment_details(in_eur.enrollment_id).attempts
    assert attempt.amount == Money.of("90.00", "EUR")
    assert attempt.gateway_payment_id in server.stripe.intents
