"""Run the worked examples in the documentation as tests.

Every ```` ```python ```` block in ``docs/**/*.md`` that starts with a ``>>>``
prompt is a doctest session: Sybil runs it and compares the printed output
with what the page shows. A ``python`` block without prompts is executed as
plain code (setup that the reader sees). Blocks of the same page share one
namespace, in page order. To show a block without running it, put
``% skip: next`` on the line before it (a MyST comment, invisible in HTML).

Sybil's MyST ``PythonCodeBlockParser`` only looks at ``python`` fences, so
sessions must be written as ```` ```python ````, not ```` ```pycon ````;
Sphinx highlights a ``python`` block that starts with ``>>>`` as a console
session anyway.
"""

from doctest import ELLIPSIS

from sybil import Sybil
from sybil.parsers.myst import PythonCodeBlockParser, SkipParser

pytest_collect_file = Sybil(
    parsers=[
        PythonCodeBlockParser(doctest_optionflags=ELLIPSIS),
        SkipParser(),
    ],
    patterns=["*.md"],
).pytest()

# The HTML build is output, not source: never collect anything below it.
collect_ignore = ["_build", "_generated"]
