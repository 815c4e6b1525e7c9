"""The fake gateway: a deterministic, in-memory, scriptable payment gateway for tests.

:class:`FakeGateway` (also exported by :mod:`enrollpay.testing`) is put
together from one module per concept:

- :mod:`~enrollpay.gateways.fake.gateway`: :class:`FakeGateway` itself,
  the call log and the verbs of the ports;
- :mod:`~enrollpay.gateways.fake.scripts`: scripted outcomes
  (:class:`Outcome`) and the request-rate limit;
- :mod:`~enrollpay.gateways.fake.records`: what the fake recorded
  (:class:`FakeCall`, :class:`FakeCharge`) and its ids;
- :mod:`~enrollpay.gateways.fake.payments` and
  :mod:`~enrollpay.gateways.fake.intents`: customers, payment intents,
  refunds and card updates;
- :mod:`~enrollpay.gateways.fake.billing`: subscriptions and invoices (the
  verbs attached from :mod:`~enrollpay.gateways.fake.billing_verbs`);
- :mod:`~enrollpay.gateways.fake.webhooks`: signed webhook emission
  (:class:`SignedWebhook`) and parsing.
"""

from enrollpay.gateways.fake.gateway import FakeGateway
from enrollpay.gateways.fake.records import FakeCall, FakeCharge
from enrollpay.gateways.fake.scripts import Outcome, OutcomeKind, Verb
from enrollpay.gateways.fake.webhooks import SIGNATURE_HEADER, SignedWebhook

__all__ = [
    "SIGNATURE_HEADER",
    "FakeCall",
    "FakeCharge",
    "FakeGateway",
    "Outcome",
    "OutcomeKind",
    "SignedWebhook",
    "Verb",
]
