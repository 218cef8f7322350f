"""Shared test fixtures: committed real-speech media and one ingested library.

Two tiers: `pytest -m "not slow"` runs in well under a minute because tests
of the CLI, batches, search and export ingest with `fake_engine` (the
fixtures' true words, see fake_engine.py) while ffmpeg, diarization and
whoosh stay real; tests marked `slow` load a real recognizer. The library
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

from fake_engine import FakeEngine, install

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


@pytest.fixture
def fake_engine(monkeypatch) -> list[FakeEngine]:
    """Ingestor, and the CLI run in process, recognise with FakeEngine; returns the engines loaded."""
    return install(monkeypatch)


@pytest.fixture(scope="session")
def ingested(tmp_path_factory) -> Path:
    """A library with two_voices and three_voices ingested by the real CLI (fake engine, real diarization)."""
    lib = tmp_path_factory.mktemp("library")
    media = tmp_path_factory.mktemp("media")
    for name in ("two_voices.mp4", "three_voices.mp4"):
        shutil.copy(fixture(name), media / name)
    with pytest.MonkeyPatch.context() as mp:
        install(mp)
        result = run_cli("ingest", str(media / "two_voices.mp4"), str(media / "three_voices.mp4"),
                         "--language", "en", "--json", library=lib)  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["done"] == 2, summary
    return lib


@pytest.fixture(scope="session")
def fw():
    """The real faster-whisper engine on the packaged base weights, loaded once per test process."""
    from pipeline.asr import load_engine

    return load_engine("faster-whisper", "base")


def timed_words(result) -> list[tuple[str, float, float]]:
    """(word, start, end) of every word of a transcription result, in order."""
    return [(w.word, w.start, w.end) for s in result.segments for w in s.words]


def video_id(lib: Path, name: str) -> str:
    rows = json.loads(run_cli("list", "--json", library=lib).stdout)
    return next(r["video"] for r in rows if Path(r["path"]).name == name)
