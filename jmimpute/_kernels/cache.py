"""Keys under which PyTensor caches the Numba code of jmimpute's Ops on disk.

PyTensor keys a compiled Op by what its dispatcher returns. A fixed string would outlive a
change of the Op's code, or a move of its module (the cached code then imports a module
that no longer exists), and reload stale machine code. The key below hashes the source
files the code comes from and names the module, so either change compiles afresh.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

_HERE = Path(__file__).parent


@functools.cache
def source_key(tag: str, *files: str) -> str:
    """``jmimpute-<tag>-<sha256 of this package's files and their module paths>``.

    Parameters
    ----------
    tag : str
        Names the Op in the key (for reading a cache listing).
    *files : str
        File names in :mod:`jmimpute._kernels` whose source the Op's code depends on.
    """
    digest = hashlib.sha256(__name__.encode())
    for name in files:
        digest.update(name.encode())
        digest.update((_HERE / name).read_bytes())
    return f"jmimpute-{tag}-{digest.hexdigest()}"


COLLAPSED_SOURCES = (
    "kernel.py",
    "kernel_latent.py",
    "convention.py",
    "_frame.py",
    "entry.py",
    "ops.py",
)
"""The files the collapsed likelihood's compiled code comes from."""


def collapsed_key() -> str:
    """The cache key of the collapsed likelihood, a hash of the source it is compiled from.

    It also names the kernel's entry symbol (:func:`.entry.entry_symbol`), so it hashes the
    convention and the generated frame code: a change of convention never reuses machine
    code compiled for the old one.
    """
    return source_key("collapsed", *COLLAPSED_SOURCES)
