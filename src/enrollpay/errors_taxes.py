"""The errors of taxes (see :mod:`enrollpay.domain.taxes` and :mod:`enrollpay.ports.taxes`).

Kept apart from :mod:`enrollpay.errors` (which is near the module size
limit); every class derives from the same roots, so ``except ValueError``
and ``except EnrollpayError`` catch them as usual.
"""

from __future__ import annotations

from enrollpay.errors import EnrollpayError, InvalidInputError

__all__ = [
    "TaxCalculationError",
    "TaxError",
    "TaxServiceUnavailableError",
    "UnknownJurisdictionError",
]


class TaxError(InvalidInputError):
    """A tax rate, address, mode or line is malformed, or tax cannot apply here."""


class UnknownJurisdictionError(TaxError):
    """The tax table has no rate for the buyer's address (and no default for unknown places)."""

    def __init__(self, jurisdictions: tuple[str, ...]) -> None:
        super().__init__(f"no tax rate for {' or '.join(jurisdictions)}")
        self.jurisdictions = jurisdictions


class TaxCalculationError(EnrollpayError):
    """The tax service refused the calculation; ``code`` is its reason (Stripe's error code)."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class TaxServiceUnavailableError(TaxCalculationError, ConnectionError):
    """The tax service did not answer; nothing was enrolled, so enrolling again is safe."""
