"""The ``enrollpay`` command line (needs the ``cli`` extra: click and rich).

Only the console script imports this package; the library never does.
"""

from enrollpay.cli.app import cli, main

__all__ = ["cli", "main"]
