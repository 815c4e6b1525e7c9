"""The words of a receipt in each language it is written in (en, fr, de, ja).

Amounts and dates are not words: babel writes them for the reader's locale.
A locale whose language has no labels here is written in English.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["LABELS", "labels_for"]

_EN: Final = {
    "receipt": "Receipt",
    "credit_note": "Credit note",
    "number": "Number",
    "issued": "Issued",
    "paid_on": "Paid on",
    "refunded_on": "Refunded on",
    "student": "Student",
    "payer": "Paid by",
    "product": "Course",
    "method": "Payment method",
    "reference": "Reference",
    "description": "Description",
    "amount": "Amount",
    "total": "Total paid",
    "total_credit": "Total refunded",
    "refers_to": "Refers to receipt",
    "deposit": "Deposit",
    "installment": "Installment {seq}",
    "full": "Full payment",
    "period": "Period {seq}",
    "refund": "Refund",
    "due": "due {date}",
    "gateway": "Card",
    "cash": "Cash",
    "check": "Check",
    "bank_transfer": "Bank transfer",
    "other": "Other",
    "manual": "Refunded by hand",
    "net": "Net",
    "tax": "Tax {jurisdiction} {rate}",
}

_FR: Final = {
    "receipt": "Reçu",
    "credit_note": "Avoir",
    "number": "Numéro",
    "issued": "Émis le",
    "paid_on": "Payé le",
    "refunded_on": "Remboursé le",
    "student": "Élève",
    "payer": "Payé par",
    "product": "Formation",
    "method": "Moyen de paiement",
    "reference": "Référence",
    "description": "Désignation",
    "amount": "Montant",
    "total": "Total payé",
    "total_credit": "Total remboursé",
    "refers_to": "Se rapporte au reçu",
    "deposit": "Acompte",
    "installment": "Échéance {seq}",
    "full": "Paiement intégral",
    "period": "Période {seq}",
    "refund": "Remboursement",
    "due": "exigible le {date}",
    "gateway": "Carte",
    "cash": "Espèces",
    "check": "Chèque",
    "bank_transfer": "Virement",
    "other": "Autre",
    "manual": "Remboursé manuellement",
    "net": "Montant hors taxes",
    "tax": "Taxe {jurisdiction} {rate}",
}

_DE: Final = {
    "receipt": "Quittung",
    "credit_note": "Gutschrift",
    "number": "Nummer",
    "issued": "Ausgestellt am",
    "paid_on": "Bezahlt am",
    "refunded_on": "Erstattet am",
    "student": "Teilnehmer",
    "payer": "Bezahlt von",
    "product": "Kurs",
    "method": "Zahlungsart",
    "reference": "Referenz",
    "description": "Beschreibung",
    "amount": "Betrag",
    "total": "Gesamt bezahlt",
    "total_credit": "Gesamt erstattet",
    "refers_to": "Bezieht sich auf Quittung",
    "deposit": "Anzahlung",
    "installment": "Rate {seq}",
    "full": "Vollzahlung",
    "period": "Zeitraum {seq}",
    "refund": "Erstattung",
    "due": "fällig am {date}",
    "gateway": "Karte",
    "cash": "Bar",
    "check": "Scheck",
    "bank_transfer": "Überweisung",
    "other": "Sonstige",
    "manual": "Manuell erstattet",
    "net": "Nettobetrag",
    "tax": "Steuer {jurisdiction} {rate}",
}

_JA: Final = {
    "receipt": "領収書",
    "credit_note": "返金明細書",
    "number": "番号",
    "issued": "発行日",
    "paid_on": "支払日",
    "refunded_on": "返金日",
    "student": "受講者",
    "payer": "支払者",
    "product": "コース",
    "method": "支払方法",
    "reference": "参照番号",
    "description": "内容",
    "amount": "金額",
    "total": "お支払い合計",
    "total_credit": "返金合計",
    "refers_to": "対象の領収書",
    "deposit": "手付金",
    "installment": "第{seq}回分割払い",
    "full": "一括払い",
    "period": "第{seq}期",
    "refund": "返金",
    "due": "支払期日 {date}",
    "gateway": "カード",
    "cash": "現金",
    "check": "小切手",
    "bank_transfer": "銀行振込",
    "other": "その他",
    "manual": "手動返金",
    "net": "税抜金額",
    "tax": "税 {jurisdiction} {rate}",
}

#: Labels by language.
LABELS: Final[Mapping[str, Mapping[str, str]]] = {"en": _EN, "fr": _FR, "de": _DE, "ja": _JA}


def labels_for(language: str) -> Mapping[str, str]:
    """The labels of ``language`` (English when there are none)."""
    return LABELS.get(language, _EN)
