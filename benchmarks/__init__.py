"""How close each hot path of enrollpay runs to its raw limit (issue 8).

``python -m benchmarks`` (or ``nox -s bench``) runs every case, prints a
table and writes JSON; ``--quick`` uses small sizes, ``--case NAME`` runs
one case. See docs/performance.md for the cases and the latest numbers.
"""
