"""Sphinx configuration for the enrollpay documentation.

Build with warnings as errors::

    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

from importlib.metadata import version as _version

project = "enrollpay"
author = "The enrollpay developers"
copyright = "The enrollpay developers"
release = _version("enrollpay")
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]

# -- MyST ---------------------------------------------------------------------

myst_enable_extensions = [
    "deflist",  # "term\n: definition" lists for policy fields and options
]
# Give h1-h3 slugs so pages can link to each other's sections: [text](money.md#allocation).
myst_heading_anchors = 3

# -- autodoc ------------------------------------------------------------------

autodoc_member_order = "bysource"
add_module_names = False
python_use_unqualified_type_names = True

# -- HTML ---------------------------------------------------------------------

html_theme = "furo"
html_title = f"enrollpay {release}"

# -- generated pages ----------------------------------------------------------
# The state diagrams in architecture.md and the event catalogue in
# howto/integrating.md come from the code at every build, so they cannot drift.


def _write_state_pages() -> None:
    from pathlib import Path  # noqa: PLC0415 - build-time only

    from enrollpay.domain.transitions import MACHINES  # noqa: PLC0415

    out = Path(__file__).parent / "_generated"
    out.mkdir(exist_ok=True)
    parts = []
    for machine in MACHINES.values():
        parts.append(f"### The {machine.record}\n")
        parts.append("| transition | from | to | meaning |")
        parts.append("|---|---|---|---|")
        for move in machine.transitions.values():
            sources = ", ".join(f"`{s}`" for s in sorted(move.sources))
            targets = ", ".join(f"`{s}`" for s in sorted(move.targets)) or "(status kept)"
            parts.append(f"| `{move.name}` | {sources} | {targets} | {move.doc} |")
        initial = ", ".join(f"`{s}`" for s in sorted(machine.initial))
        terminal = ", ".join(f"`{s}`" for s in sorted(machine.terminal())) or "none"
        parts.append(f"\nStarts in {initial}; terminal: {terminal}.\n")
        parts.append("```text\n" + machine.mermaid() + "\n```\n")
    text = "\n".join(parts)
    target = out / "state-machines.md"
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")


_write_state_pages()


def _write_event_catalogue() -> None:
    # The event catalogue of howto/integrating.md, from the library's own tables.
    from pathlib import Path  # noqa: PLC0415 - build-time only

    from enrollpay.integrations.catalogue import event_catalogue  # noqa: PLC0415

    target = Path(__file__).parent / "_generated" / "events.md"
    target.parent.mkdir(exist_ok=True)
    text = event_catalogue()
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")


_write_event_catalogue()
