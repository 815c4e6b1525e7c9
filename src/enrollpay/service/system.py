"""The facade: :class:`PaymentSystem` wires the use cases to the ports."""

from __future__ import annotations

from enrollpay.clock import SystemClock
from enrollpay.domain.refunds import RefundPolicy
from enrollpay.domain.retry import RetryPolicy
from enrollpay.ports import Clock, Gateway, Store
from enrollpay.service.base import Authorizer, FaultHook, IdFactory, SystemConfig, uuid_ids
from enrollpay.service.products import ProductMixin
from enrollpay.service.queries import QueryMixin
from enrollpay.service.webhooks import WebhookMixin

__all__ = ["PaymentSystem"]


class PaymentSystem(WebhookMixin, ProductMixin, QueryMixin):
    """Sell enrollments on payment plans over a store, a gateway and a clock.

    ``gateway=None`` runs without a payment gateway: enrollments and
    schedules are created and wait for manual payments. Every setting has a
    default; pass ``config=SystemConfig(...)`` or the common ones directly.
    ``faults`` is a test hook called at each named point of
    :data:`~enrollpay.service.base.FAULT_POINTS`; raising from it simulates a
    crash there.
    """

    def __init__(
        self,
        *,
        store: Store,
        gateway: Gateway | None = None,
        clock: Clock | None = None,
        config: SystemConfig | None = None,
        retry_policy: RetryPolicy | None = None,
        refund_policy: RefundPolicy | None = None,
        ids: IdFactory = uuid_ids,
        authorize: Authorizer | None = None,
        faults: FaultHook | None = None,
    ) -> None:
        base = config or SystemConfig()
        if retry_policy is not None or refund_policy is not None:
            from attrs import evolve  # noqa: PLC0415 - only needed for this shortcut

            base = evolve(
                base,
                retry_policy=retry_policy or base.retry_policy,
                refund_policy=refund_policy or base.refund_policy,
            )
        super().__init__(
            store=store,
            gateway=gateway,
            clock=clock or SystemClock(),
            config=base,
            ids=ids,
            authorize=authorize,
            faults=faults,
        )

    def __repr__(self) -> str:
        gateway = "none" if self.gateway is None else type(self.gateway).__name__
        return f"PaymentSystem(store={type(self.store).__name__}, gateway={gateway})"
