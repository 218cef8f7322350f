#!/usr/bin/env python3
"""Speakers and words on real voices: what `ingest` gives users, scored against reference turns.

    .venv/bin/python bench/bench_real.py [--only NAME ...] [--no-wer] [--json OUT]

Every media file in ../shared/bench/real/ (real meeting excerpts and mosaics of
real voices, each with a reference .rttm and maybe a .uem) and the two
synthetic interviews htp_interview / htp_noisy are ingested through the Python
API (`Ingestor` on a temporary `Library`, default options: no speaker hint),
so the numbers are the ones a user gets. Per file:

- DER, frame-based (10 ms), no collar, optimal one-to-one speaker mapping
  (Hungarian), scored inside the UEM when there is one. The hypothesis is the
  saved transcript's speaker turns including overlaps
  (`Transcript.turns_with_overlaps()`: consecutive segments of one speaker
  joined across pauses under `TURN_PAUSE_S`, as the reference RTTM marks a
  turn from its first to its last word, plus `Transcript.overlaps`, the second
  speakers where two talk at once, and `Transcript.wordless`, speech the
  speaker models hear where no word was written). Where
  reference speakers overlap each one counts (a frame with two reference
  speakers and one hypothesis speaker is at least one missed speaker).
- its parts: missed speech, false alarm, speaker confusion;
- speakers found (distinct labels of those turns) against the reference's;
- overlap: the share of reference speech where two or more reference speakers
  talk at once, and the seconds of `Transcript.overlaps`; the seconds of
  `Transcript.wordless` are kept in the --json rows;
- a diagnostic: the DER of the diarizer's own turns (before any word is
  placed on them), to tell the speaker stage's errors from the words';
- the share of reference speech time covered by transcript words: a frame is
  covered when it lies in a run of words (words joined across pauses under
  `TURN_PAUSE_S`, whoever speaks them), widened by 0.2 s each side. A pause
  between two sentences of a reading is not dropped speech; an utterance
  with no words is.
- for the two synthetic interviews, WER of the ingest and of faster-whisper's
  defaults on the same file (`WhisperModel(packaged base, int8)`, beam 5,
  word timestamps) side by side.

The floors of issue 8 are printed with pass/fail; the exit status is 1 when
one is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline.transcript import TURN_PAUSE_S  # noqa: E402

SHARED = ROOT.parent / "shared" / "bench"
REAL = SHARED / "real"
SYNTHETIC = [SHARED / "htp_interview.mp4", SHARED / "htp_noisy.mp4"]
MEDIA = {".wav", ".mp4", ".flac", ".m4a", ".mp3"}
FRAME = 0.01
WORD_TOLERANCE_S = 0.2

Turn = tuple[float, float, str]


# -- reference files ------------------------------------------------------------------
def read_rttm(path: Path) -> list[Turn]:
    turns = []
    for line in Path(path).read_text().splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER":
            start, dur = float(f[3]), float(f[4])
            turns.append((start, start + dur, f[7]))
    return turns


def read_uem(path: Path) -> list[tuple[float, float]] | None:
    if not path.exists():
        return None
    spans = []
    for line in path.read_text().splitlines():
        f = line.split()
        if len(f) >= 4:
            spans.append((float(f[2]), float(f[3])))
    return spans


# -- scoring ----------------------------------------------------------------------------
def _activity(turns: list[Turn], n: int) -> tuple[np.ndarray, list[str]]:
    """(n frames, speakers) boolean activity; overlapping turns stay overlapping."""
    names = sorted({t[2] for t in turns})
    act = np.zeros((n, len(names)), bool)
    for start, end, who in turns:
        act[int(round(start / FRAME)) : int(round(end / FRAME)), names.index(who)] = True
    return act, names


def _scored(n: int, uem: list[tuple[float, float]] | None) -> np.ndarray:
    if not uem:
        return np.ones(n, bool)
    mask = np.zeros(n, bool)
    for a, b in uem:
        mask[int(round(a / FRAME)) : int(round(b / FRAME))] = True
    return mask


def der(reference: list[Turn], hypothesis: list[Turn], uem=None, duration: float = 0.0) -> dict:
    """Frame DER (NIST-style counting of overlapped speakers) with the best one-to-one mapping."""
    from scipy.optimize import linear_sum_assignment

    end = max([t[1] for t in reference] + [t[1] for t in hypothesis] + [duration] + [b for _a, b in uem or []])
    n = int(np.ceil(end / FRAME)) + 1
    scored = _scored(n, uem)
    ref, _ = _activity(reference, n)
    hyp, hyp_names = _activity(hypothesis, n)
    ref, hyp = ref[scored], hyp[scored]
    n_ref, n_hyp = ref.sum(1), hyp.sum(1)
    total = int(n_ref.sum())
    miss = int(np.maximum(0, n_ref - n_hyp).sum())
    fa = int(np.maximum(0, n_hyp - n_ref).sum())
    joint = ref.T.astype(np.int64) @ hyp.astype(np.int64)
    correct = 0
    if joint.size:
        rows, cols = linear_sum_assignment(-joint)
        correct = int(joint[rows, cols].sum())
    confusion = int(np.minimum(n_ref, n_hyp).sum()) - correct
    t = max(1, total)
    return {"der": (miss + fa + confusion) / t, "miss": miss / t, "false_alarm": fa / t, "confusion": confusion / t,
            "ref_speech_s": total * FRAME, "speakers_found": len(hyp_names)}  # fmt: skip


def overlap_share(reference: list[Turn], uem=None) -> float:
    """Share of reference speech frames where two or more reference speakers talk."""
    n = int(np.ceil(max([t[1] for t in reference] + [b for _a, b in uem or []]) / FRAME)) + 1
    count = _activity(reference, n)[0].sum(axis=1)[_scored(n, uem)]
    return float((count >= 2).sum() / max(1, (count >= 1).sum()))


def word_runs(words: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Words joined across pauses shorter than a turn's (TURN_PAUSE_S)."""
    runs: list[list[float]] = []
    for a, b in sorted(words):
        if runs and a - runs[-1][1] < TURN_PAUSE_S:
            runs[-1][1] = max(runs[-1][1], b)
        else:
            runs.append([a, b])
    return [(a, b) for a, b in runs]


def word_coverage(reference: list[Turn], words: list[tuple[float, float]], uem=None) -> float:
    """Share of reference speech frames that some word (widened by WORD_TOLERANCE_S) spans."""
    end = max([t[1] for t in reference] + [b for _a, b in words] + [b for _a, b in uem or []])
    n = int(np.ceil(end / FRAME)) + 1
    speech = _activity(reference, n)[0].any(axis=1) & _scored(n, uem)
    covered = np.zeros(n, bool)
    for a, b in words:
        covered[max(0, int(round((a - WORD_TOLERANCE_S) / FRAME))) : int(round((b + WORD_TOLERANCE_S) / FRAME))] = True
    return float((speech & covered).sum() / max(1, speech.sum()))


# -- WER ------------------------------------------------------------------------------------
def wer(ref: str, hyp: str) -> float:
    """The WER every benchmark here uses (bench/wer.py: Whisper's English normaliser, then jiwer)."""
    from wer import wer as shared_wer

    return shared_wer(ref, hyp)


def faster_whisper_defaults_text(path: Path) -> str:
    """faster-whisper as its README runs it, on the packaged base model."""
    from faster_whisper import WhisperModel

    from pipeline.asr.weights import packaged_ct2_dir

    model = WhisperModel(str(packaged_ct2_dir("base")), compute_type="int8")
    segments, _info = model.transcribe(str(path), beam_size=5, word_timestamps=True)
    return " ".join(s.text.strip() for s in segments)


# -- the run -------------------------------------------------------------------------------
@dataclass
class Row:
    name: str
    group: str  # ami / mosaic / synthetic
    der: dict
    ref_speakers: int
    coverage: float
    seconds: float
    wer_ingest: float | None = None
    wer_default: float | None = None
    extra: dict = field(default_factory=dict)
    der_turns: float | None = None  # the diarizer's own turns
    ref_overlap: float | None = None  # share of reference speech with two or more speakers at once
    overlap_s: float | None = None  # seconds of second speakers in the transcript (Transcript.overlaps)


def group_of(path: Path) -> str:
    if path.name.startswith("ami"):
        return "ami"
    if path.parent == REAL:
        return "mosaic"
    return "synthetic"


def media_files(only: list[str]) -> list[Path]:
    files = sorted(p for p in REAL.iterdir() if p.suffix in MEDIA) + SYNTHETIC
    return [p for p in files if not only or any(o in p.name for o in only)]


def measure(files: list[Path], with_wer: bool) -> list[Row]:
    from pipeline.ingest import Ingestor
    from pipeline.library import Library
    from pipeline.options import IngestOptions

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(tmp)
        ingestor = Ingestor(library, IngestOptions())
        seen: list = []
        own_turns = ingestor._turns

        def keep_turns(*args, **kwargs):  # the diarizer's turns, for the diagnostic column
            turns = own_turns(*args, **kwargs)
            seen.append(turns)
            return turns

        ingestor._turns = keep_turns
        for path in files:
            seen.clear()
            reference = read_rttm(path.with_suffix(".rttm"))
            uem = read_uem(path.with_suffix(".uem"))
            t = time.perf_counter()
            result = ingestor.run([path]).results[0]
            seconds = time.perf_counter() - t
            if result.status != "done":
                raise SystemExit(f"{path.name}: ingest {result.status}: {result.error}")
            transcript = library.load_transcript(result.video_id)
            hypothesis = [(t.start, t.end, t.speaker or "?") for t in transcript.turns_with_overlaps()]
            words = word_runs([(w.start, w.end) for w in transcript.words])
            row = Row(path.name, group_of(path), der(reference, hypothesis, uem, transcript.duration),
                      len({t[2] for t in reference}), word_coverage(reference, words, uem), seconds)  # fmt: skip
            row.ref_overlap = overlap_share(reference, uem)
            row.overlap_s = round(sum(o.end - o.start for o in transcript.overlaps), 2)
            row.extra["wordless_s"] = round(sum(o.end - o.start for o in transcript.wordless), 2)
            if seen:
                own = [(t.start, t.end, t.label) for t in seen[-1]]
                row.der_turns = der(reference, own, uem, transcript.duration)["der"]
            if with_wer and path in SYNTHETIC:
                ref_text = path.with_suffix(".ref.txt").read_text()
                row.wer_ingest = wer(ref_text, " ".join(s.text for s in transcript.segments))
                row.wer_default = wer(ref_text, faster_whisper_defaults_text(path))
            rows.append(row)
            print(f"  {path.name}: done in {seconds:.1f} s", file=sys.stderr, flush=True)
    return rows


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f} %"


def _overlap(r: Row) -> str:
    return "" if r.ref_overlap is None else f"{_pct(r.ref_overlap)} / {r.overlap_s:.1f} s"


def _overlap_mean(part: list[Row]) -> str:
    known = [r for r in part if r.ref_overlap is not None]
    if not known:
        return ""
    return f"{_pct(float(np.mean([r.ref_overlap for r in known])))} / {sum(r.overlap_s for r in known):.1f} s"


def table(rows: list[Row]) -> str:
    head = ("| file | DER | miss | false alarm | confusion | speakers found / true | words cover speech "
            "| WER ingest | WER faster-whisper defaults | DER of the diarizer's turns "
            "| overlap: reference share / detected |")  # fmt: skip
    lines = [head, "|" + " --- |" * 11]
    for group in ("mosaic", "ami", "synthetic"):
        part = [r for r in rows if r.group == group]
        for r in part:
            d = r.der
            lines.append(f"| {r.name} | {_pct(d['der'])} | {_pct(d['miss'])} | {_pct(d['false_alarm'])} "
                         f"| {_pct(d['confusion'])} | {d['speakers_found']} / {r.ref_speakers} | {_pct(r.coverage)} "
                         f"| {_pct(r.wer_ingest)} | {_pct(r.wer_default)} | {_pct(r.der_turns)} "
                         f"| {_overlap(r)} |")  # fmt: skip
        if part:
            m = {k: float(np.mean([r.der[k] for r in part])) for k in ("der", "miss", "false_alarm", "confusion")}
            right = sum(r.der["speakers_found"] == r.ref_speakers for r in part)
            multi = sum(r.der["speakers_found"] >= 2 for r in part if r.ref_speakers >= 2)
            count = f"count right {right}/{len(part)}" + (f", >= 2 found {multi}/{len(part)}" if group == "ami" else "")
            wers = [r.wer_ingest for r in part if r.wer_ingest is not None]
            wers_d = [r.wer_default for r in part if r.wer_default is not None]
            own = [r.der_turns for r in part if r.der_turns is not None]
            lines.append(f"| **mean {group}** | **{_pct(m['der'])}** | {_pct(m['miss'])} | {_pct(m['false_alarm'])} "
                         f"| {_pct(m['confusion'])} | {count} "
                         f"| {_pct(float(np.mean([r.coverage for r in part])))} "
                         f"| {_pct(float(np.mean(wers))) if wers else ''} "
                         f"| {_pct(float(np.mean(wers_d))) if wers_d else ''} "
                         f"| {_pct(float(np.mean(own))) if own else ''} "
                         f"| {_overlap_mean(part)} |")  # fmt: skip
    return "\n".join(lines)


def floors(rows: list[Row]) -> list[tuple[str, bool, str]]:
    """Issue 8's floors, each as (floor, passed, measured)."""
    out = []
    mosaics = [r for r in rows if r.group == "mosaic"]
    ami = [r for r in rows if r.group == "ami"]
    if mosaics:
        right = sum(r.der["speakers_found"] == r.ref_speakers for r in mosaics)
        out.append(("mosaics: speaker count right on all", right == len(mosaics), f"{right}/{len(mosaics)}"))
        mean = float(np.mean([r.der["der"] for r in mosaics]))
        out.append(("mosaics: mean DER <= 8 %", mean <= 0.08, _pct(mean)))
        low = min(r.coverage for r in mosaics)
        out.append(("mosaics: each >= 95 % of speech covered by words", low >= 0.95, f"lowest {_pct(low)}"))
    if ami:
        mean = float(np.mean([r.der["der"] for r in ami]))
        out.append(("AMI: mean DER <= 35 %", mean <= 0.35, _pct(mean)))
        multi = [r for r in ami if r.ref_speakers >= 2]
        found = sum(r.der["speakers_found"] >= 2 for r in multi)
        need = 6 if len(multi) == 8 else int(np.ceil(0.75 * len(multi)))
        out.append((f"AMI: >= 2 speakers found on >= {need} of {len(multi)} with >= 2", found >= need,
                    f"{found}/{len(multi)}"))  # fmt: skip
    for r in rows:
        if r.group == "synthetic":  # the speakers' part; bench_diarization.py guards the turns' DER
            ok = r.der["speakers_found"] == r.ref_speakers and r.der["confusion"] <= 0.01
            out.append((f"{r.name}: speaker count right, confusion <= 1 % (regression guard)", ok,
                        f"{r.der['speakers_found']}/{r.ref_speakers}, {_pct(r.der['confusion'])}"))  # fmt: skip
            if r.wer_ingest is not None and r.wer_default is not None:
                ok = r.wer_ingest <= r.wer_default + 0.005
                out.append((f"{r.name}: ingest WER <= faster-whisper defaults' + 0.5 points", ok,
                            f"{_pct(r.wer_ingest)} vs {_pct(r.wer_default)}"))  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=[], help="names (substrings) of the files to run")
    ap.add_argument("--no-wer", action="store_true", help="skip the WER columns (and the second decoding)")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    ap.add_argument("--from-json", type=Path, help="print the table and floors of rows saved by --json, run nothing")
    args = ap.parse_args()
    if args.from_json:
        rows = [Row(**r) for r in json.loads(args.from_json.read_text())]
    else:
        files = media_files(args.only)
        if not files:
            raise SystemExit(f"no media under {REAL}")
        rows = measure(files, with_wer=not args.no_wer)
    print(table(rows))
    print()
    failed = 0
    for name, ok, measured in floors(rows):
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {measured}")
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
