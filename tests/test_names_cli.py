"""Names through the real CLI: a made-up name the recognizer misspells ("Vellacourt",
which Whisper base writes "Melacort") is found by sound, and written right with a glossary."""

from __future__ import annotations

import json

import pytest

from conftest import fixture, run_cli, truth

pytestmark = pytest.mark.slow  # what Whisper writes for the name is the point: the real recognizer


def spoken_times() -> list[float]:
    return [w["start"] for w in truth("made_up_name")["words"] if w["word"].strip(".,").lower() == "vellacourt"]


def test_search_hears_a_misspelled_name_without_a_glossary(tmp_path):
    lib = tmp_path / "lib"
    assert run_cli("ingest", str(fixture("made_up_name.mp4")), "--language", "en", library=lib).exit_code == 0
    hits = json.loads(run_cli("search", "Vellacourt", "--json", library=lib).stdout)
    assert len(hits) == 3
    assert all(h["match"] in ("phonetic", "fuzzy") for h in hits)
    for t in spoken_times():
        assert min(abs(h["start"] - t) for h in hits) < 1.0
    human = run_cli("search", "Vellacourt", library=lib)
    assert "no exact match" in human.stderr and "did you mean" in human.stderr
    exact = run_cli("search", "Vellacourt", "--exact", "--json", library=lib)
    assert json.loads(exact.stdout) == []
    # Exact words still rank above sounds-alike ones.
    ranked = json.loads(run_cli("search", "boat OR Vellacourt", "--json", library=lib).stdout)
    kinds = [h["match"] for h in ranked]
    assert kinds[0] in ("exact", "stem") and kinds == sorted(kinds, key=["exact", "stem", "phonetic", "fuzzy"].index)


def test_glossary_makes_the_recognizer_write_the_name(tmp_path):
    lib = tmp_path / "lib"
    terms = tmp_path / "names.txt"
    terms.write_text("# companies\nVellacourt\n")
    assert run_cli("glossary", "add", "Port Ellis", library=lib).stdout.split("\n")[0] == "Port Ellis"
    assert run_cli("glossary", "list", library=lib).stdout == "Port Ellis\n"
    result = run_cli("ingest", str(fixture("made_up_name.mp4")), "--language", "en", "--glossary", str(terms),
                     library=lib)  # fmt: skip
    assert result.exit_code == 0, result.output
    hits = json.loads(run_cli("search", "Vellacourt", "--json", "--exact", library=lib).stdout)
    assert len(hits) == 3 and all(h["match"] == "exact" for h in hits)
    for t in spoken_times():
        assert min(abs(h["start"] - t) for h in hits) < 1.0
    assert run_cli("glossary", "remove", "port ellis", library=lib).stdout == ""
    missing = run_cli("ingest", str(fixture("two_voices.mp4")), "--glossary", str(tmp_path / "nope.txt"), library=lib)
    assert missing.exit_code == 1 and "nope.txt" in missing.stderr
