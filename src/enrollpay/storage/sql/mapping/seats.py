"""Rows of the seat tables and the seat and waitlist records they hold."""

from __future__ import annotations

from typing import Any

import attrs

from enrollpay.domain.seats import Seat, WaitlistEntry
from enrollpay.storage.sql.mapping.values import Row

__all__ = ["entry_from_row", "entry_to_row", "seat_from_row", "seat_to_row"]


def seat_to_row(seat: Seat) -> dict[str, Any]:
    """Column values of a seat."""
    row = attrs.asdict(seat, recurse=False)
    row["status"] = str(seat.status)
    return row


def seat_from_row(r: Row) -> Seat:
    """The seat a row holds."""
    return Seat(
        id=r["id"],
        product_id=r["product_id"],
        user_id=r["user_id"],
        status=r["status"],
        taken_at=r["taken_at"],
        updated_at=r["updated_at"],
        enrollment_id=r["enrollment_id"],
        entry_id=r["entry_id"],
        expires_at=r["expires_at"],
    )


def entry_to_row(entry: WaitlistEntry) -> dict[str, Any]:
    """Column values of a waitlist entry."""
    row = attrs.asdict(entry, recurse=False)
    row["status"] = str(entry.status)
    return row


def entry_from_row(r: Row) -> WaitlistEntry:
    """The waitlist entry a row holds."""
    return WaitlistEntry(
        id=r["id"],
        product_id=r["product_id"],
        user_id=r["user_id"],
        status=r["status"],
        joined_at=r["joined_at"],
        updated_at=r["updated_at"],
        seat_id=r["seat_id"],
        offered_at=r["offered_at"],
        offer_expires_at=r["offer_expires_at"],
        enrollment_id=r["enrollment_id"],
    )
