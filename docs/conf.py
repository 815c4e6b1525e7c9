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
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

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
