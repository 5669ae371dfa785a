"""Sphinx configuration of rnnkit's documentation site (`make docs` -> docs/_build/html).

Offline by design: no intersphinx, no binder, nothing fetched. The tutorials in
docs/tutorials/ are sphinx-gallery scripts executed at every build (a failing one fails the
build); the Markdown pages are read by MyST; the API reference is autodoc + napoleon over
`rnnkit.__all__` (docs/api.rst, kept in step by tests/test_docs_pages.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the tutorials' figures are drawn without a display

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT / "src"))  # the checkout's sources, not an installed rnnkit

import rnnkit  # noqa: E402

project = "rnnkit"
author = "the rnnkit authors"
copyright = "the rnnkit authors, MIT licence"
release = rnnkit.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "tutorials/README.rst", "tutorials/*.py"]
templates_path: list[str] = []

# MyST: `{note}`-style fences and heading anchors for the guide pages' #links.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# autodoc + napoleon: Google-style docstrings; "Shape:" is a section of its own.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = [("Shape", "params_style")]

sphinx_gallery_conf = {
    "examples_dirs": "tutorials",
    "gallery_dirs": "auto_tutorials",
    "filename_pattern": r".*\.py$",  # execute every tutorial
    "ignore_pattern": r"__init__\.py",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "plot_gallery": "True",
    "download_all_examples": False,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "write_computation_times": True,
    "show_memory": False,
    "show_signature": False,
    "backreferences_dir": None,
    "doc_module": (),
    "reference_url": {},
    "min_reported_time": 0,
}

html_theme = "pydata_sphinx_theme"
html_title = f"rnnkit {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_end": ["navbar-icon-links"],
    "icon_links": [],
    "footer_start": ["copyright"],
    "footer_end": [],
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False
html_copy_source = False

# The tutorials read the shared data folder (`make docs` checks it before Sphinx starts),
# write what the docs test reads into docs/_build/results, and start subprocesses (rnnkit
# serve, the torch-free runtime) on the checkout's sources too.
os.environ.setdefault("RNNKIT_DATA", str(ROOT.parent / "shared" / "data"))
os.environ["RNNKIT_DOCS_RESULTS"] = str(DOCS / "_build" / "results")
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
)
