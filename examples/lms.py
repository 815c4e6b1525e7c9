"""A stand-in for a school's learning platform (LMS): who may open which course.

The integration examples call it when enrollpay says access changed. A real
one would call the LMS's API; both of its verbs are idempotent (revoking
twice leaves the student revoked), which is what makes an at-least-once
event safe to act on without remembering which events were seen.
"""

from __future__ import annotations

from enrollpay import PaymentSystem
from enrollpay.domain.events import DomainEvent

__all__ = ["Lms", "on_access_restored", "on_access_suspended"]


class Lms:
    """Course access by (user id, product id), and a log of every change made."""

    def __init__(self) -> None:
        self.members: set[tuple[str, str]] = set()
        self.log: list[str] = []

    def grant(self, user_id: str, course: str) -> None:
        """Let ``user_id`` into ``course`` (again)."""
        self.members.add((user_id, course))
        self.log.append(f"grant {user_id} {course}")

    def revoke(self, user_id: str, course: str) -> None:
        """Keep ``user_id`` out of ``course`` until granted again."""
        self.members.discard((user_id, course))
        self.log.append(f"revoke {user_id} {course}")


def _who(system: PaymentSystem, event: DomainEvent) -> tuple[str, str]:
    assert event.enrollment_id is not None  # access events always name their enrollment
    enrollment = system.get_enrollment(event.enrollment_id)
    # The LMS knows the course by the host app's own id, not enrollpay's.
    return enrollment.user_id, system.get_product(enrollment.product_id).product_id


def on_access_suspended(system: PaymentSystem, lms: Lms, event: DomainEvent) -> None:
    """``access.suspended``: the student owes money; close the course until they pay."""
    lms.revoke(*_who(system, event))


def on_access_restored(system: PaymentSystem, lms: Lms, event: DomainEvent) -> None:
    """``access.restored`` (and ``access.granted``): open the course."""
    lms.grant(*_who(system, event))
