"""The errors of payers (see :mod:`enrollpay.domain.payers`).

Kept apart from :mod:`enrollpay.errors` (which is near the module size
limit); every class derives from the library's roots, so ``except
ValueError``, ``except LookupError`` and ``except EnrollpayError`` catch
them as usual.
"""

from __future__ import annotations

from enrollpay.errors import InvalidInputError, NotFoundError

__all__ = ["PayerError", "PayerNotFoundError", "PayerShareError", "PayerSplitError"]


class PayerError(InvalidInputError):
    """A payer record is malformed (kind, name, e-mail, ids)."""


class PayerShareError(PayerError):
    """The shares of one enrollment do not add up to 100%, or name a payer twice."""


class PayerSplitError(PayerError):
    """A payer's share of the price is too small to charge (below the gateway's minimum)."""


class PayerNotFoundError(NotFoundError):
    """No payer has this id."""

    kind = "payer"
