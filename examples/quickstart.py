"""The seed's flow in a few lines, on the in-memory store and the fake gateway.

Run: python examples/quickstart.py
"""

from datetime import UTC, datetime

from enrollpay import Deposit, Installments, Money, PaymentSystem, PlanRule
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds

clock = FrozenClock(datetime(2027, 3, 15, 9, 0, tzinfo=UTC))
gateway = FakeGateway(clock=clock)
system = PaymentSystem(store=InMemoryStore(), gateway=gateway, clock=clock, ids=SequentialIds())

# 1. Register a product; plan rules pick its payment plan automatically.
system.set_plan_rules([PlanRule(plan=Installments(3, deposit=Deposit.percent(20)))])
course = system.register_product(
    product_type="course",
    product_id="course-uuid",
    name="React Masterclass",
    price=Money.of("299.99", "USD"),
    auto_assign_payment_plan=True,
)

# 2. Enroll: plan detected, schedule generated, first payment opened.
result = system.enroll(user_id="user-uuid", product_id=course.id)
print(f"Enrollment {result.enrollment_id}: {result.enrollment.status}")
for item in result.schedule:
    print(f"  {item.seq}. {item.kind:<11} {item.due}  {item.amount.format('en_US'):>8}")

# 3. The student pays with the client secret; the gateway's webhook confirms it.
assert result.client_secret is not None
gateway.complete_payment(result.client_secret)
for outcome in gateway.deliver(system):
    print(f"Webhook {outcome.event_type}: {outcome.result}")

# 4. A month later the next installment is charged off-session.
clock.set(datetime(2027, 4, 15, 9, 0, tzinfo=UTC))
print(f"Collection: {system.collect_due().summary()}")
gateway.deliver(system)

details = system.payment_details(result.enrollment_id)
print(f"Status {details.enrollment.status}, paid {details.paid}, still owed {details.outstanding}")

# 5. What would cancelling today refund?
quote = system.quote_cancellation(result.enrollment_id)
for line in quote.lines:
    print(f"  {line.label:<28} {line.amount.format('en_US'):>9}")
print(f"Audit trail intact: {system.verify_audit_chain().ok}")
