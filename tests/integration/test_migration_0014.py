"""Migration 0014 on a database built by 0013 with rows in it, on SQLite and PostgreSQL.

0014 admits the ``processing`` attempt status (a bank debit settling) and
turns the attempts the older code stored as ``unknown`` with the message
``processing at the gateway`` into ``processing``; the downgrade undoes it.
"""

from __future__ import annotations

import attrs
import pytest
import sqlalchemy as sa

from enrollpay.domain.lifecycle import AttemptStatus
from enrollpay.storage.sql import mapping as m
from enrollpay.storage.sql import migrate

from ..contract.test_store_contract import an_attempt, an_item  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _attempts_as_of, _downgrade, _insert_as_of, _schema_diff, _seed_at

#: A debit the older code could not name, an outage (unknown for another reason),
#: and a success: only the first is a processing debit.
_DEBIT = an_attempt(
    "att_debit",
    "itm_1",
    1,
    status=AttemptStatus.UNKNOWN,
    gateway_payment_id="pi_debit",
    message="processing at the gateway",
)
_OUTAGE = an_attempt(
    "att_outage", "itm_2", 1, status=AttemptStatus.UNKNOWN, message="gateway timed out"
)
_SUCCEEDED = an_attempt(
    "att_ok", "itm_3", 1, status=AttemptStatus.SUCCEEDED, gateway_payment_id="pi_ok"
)
_OLD_ROWS = [_DEBIT, _OUTAGE, _SUCCEEDED]


def _write_processing(url: str, attempt_id: str) -> None:
    attempt = an_attempt(attempt_id, "itm_2", 2, status=AttemptStatus.PROCESSING)
    _insert_as_of(url, "enrollpay_payment_attempts", [m.attempt_to_row(attempt)])


def test_0014_names_the_processing_debits_and_downgrades_back(empty_url: str) -> None:  # noqa: F811
    """Old processing debits become ``processing``; others stay; the downgrade restores 0013."""
    url = empty_url
    _seed_at(url, "0013", [an_item(f"itm_{n}", seq=n) for n in (1, 2, 3)], list(_OLD_ROWS))
    with pytest.raises(sa.exc.IntegrityError):  # 0013's CHECK knows no processing attempts
        _write_processing(url, "att_new")

    migrate(url)
    attempts = _attempts_as_of(url)
    assert attempts[_DEBIT.id] == attrs.evolve(_DEBIT, status=AttemptStatus.PROCESSING)
    assert attempts[_OUTAGE.id] == _OUTAGE
    assert attempts[_SUCCEEDED.id] == _SUCCEEDED
    assert _schema_diff(url) == []
    _write_processing(url, "att_new")  # the CHECK admits it now

    _downgrade(url, "0013")
    attempts = _attempts_as_of(url)
    assert {a.id: a for a in _OLD_ROWS} == {k: v for k, v in attempts.items() if k != "att_new"}
    new = attempts["att_new"]
    assert (new.status, new.message) == (AttemptStatus.UNKNOWN, "processing at the gateway")
    with pytest.raises(sa.exc.IntegrityError):  # the CHECK is narrow again
        _write_processing(url, "att_newer")

    migrate(url)  # and up again: the round trip is repeatable
    again = _attempts_as_of(url)
    assert again[_DEBIT.id].status == again["att_new"].status == AttemptStatus.PROCESSING
    assert _schema_diff(url) == []
