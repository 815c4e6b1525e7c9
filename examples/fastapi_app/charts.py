"""A revenue-over-time bar chart as inline SVG, rendered on the server (no scripts)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from enrollpay import Money
from enrollpay.reports import RevenueRow

__all__ = ["revenue_svg"]

WIDTH = 720
HEIGHT = 240
MARGIN_LEFT = 70
MARGIN_BOTTOM = 36
MARGIN_TOP = 14


def revenue_svg(
    rows: Sequence[RevenueRow],
    currency: str,
    *,
    label: Callable[[RevenueRow], str],
    money: Callable[[Money], str],
) -> str:
    """Net revenue per period in ``currency`` as bars (refunds drawn below the axis line).

    Bar heights are proportional to minor units (integers); only the pixel
    positions are fractional, never the money.
    """
    picked = [r for r in rows if r.currency == currency]
    title = f"Net revenue per period ({escape(currency)})"
    if not picked:
        return (
            f'<svg role="img" aria-label="{title}" width="{WIDTH}" height="60" '
            f'xmlns="http://www.w3.org/2000/svg"><text x="10" y="30">No revenue yet.</text></svg>'
        )
    top = max([*(r.gross.minor for r in picked), 1])
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = (WIDTH - MARGIN_LEFT - 10) / len(picked)
    bar = max(slot * 0.6, 4)
    base = MARGIN_TOP + plot_h
    parts = [
        f'<svg id="revenue-chart" role="img" aria-label="{title}" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{title}</title>",
        f'<line x1="{MARGIN_LEFT}" y1="{base}" x2="{WIDTH - 10}" y2="{base}" stroke="#98a2b3"/>',
        f'<text x="{MARGIN_LEFT - 6}" y="{MARGIN_TOP + 4}" text-anchor="end">'
        f"{escape(money(Money(top, currency)))}</text>",
        f'<text x="{MARGIN_LEFT - 6}" y="{base}" text-anchor="end">'
        f"{escape(money(Money(0, currency)))}</text>",
    ]
    for n, row in enumerate(picked):
        x = MARGIN_LEFT + n * slot + (slot - bar) / 2
        gross_h = plot_h * row.gross.minor / top
        net_h = plot_h * max(row.net.minor, 0) / top
        tip = escape(
            f"{label(row)}: gross {money(row.gross)}, refunded {money(row.refunded)}, "
            f"net {money(row.net)}"
        )
        parts += [
            f'<g class="bar"><title>{tip}</title>',
            f'<rect x="{x:.1f}" y="{base - gross_h:.1f}" width="{bar:.1f}" '
            f'height="{gross_h:.1f}" fill="#c9d7fb"/>',
            f'<rect x="{x:.1f}" y="{base - net_h:.1f}" width="{bar:.1f}" '
            f'height="{net_h:.1f}" fill="#2f5bd3"/></g>',
            f'<text x="{x + bar / 2:.1f}" y="{base + 16}" text-anchor="middle">'
            f"{escape(label(row))}</text>",
        ]
    parts += [
        f'<rect x="{MARGIN_LEFT}" y="{HEIGHT - 12}" width="10" height="10" fill="#2f5bd3"/>',
        f'<text x="{MARGIN_LEFT + 14}" y="{HEIGHT - 3}">net</text>',
        f'<rect x="{MARGIN_LEFT + 50}" y="{HEIGHT - 12}" width="10" height="10" fill="#c9d7fb"/>',
        f'<text x="{MARGIN_LEFT + 64}" y="{HEIGHT - 3}">gross (refunds = difference)</text>',
        "</svg>",
    ]
    return "".join(parts)
