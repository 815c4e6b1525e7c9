"""Migration 0008 on a database built by 0007 with rows in it, on SQLite and PostgreSQL.

0008 adds ``enrollpay_payment_attempts.card_brand`` (empty for existing
rows), ``reattempt`` (set where an earlier attempt of the same item on the
same payment method was declined) and an index on (enrollment_id,
payment_method_id, created_at); the downgrade drops them and keeps the rows.
"""

from __future__ import annotations

from datetime import timedelta

import attrs

from enrollpay.domain.lifecycle import AttemptStatus, ItemStatus
from enrollpay.domain.records import PaymentAttempt
from enrollpay.domain.retry import DeclineClass
from enrollpay.storage.sql import SqlStore, migrate

from ..contract.test_store_contract import T0, an_attempt, an_item  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _attempts_as_of, _downgrade, _indexes, _schema_diff, _seed_at

_INDEX = "ix_enrollpay_payment_attempts_enrollment_method_created"
_SOFT = {"status": AttemptStatus.FAILED, "decline_code": "insufficient_funds",
         "decline_class": DeclineClass.SOFT}  # fmt: skip


def _at(days: int) -> dict[str, object]:
    return {"created_at": T0 + timedelta(days=days), "updated_at": T0 + timedelta(days=days)}


#: Item 1: declined on the Visa card, retried on it (a reattempt), then a new card,
#: then the Visa card again (a reattempt: it declined this item before).
#: Item 2: paid on the Visa card, charged again on it (no decline before: not one).
#: Item 3: a refused request (no decline class) then a retry, and an attempt with no method.
_ROWS = [
    an_attempt("att_1", "itm_1", 1, **_SOFT, **_at(0)),
    an_attempt("att_2", "itm_1", 2, **_SOFT, **_at(1)),
    an_attempt("att_3", "itm_1", 3, **_SOFT, payment_method_id="pm_card_mastercard", **_at(2)),
    an_attempt("att_4", "itm_1", 4, **_at(3)),
    an_attempt("att_5", "itm_2", 1, status=AttemptStatus.SUCCEEDED, **_at(0)),
    an_attempt("att_6", "itm_2", 2, **_at(1)),
    an_attempt("att_7", "itm_3", 1, status=AttemptStatus.FAILED, message="refused", **_at(0)),
    an_attempt("att_8", "itm_3", 2, **_at(1)),
    an_attempt("att_9", "itm_3", 3, payment_method_id=None, **_at(2)),
]
_REATTEMPTS = {"att_2", "att_4"}


def _as_at_head(attempt: PaymentAttempt) -> PaymentAttempt:
    return attrs.evolve(attempt, reattempt=attempt.id in _REATTEMPTS)


def test_0008_marks_the_reattempts_there_were_and_the_caps_count_them(empty_url: str) -> None:  # noqa: F811
    """Rows keep their values; reattempts are marked; brands start empty; downgrade drops both."""
    items = [an_item(f"itm_{n}", seq=n, status=ItemStatus.FAILED) for n in (1, 2, 3)]
    _seed_at(empty_url, "0007", items, _ROWS)
    assert _INDEX not in _indexes(empty_url, "enrollpay_payment_attempts")
    assert _attempts_as_of(empty_url) == {a.id: a for a in _ROWS}  # read with the defaults

    migrate(empty_url)
    assert _schema_diff(empty_url) == []
    assert _indexes(empty_url, "enrollpay_payment_attempts")[_INDEX] == [
        "enrollment_id",
        "payment_method_id",
        "created_at",
    ]
    upgraded = _attempts_as_of(empty_url)
    assert upgraded == {a.id: _as_at_head(a) for a in _ROWS}
    assert {a.card_brand for a in upgraded.values()} == {None}
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        with store.transaction() as tx:
            since = T0 - timedelta(days=30)
            assert tx.reattempts_on("u-1", "pm_card_visa", since=since) == [
                T0 + timedelta(days=1),
                T0 + timedelta(days=3),
            ]
            assert tx.reattempts_on("u-1", "pm_card_mastercard", since=since) == []
            tx.update_attempt(attrs.evolve(upgraded["att_4"], card_brand="visa"))
        with store.transaction() as tx:
            assert [a.card_brand for a in tx.attempts_of("itm_1")] == [None, None, None, "visa"]
    finally:
        store.close()

    _downgrade(empty_url, "0007")
    assert _INDEX not in _indexes(empty_url, "enrollpay_payment_attempts")
    assert _attempts_as_of(empty_url) == {a.id: a for a in _ROWS}
    migrate(empty_url)  # and up again: the round trip is repeatable
    assert _attempts_as_of(empty_url) == {a.id: _as_at_head(a) for a in _ROWS}
