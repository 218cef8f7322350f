#!/usr/bin/env python3
"""People across the archive on real voices: a voice named in one interview, found in the others.

    .venv/bin/python bench/bench_people.py [--json OUT]

Everything goes through the real `ingest` (faster-whisper base, default
options) into one temporary library, as a user would do it:

1. ingest ../shared/bench/real/real_mf.mp4 and name its two speakers by their
   LibriSpeech ids (which label is whom comes from real_mf.rttm);
2. ingest real_three.mp4 (1688 and 1998 again, and 2609) and real_mm.mp4 (2033
   and 2414, strangers): 1688 and 1998 must be suggested in real_three (recall
   2/2) and no name put on anyone else;
3. ingest ../shared/bench/htp_interview.mp4 (three espeak-ng voices; it must
   get no suggestion from the real people), name its three voices, ingest
   htp_noisy.mp4 (the same voices with noise): all three suggested, nothing
   else. The other direction (named in htp_noisy, found in htp_interview) is
   scored on the kept voices with the same matching.

Each speaker's reference identity is the RTTM speaker its turns overlap most.
Printed: every (speaker, known person) pair's cosine similarity against the
threshold, same person or not, so the margin is visible; then recall, false
suggestions and the floors (recall 100 %, false suggestions 0). Exit status
1 when a floor is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_real import read_rttm  # noqa: E402

from pipeline.ingest import Ingestor  # noqa: E402
from pipeline.library import Library  # noqa: E402
from pipeline.options import IngestOptions  # noqa: E402
from pipeline.people import THRESHOLD, PeopleStore, name_speakers  # noqa: E402
from pipeline.people.match import best_matches, similarity  # noqa: E402
from pipeline.people.store import Person, Print  # noqa: E402
from pipeline.transcript import Transcript  # noqa: E402

SHARED = ROOT.parent / "shared" / "bench"
REAL = SHARED / "real"


def who_is_who(t: Transcript, rttm: Path) -> dict[str, str]:
    """Transcript label -> the reference speaker its segments overlap most."""
    ref = read_rttm(rttm)
    out = {}
    for sp in t.speakers:
        overlap: dict[str, float] = {}
        for seg in t.segments:
            if seg.speaker == sp.label:
                for a, b, who in ref:
                    overlap[who] = overlap.get(who, 0.0) + max(0.0, min(b, seg.end) - max(a, seg.start))
        out[sp.label] = max(overlap, key=overlap.get) if overlap and max(overlap.values()) > 0 else "?"
    return out


def ingest(library: Library, path: Path) -> Transcript:
    t0 = time.perf_counter()
    summary = Ingestor(library, IngestOptions()).run([path])
    result = summary.results[0]
    if result.status != "done":
        sys.exit(f"error: {path}: {result.status} {result.error or result.note}")
    print(f"ingested {path.name} in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return library.load_transcript(result.video_id)


def name_all(library: Library, t: Transcript, rttm: Path) -> dict[str, str]:
    """Name every speaker after the reference speaker it is: label -> name."""
    names = {label: who for label, who in who_is_who(t, rttm).items() if who != "?"}
    name_speakers(library, t, names)
    return names


def score(library: Library, t: Transcript, rttm: Path, stage: str, rows: list[dict], outcome: list[dict]) -> None:
    """Every (speaker, person) pair's similarity; what ingest suggested, right or wrong."""
    t = library.load_transcript(t.video_id)
    truth = who_is_who(t, rttm)
    voices = PeopleStore(library).voices(t.video_id)
    people = PeopleStore(library).load()
    known = {p.name for p in people.values()}
    for sp in t.speakers:
        who = truth.get(sp.label, "?")
        for p in people.values():
            if sp.label in voices:
                s = similarity(voices[sp.label].vector, p)
                rows.append({"stage": stage, "video": t.video_id.rsplit("-", 1)[0], "speaker": sp.label, "is": who,
                             "person": p.name, "similarity": round(s, 3), "same": who == p.name,
                             "above": s >= THRESHOLD})  # fmt: skip
        outcome.append({"stage": stage, "video": t.video_id.rsplit("-", 1)[0], "speaker": sp.label, "is": who,
                        "suggested": sp.name if sp.state == "suggested" else None,
                        "should_be": who if who in known else None, "windows": voices[sp.label].windows
                        if sp.label in voices else 0})  # fmt: skip


def reverse_htp(library: Library, interview: Transcript, noisy: Transcript, rows: list, outcome: list) -> None:
    """Named in htp_noisy, matched in htp_interview: on the kept voices, with the same matching."""
    store = PeopleStore(library)
    noisy_truth = who_is_who(noisy, SHARED / "htp_noisy.rttm")
    people = {}
    for label, v in store.voices(noisy.video_id).items():
        who = noisy_truth.get(label, "?")
        if who != "?":
            people[f"r-{who}"] = Person(f"r-{who}", who, [Print(noisy.video_id, label, v.vector)])
    voices = store.voices(interview.video_id)
    truth = who_is_who(interview, SHARED / "htp_interview.rttm")
    found = {m.label: people[m.person].name for m in best_matches(interview.video_id, voices, people, {})}
    for label, voice in voices.items():
        for p in people.values():
            s = similarity(voice.vector, p)
            rows.append({"stage": "reverse", "video": "htp-interview", "speaker": label, "is": truth[label],
                         "person": p.name, "similarity": round(s, 3), "same": truth[label] == p.name,
                         "above": s >= THRESHOLD})  # fmt: skip
        outcome.append(
            {
                "stage": "reverse",
                "video": "htp-interview",
                "speaker": label,
                "is": truth[label],
                "suggested": found.get(label),
                "should_be": truth[label],
                "windows": voice.windows,
            }
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None, help="write the pairs and outcomes here")
    args = ap.parse_args()
    rows: list[dict] = []
    outcome: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library(Path(tmp) / "lib")
        mf = ingest(lib, REAL / "real_mf.mp4")
        named = name_all(lib, mf, REAL / "real_mf.rttm")
        print(f"named in real_mf: {named}", file=sys.stderr)
        for name in ("real_three", "real_mm"):
            t = ingest(lib, REAL / f"{name}.mp4")
            score(lib, t, REAL / f"{name}.rttm", "real", rows, outcome)
        interview = ingest(lib, SHARED / "htp_interview.mp4")
        score(lib, interview, SHARED / "htp_interview.rttm", "htp: before naming", rows, outcome)
        print(f"named in htp_interview: {name_all(lib, interview, SHARED / 'htp_interview.rttm')}", file=sys.stderr)
        noisy = ingest(lib, SHARED / "htp_noisy.mp4")
        score(lib, noisy, SHARED / "htp_noisy.rttm", "htp", rows, outcome)
        reverse_htp(lib, interview, noisy, rows, outcome)

    print(f"\nthreshold {THRESHOLD} (cosine of CAM++ speaker embeddings)\n")
    print("| stage | video | speaker | is | known person | similarity | same person | >= threshold |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in sorted(rows, key=lambda r: (r["stage"], r["video"], r["speaker"], -r["similarity"])):
        mark = "**yes**" if r["same"] else "no"
        print(f"| {r['stage']} | {r['video']} | {r['speaker']} ({r['is']}) | {r['is']} | {r['person']} | "
              f"{r['similarity']:.3f} | {mark} | {'yes' if r['above'] else 'no'} |")  # fmt: skip
    same = [r["similarity"] for r in rows if r["same"]]
    other = [r["similarity"] for r in rows if not r["same"]]
    print(f"\nsame person: {min(same):.3f} - {max(same):.3f}; different people: {min(other):.3f} - "
          f"{max(other):.3f}; margin below the threshold {THRESHOLD - max(other):+.3f}, "
          f"above it {min(same) - THRESHOLD:+.3f}")  # fmt: skip

    print("\n| stage | video | speaker | is | windows | suggested | expected |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for o in outcome:
        print(f"| {o['stage']} | {o['video']} | {o['speaker']} | {o['is']} | {o['windows']} | "
              f"{o['suggested'] or '-'} | {o['should_be'] or '-'} |")  # fmt: skip
    ok = True
    for stage in ("real", "htp", "reverse"):
        part = [o for o in outcome if o["stage"] == stage]
        want = [o for o in part if o["should_be"]]
        hit = [o for o in want if o["suggested"] == o["should_be"]]
        false = [o for o in part if o["suggested"] and o["suggested"] != o["should_be"]]
        good = len(hit) == len(want) and not false
        ok &= good
        print(f"{'PASS' if good else 'FAIL'}  {stage}: recall {len(hit)}/{len(want)}, false suggestions {len(false)}")
    before = [o for o in outcome if o["stage"] == "htp: before naming" and o["suggested"]]
    ok &= not before
    print(f"{'PASS' if not before else 'FAIL'}  htp_interview before naming: false suggestions {len(before)}")
    if args.json:
        args.json.write_text(json.dumps({"threshold": THRESHOLD, "pairs": rows, "outcome": outcome}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
