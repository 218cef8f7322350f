"""Matching real voices across recordings: two clips cut from the committed real_two_voices fixture.

real_two_voices (LibriSpeech 2033 and 2414, see tests/fixtures/README.md) is
cut in two with the real ffmpeg: clip A (0-12.3 s) is mostly 2033, clip B
(12.3 s to the end) has both readers at length. The voices diarization hands
out for B are named; in A, 2033 must be recognised and not taken for 2414.
"""

from __future__ import annotations

import subprocess

import pytest

from media.binaries import ffmpeg_exe
from pipeline.people.match import THRESHOLD, best_matches, similarity
from pipeline.people.store import Person, Print, Voice
from pipeline.speakers import diarize_file

from conftest import fixture


def read_rttm(path) -> list[tuple[float, float, str]]:
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(float(f[3]), float(f[3]) + float(f[4]), f[7]) for f in rows if len(f) >= 8 and f[0] == "SPEAKER"]


def _cut(tmp_path, name: str, start: float, end: float | None):
    out = tmp_path / f"{name}.wav"
    args = [ffmpeg_exe(), "-y", "-loglevel", "error", "-ss", str(start)] + (["-to", str(end)] if end else [])
    subprocess.run(args + ["-i", str(fixture("real_two_voices.mp4")), "-vn", "-ac", "1", "-ar", "16000", str(out)],
                   check=True)  # fmt: skip
    return out


def _reader_of(turns, rttm, offset: float) -> dict[str, str]:
    """Diarization label -> the reference speaker its turns overlap most."""
    out: dict[str, str] = {}
    for label in {t.label for t in turns}:
        overlap: dict[str, float] = {}
        for t in turns:
            if t.label == label:
                for a, b, who in rttm:
                    overlap[who] = overlap.get(who, 0.0) + max(0.0, min(b - offset, t.end) - max(a - offset, t.start))
        out[label] = max(overlap, key=overlap.get)
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("real_clips")
    rttm = read_rttm(fixture("real_two_voices.rttm"))
    a = diarize_file(_cut(tmp, "a", 0.0, 12.3))
    b = diarize_file(_cut(tmp, "b", 12.3, None))
    return (a, _reader_of(a, rttm, 0.0)), (b, _reader_of(b, rttm, 12.3))


def test_a_real_voice_named_in_one_clip_is_found_in_the_other(clips):
    (a, a_who), (b, b_who) = clips
    assert sorted(b_who.values()) == ["spk2033", "spk2414"]  # both readers heard in B
    people = {f"p-{who}": Person(f"p-{who}", who, [Print("b", label, b.voices[label][0])]) for label, who in
              b_who.items()}  # fmt: skip
    voices = {label: Voice(vector, n) for label, (vector, n) in a.voices.items()}
    found = best_matches("a", voices, people, {})
    assert found, [(who, similarity(voices[label].vector, people[f"p-{w}"])) for label, who in a_who.items()
                   for w in b_who.values()]  # fmt: skip
    for m in found:  # every suggestion is the right reader, above the threshold
        assert people[m.person].name == a_who[m.label] and THRESHOLD <= m.similarity <= 1.0
    reader_2033 = next(label for label, who in a_who.items() if who == "spk2033")
    assert any(m.label == reader_2033 for m in found)  # recall: the reader heard at length is found
    # the other reader's voice stays below the threshold: the margin is there on real voices
    assert similarity(voices[reader_2033].vector, people["p-spk2414"]) < THRESHOLD


def test_a_rejected_voice_is_not_suggested_and_a_confirmed_print_is_recognised(clips):
    from pipeline.people.match import confirmed_print, rejected

    (a, a_who), (b, b_who) = clips
    label = next(lab for lab, who in a_who.items() if who == "spk2033")
    voice = Voice(*a.voices[label])
    b_label = next(lab for lab, who in b_who.items() if who == "spk2033")
    person = Person("p-1", "Reader", [Print("b", b_label, b.voices[b_label][0])], [Print("a", label, voice.vector)])
    assert rejected(person, "a", voice.vector) and not rejected(person, "b", voice.vector)
    assert best_matches("a", {label: voice}, {"p-1": person}, {}) == []
    assert confirmed_print(person, "b", b.voices[b_label][0]) is not None  # the same voice of the same video
    assert confirmed_print(person, "a", voice.vector) is None  # another recording is a match, not the print


# -- voiceprints of another encoder ---------------------------------------------------------------
def _age(lib, video: str) -> None:
    """Make the library look written by the resemblyzer release: 256-number prints and voices, no encoder named."""
    import json

    import numpy as np

    rng = np.random.default_rng(0)
    people = lib / "people" / "people.json"
    data = json.loads(people.read_text())
    for p in data["people"]:
        for pr in p["prints"]:
            pr.pop("encoder")
            pr["vector"] = rng.standard_normal(256).tolist()
    people.write_text(json.dumps(data))
    voices = lib / "people" / "voices" / f"{video}.json"
    data = json.loads(voices.read_text())
    data.pop("encoder")
    for v in data["speakers"].values():
        v["vector"] = rng.standard_normal(256).tolist()
    voices.write_text(json.dumps(data))


@pytest.mark.slow
def test_voiceprints_of_another_encoder_are_kept_unmatched_and_renewed_by_a_reingest(ingested, tmp_path):
    """An old print is never compared with a CAM++ voice (no error, no suggestion), the user is told in one
    line, nothing is deleted, and re-ingesting the named video enrols the person again."""
    import json
    import shutil

    from conftest import run_cli, video_id
    from fake_engine import install

    lib = tmp_path / "lib"
    shutil.copytree(ingested, lib)
    two, three = video_id(lib, "two_voices.mp4"), video_id(lib, "three_voices.mp4")
    paths = {r["video"]: r["path"] for r in json.loads(run_cli("list", "--json", library=lib).stdout)}
    assert run_cli("speakers", two, "--rename", "SPEAKER_2=Okunev", library=lib).exit_code == 0
    _age(lib, two)

    def ingest(video: str):
        with pytest.MonkeyPatch.context() as mp:
            install(mp)
            r = run_cli("ingest", paths[video], "--force", "--language", "en", library=lib)
        assert r.exit_code == 0 and "Traceback" not in r.output, r.output
        return r

    def prints() -> list[dict]:
        return json.loads((lib / "people" / "people.json").read_text())["people"][0]["prints"]

    def names(video: str) -> dict:
        rows = json.loads(run_cli("speakers", video, "--json", library=lib).stdout)
        return {s["label"]: s["name"] for s in rows}

    r = ingest(three)
    notes = [line for line in r.stderr.splitlines() if "older speaker encoder" in line]
    assert len(notes) == 1 and "Okunev" in notes[0] and "resemblyzer" in notes[0], r.stderr
    assert "Okunev" not in names(three).values()  # not compared, so not suggested
    assert [p.get("encoder", "resemblyzer") for p in prints()] == ["resemblyzer"]  # kept as it was

    r = ingest(two)  # the named video again: the link carries over by label and the print is made anew
    assert [p.get("encoder") for p in prints()] == ["resemblyzer", "campplus"]
    assert names(two)["SPEAKER_2"] == "Okunev"
    r = ingest(three)
    assert "older speaker encoder" not in r.stderr
    assert names(three)["SPEAKER_2"] == "Okunev"
