"""The pytest plugin reaches users through the pytest11 entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

USER_TEST = '''
from enrollpay import Money


def test_my_app_enrolls(enrollpay_system, enrollpay_gateway, enrollpay_clock):
    """A user's test using the plugin's fixtures."""
    product = enrollpay_system.register_product(
        product_type="course", product_id="c", name="C", price=Money.of("10", "USD"))
    result = enrollpay_system.enroll(user_id="u", product_id=product.id)
    enrollpay_gateway.complete_payment(result.client_secret)
    enrollpay_gateway.deliver(enrollpay_system)
    assert enrollpay_system.get_enrollment(result.enrollment_id).status == "completed"
    assert enrollpay_clock.now().year == 2027
'''


def test_a_users_test_suite_gets_the_fixtures(tmp_path: Path) -> None:
    """A plain pytest run in another project finds enrollpay_system and friends."""
    (tmp_path / "test_user.py").write_text(USER_TEST)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
