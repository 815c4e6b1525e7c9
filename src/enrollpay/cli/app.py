"""The root ``enrollpay`` group, its error handling, and :func:`main`.

Errors are one line on standard error, never a traceback:

- a usage error (unknown option, bad value, a malformed amount): exit 2;
- an error from the library or the system (the database, the gateway's
  configuration, an invalid plan): exit 3, or 2 when it is about the input;
- a command that ran but found something needing attention (a declined
  payment, a broken audit chain) exits 1 and says why on standard output;
  ``reconcile`` exits 1 when it fixed drift and 2 when drift needs a person
  (:mod:`enrollpay.cli.drift`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from enrollpay.cli.calc import plan, refund
from enrollpay.cli.coupons import coupons
from enrollpay.cli.demo import demo
from enrollpay.cli.events import events
from enrollpay.cli.ops import audit, collect, db, reconcile, sweep
from enrollpay.cli.payers import payers
from enrollpay.cli.planchange import change
from enrollpay.cli.receipts import receipt
from enrollpay.cli.reporting import report
from enrollpay.cli.seats import seats
from enrollpay.errors import EnrollpayError, InvalidInputError

__all__ = ["EXIT_ERROR", "EXIT_USAGE", "EnrollpayGroup", "cli", "main"]

#: Exit status of a usage error (click's convention).
EXIT_USAGE = 2
#: Exit status when a command could not do its job.
EXIT_ERROR = 3


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fail(message: str, code: int) -> int:
    click.echo(f"Error: {_one_line(message)}", err=True)
    return code


def _usage_hint(exc: click.UsageError) -> str:
    if exc.ctx is None:
        return ""
    return f" (see '{exc.ctx.command_path} --help')"


class EnrollpayGroup(click.Group):
    """A group whose errors are one line on standard error, never a traceback."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; with ``standalone_mode`` exit with its status."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            code = _fail(exc.format_message() + _usage_hint(exc), exc.exit_code)
        except click.ClickException as exc:
            code = _fail(exc.format_message(), exc.exit_code)
        except click.Abort:
            code = _fail("aborted", 130)
        except InvalidInputError as exc:
            code = _fail(str(exc), EXIT_USAGE)
        except EnrollpayError as exc:
            code = _fail(str(exc), EXIT_ERROR)
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as Unix tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            code = 1
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            code = _fail(f"{exc.strerror or exc}{where}", EXIT_ERROR)
        else:
            code = result if isinstance(result, int) else 0
        sys.exit(code)


@click.group(cls=EnrollpayGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="enrollpay", prog_name="enrollpay")
def cli() -> None:
    """Sell course enrollments on payment plans: run, inspect and try enrollpay.

    \b
    Try it:      enrollpay demo
    Operate it:  enrollpay db upgrade | collect | sweep | reconcile | audit verify
    Integrate:   enrollpay events list | dispatch
    Inspect it:  enrollpay report {revenue,status,products,aging,forecast,recovery}
    Plan it:     enrollpay plan preview [--coupon] [--tax] | refund quote | coupons | seats
    Who pays:    enrollpay payers add | list | statement ID
    Change it:   enrollpay plan change ENROLLMENT PLAN_SPEC [--preview]
    Give it:     enrollpay receipt ID [--pdf FILE]

    \b
    Exit status: 0 done; 1 done, but something needs attention (a decline,
                 a broken audit chain; reconcile: drift fixed); 2 usage
                 error (reconcile: also drift that needs a person); 3 the
                 command could not do its job (database, gateway, ...).
    """  # noqa: D301 - click needs a real \b to keep a block verbatim


cli.add_command(demo)
cli.add_command(db)
cli.add_command(collect)
cli.add_command(reconcile)
cli.add_command(sweep)
cli.add_command(report)
plan.add_command(change)
cli.add_command(plan)
cli.add_command(coupons)
cli.add_command(payers)
cli.add_command(seats)
cli.add_command(refund)
cli.add_command(audit)
cli.add_command(events)
cli.add_command(receipt)


def main() -> None:
    """The ``enrollpay`` console script."""
    cli.main(prog_name="enrollpay")
