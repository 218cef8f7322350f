"""Shared test fixtures: committed real-speech media and one ingested library.

Ingesting costs seconds of real Whisper and diarization work, so the library
built from two_voices and three_voices is made once per session and shared
by the read-only tests (search, export, list). Tests that change a library
make their own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Path:
    return FIXTURES / name


def truth(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.truth.json").read_text())


def truth_word(name: str, word: str, nth: int = 0) -> dict:
    """The nth spoken occurrence of `word` (case-insensitive) in a fixture's truth."""
    hits = [w for w in truth(name)["words"] if w["word"].strip(".,?!").lower() == word.lower()]
    return hits[nth]


def run_cli(*args: str, library: Path | None = None, input: str | None = None):
    argv = list(args) + (["--library", str(library)] if library is not None else [])
    return CliRunner().invoke(main, argv, input=input, catch_exceptions=False)


@pytest.fixture(scope="session")
def ingested(tmp_path_factory) -> Path:
    """A library with two_voices and three_voices ingested by the real CLI."""
    lib = tmp_path_factory.mktemp("library")
    media = tmp_path_factory.mktemp("media")
    for name in ("two_voices.mp4", "three_voices.mp4"):
        shutil.copy(fixture(name), media / name)
    result = run_cli("ingest", str(media / "two_voices.mp4"), str(media / "three_voices.mp4"),
                     "--language", "en", "--json", library=lib)  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["done"] == 2, summary
    return lib


def video_id(lib: Path, name: str) -> str:
    rows = json.loads(run_cli("list", "--json", library=lib).stdout)
    return next(r["video"] for r in rows if Path(r["path"]).name == name)
