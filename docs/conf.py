"""Sphinx configuration of jmimpute's documentation site (``make docs``).

The pages are Markdown (MyST) and the example notebooks, which live in ``examples/`` and
are rendered as stored, without running them; the API reference is generated from the
numpydoc docstrings of the public surface.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import jmimpute

if TYPE_CHECKING:
    from sphinx.application import Sphinx

# autodoc imports the modules that load PyTensor, whose configuration logs at INFO
logging.getLogger("pytensor").setLevel(logging.WARNING)

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

project = "jmimpute"
author = "the jmimpute developers"
copyright = "the jmimpute developers"
release = jmimpute.__version__
version = release

extensions = [
    "myst_nb",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
]

# -- the example notebooks: copied from examples/ on every build, never executed ---------
NOTEBOOKS = DOCS / "_notebooks"
"""Where the notebooks of ``examples/`` are copied (ignored by git)."""


def _copy_notebooks() -> None:
    # a fresh copy each build, so a notebook removed from examples/ leaves no stale page
    shutil.rmtree(NOTEBOOKS, ignore_errors=True)
    NOTEBOOKS.mkdir()
    for notebook in sorted((ROOT / "examples").glob("*.ipynb")):
        shutil.copy2(notebook, NOTEBOOKS / notebook.name)


_copy_notebooks()

nb_execution_mode = "off"
# .rst first: autosummary writes its generated pages with the first suffix
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

exclude_patterns = ["_build", "**.ipynb_checkpoints"]
templates_path = ["_templates"]

# -- API reference ----------------------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"  # numpydoc's Parameters sections state the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False  # the class template lists the members
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()  # ruff's pydocstyle checks the docstrings
numpydoc_xref_param_type = False


def _check_listed(app: Sphinx) -> None:
    """Warn (an error under ``-W``) where a page has fallen behind the code it documents.

    Every public name of ``jmimpute.__all__`` must appear in the API reference, and every
    table and key of the model-file schema in the model-file guide.
    """
    from sphinx.util import logging as sphinx_logging

    from jmimpute.spec.modelfile import SCHEMA

    log = sphinx_logging.getLogger(__name__)
    api = (DOCS / "api" / "index.rst").read_text(encoding="utf-8")
    listed = {line.strip() for line in api.splitlines()}
    for name in sorted(set(jmimpute.__all__) - {"__version__"}):
        if name not in listed:
            log.warning(
                "jmimpute.__all__ has %r, which docs/api/index.rst does not list; add it "
                "to one of its autosummary tables",
                name,
            )
    guide = (DOCS / "guide" / "modelfiles.md").read_text(encoding="utf-8")
    for table, keys in SCHEMA.items():
        for key in (f"[{table}]", *keys):
            if f"`{key}`" not in guide:
                log.warning(
                    "the model-file key %s of [%s] is not described in docs/guide/modelfiles.md",
                    key,
                    table,
                )


def setup(app: Sphinx) -> None:
    """Sphinx's entry point for this configuration: the checks above."""
    app.connect("builder-inited", _check_listed)


# -- HTML ---------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"jmimpute {release}"
html_static_path: list[str] = []
