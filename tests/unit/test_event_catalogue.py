"""The event catalogue the docs include is made from the library's own tables, and complete."""

from __future__ import annotations

import runpy
from pathlib import Path

from enrollpay.domain.events import EVENT_KINDS
from enrollpay.integrations.catalogue import event_catalogue, notifications_by_event
from enrollpay.notifications import NOTIFICATION_KINDS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def rows() -> dict[str, list[str]]:
    """The catalogue's table rows, by kind: [meaning, notification]."""
    found = {}
    for line in event_catalogue().splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            found[cells[0].strip("`")] = cells[1:]
    return found


def test_every_emitted_kind_has_one_row_with_its_meaning() -> None:
    """No kind left out, none invented, each described as EVENT_KINDS describes it."""
    table = rows()
    assert sorted(table) == sorted(EVENT_KINDS)
    assert {kind: cells[0] for kind, cells in table.items()} == {
        kind: text.replace("|", "\\|") for kind, text in EVENT_KINDS.items()
    }


def test_each_notification_kind_is_listed_against_its_event() -> None:
    """The notification column names exactly the kinds the notifications handler sends."""
    table = rows()
    for kind in NOTIFICATION_KINDS.values():
        if kind.event_kind in EVENT_KINDS:
            assert f"`{kind.name}`" in table[kind.event_kind][1]
        else:  # a kind whose event is still to come: said so, not listed as an event
            assert f"`{kind.name}` (on `{kind.event_kind}`)" in event_catalogue()
            assert kind.event_kind not in table
    silent = [k for k, cells in table.items() if cells[1] == "none"]
    assert set(silent) == set(EVENT_KINDS) - set(notifications_by_event())
    # Receipts exist now: receipt.issued is an event kind, listed with its notification.
    assert table["receipt.issued"][1] == "`receipt_issued`"
    assert "waiting for events" not in event_catalogue()
    assert table["access.suspended"][1] == "`access_suspended`"


def test_families_are_headed_and_sorted() -> None:
    """One heading per family (``access.*``, ...), in alphabetical order."""
    headings = [line for line in event_catalogue().splitlines() if line.startswith("### ")]
    families = sorted({k.partition(".")[0] for k in EVENT_KINDS})
    assert headings == [f"### `{family}.*`" for family in families]


def test_the_docs_build_writes_it_and_the_integrating_page_includes_it() -> None:
    """conf.py regenerates _generated/events.md at every build; the page includes that file."""
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert "event_catalogue()" in conf
    assert '"_generated" / "events.md"' in conf
    page = (DOCS / "howto" / "integrating.md").read_text(encoding="utf-8")
    assert "```{include} ../_generated/events.md" in page
    # What the build writes is the catalogue as the code has it now (conf.py is
    # what sphinx-build executes first).
    runpy.run_path(str(DOCS / "conf.py"))
    generated = DOCS / "_generated" / "events.md"
    assert generated.read_text(encoding="utf-8") == event_catalogue()
