"""A receipt as an HTML page, from a :class:`string.Template` (no template engine needed).

Every value is escaped; the page carries the reader's language in
``<html lang>`` and prints well (one A4/Letter page, no scripts).
"""

from __future__ import annotations

from html import escape
from string import Template
from typing import Final

from enrollpay.receipts.view import ReceiptView

__all__ = ["PAGE", "render_html"]

#: The page; ``$rows`` and ``$lines`` are pre-rendered (escaped) table rows.
PAGE: Final = Template("""<!DOCTYPE html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<title>$title $number</title>
<style>
body { font-family: sans-serif; max-width: 40rem; margin: 2rem auto; color: #222; }
h1 { font-size: 1.4rem; margin-bottom: 0; }
.issuer { font-weight: bold; font-size: 1.1rem; }
table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; }
td.amount, th.amount { text-align: right; }
tr.total td { font-weight: bold; border-top: 2px solid #222; }
</style>
</head>
<body>
<p class="issuer">$issuer</p>
<h1>$title <span class="number">$number</span></h1>
<table class="fields">
$rows
</table>
<table class="lines">
<tr><th>$description_label</th><th class="amount">$amount_label</th></tr>
$lines
<tr class="total"><td>$total_label</td><td class="amount">$total</td></tr>
</table>
</body>
</html>
""")


def render_html(view: ReceiptView) -> str:
    """The HTML page of a receipt written for its reader."""
    rows = "\n".join(
        f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>" for label, value in view.fields
    )
    lines = "\n".join(
        f'<tr><td>{escape(what)}</td><td class="amount">{escape(amount)}</td></tr>'
        for what, amount in view.lines
    )
    return PAGE.substitute(
        lang=escape(view.language),
        title=escape(view.title),
        number=escape(view.number),
        issuer=escape(view.issuer),
        rows=rows,
        lines=lines,
        description_label=escape(view.description_label),
        amount_label=escape(view.amount_label),
        total_label=escape(view.total_label),
        total=escape(view.total),
    )
