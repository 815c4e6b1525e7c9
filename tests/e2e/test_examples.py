"""The examples run as a user would run them, in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_prints_the_schedule_payments_and_refund_quote() -> None:
    """examples/quickstart.py walks the seed's flow and prints real figures."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines = run.stdout.splitlines()
    assert "  1. deposit     2027-03-15    $60.00" in lines
    assert "  4. installment 2027-06-15    $79.99" in lines
    assert "Webhook payment_intent.succeeded: processed" in lines
    assert "Status active, paid 140.00 USD, still owed 159.99 USD" in lines
    assert any(line.startswith("  Refund") and line.endswith("$114.59") for line in lines)
    assert lines[-1] == "Audit trail intact: True"
    assert run.stderr == ""
