"""The public test kit: a fake gateway, a frozen clock, predictable ids, fixtures.

Hypothesis strategies live in :mod:`enrollpay.testing.strategies`, imported
on demand (they need the ``testing`` extra), never from here.

>>> from datetime import UTC, datetime
>>> from enrollpay import Money, PaymentSystem
>>> from enrollpay.storage.memory import InMemoryStore
>>> clock = FrozenClock(datetime(2027, 3, 15, 9, tzinfo=UTC))
>>> system = PaymentSystem(store=InMemoryStore(), gateway=FakeGateway(clock=clock), clock=clock)
"""

from enrollpay.gateways.fake import FakeCall, FakeCharge, FakeGateway, Outcome, SignedWebhook
from enrollpay.testing.clock import FrozenClock
from enrollpay.testing.ids import SequentialIds
from enrollpay.testing.notifier import RecordingNotifier

__all__ = [
    "FakeCall",
    "FakeCharge",
    "FakeGateway",
    "FrozenClock",
    "Outcome",
    "RecordingNotifier",
    "SequentialIds",
    "SignedWebhook",
]
