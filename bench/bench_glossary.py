"""Finding names (issue 5): recall with and without a glossary, false insertions, WER, precision.

    python bench/bench_glossary.py [--video ../shared/bench/htp_interview.mp4] [--engine faster-whisper]

Ingests the interview with the real pipeline several ways, each into its own
library: no glossary; the names as a glossary through the initial prompt;
through faster-whisper's hotwords. For each it reports:
- name recall: for every spoken occurrence of the names (truth.json times),
  does `search NAME` return a hit within 1.0 s of it (bench_names.name_recall);
- false glossary insertions: a glossary term in the transcript where the
  truth has no such term within 1.0 s;
- WER against the reference text (Whisper's English normalizer);
- precision: for ten common words, every exact/stem hit ranks above every
  sounds-alike or fuzzy one.
Floors: recall >= 75 % with no glossary, >= 90 % with it, zero false
insertions, WER with the glossary no worse than without.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
SHARED = ROOT.parent / "shared" / "bench"
NAMES = ["Skolkovo", "Belarusian", "BelAZ", "Minsk", "Vist"]
COMMON = ["park", "companies", "residents", "cooperation", "projects", "technology", "market", "education",
          "partners", "international"]  # fmt: skip
TIERS = {"exact": 0, "stem": 0, "phonetic": 1, "fuzzy": 2}


def norm(word: str) -> str:
    return re.sub(r"^\W+|\W+$", "", word).casefold()


def false_insertions(transcript, truth: dict, terms: list[str], tolerance: float = 1.0) -> list[dict]:
    said = {t.casefold(): [w["start"] for w in truth["words"] if norm(w["word"]) == t.casefold()] for t in terms}
    out = []
    for w in transcript.words:
        key = norm(w.word)
        if key in said and not any(abs(w.start - s) <= tolerance for s in said[key]):
            out.append({"term": w.word, "start": w.start})
    return out


def precision(index_dir: Path) -> dict[str, bool]:
    from index.search import search

    ok = {}
    for word in COMMON:
        tiers = [TIERS[h.match] for h in search(index_dir, word, limit=None).hits]
        ok[word] = bool(tiers) and tiers == sorted(tiers) and tiers[0] == 0
    return ok


def run(video: Path, engine, label: str, glossary: list[str], hotwords: bool) -> dict:
    from bench_names import name_recall
    from bench_pipeline import wer

    from pipeline.ingest import Ingestor
    from pipeline.library import Library
    from pipeline.options import IngestOptions, TranscribeOptions

    truth_path = video.with_suffix(".truth.json")
    truth = json.loads(truth_path.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(tmp)
        options = IngestOptions(
            transcribe=TranscribeOptions(glossary=tuple(glossary), language="en", glossary_as_hotwords=hotwords)
        )
        ingestor = Ingestor(library, options)
        ingestor._engine = engine
        result = ingestor.run([video]).results[0]
        transcript = library.load_transcript(result.video_id)
        recall = name_recall(library.index_dir, truth_path, NAMES)
        return {
            "run": label,
            "recall": recall["recall"],
            "per_name": {n: f"{r['found']}/{r['occurrences']} {r['by_match']}" for n, r in recall["names"].items()},
            "false_insertions": false_insertions(transcript, truth, glossary or NAMES),
            "wer": round(wer(video.with_suffix(".ref.txt").read_text(), transcript.text), 4),
            "precision": precision(library.index_dir),
            "heard": sorted({w.word for w in transcript.words if any(n[:3].lower() in w.word.lower() for n in NAMES)}),
        }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=SHARED / "htp_interview.mp4")
    ap.add_argument("--engine", default="faster-whisper")
    ap.add_argument("--model", default="base")
    args = ap.parse_args()
    from pipeline.asr import load_engine

    engine = load_engine(args.engine, args.model)
    runs = [run(args.video, engine, "no glossary", [], False)]
    runs.append(run(args.video, engine, "glossary as prompt", NAMES, False))
    if args.engine == "faster-whisper":
        runs.append(run(args.video, engine, "glossary as hotwords", NAMES, True))
    ok = True
    base = runs[0]
    for r in runs:
        print(f"== {r['run']}: name recall {r['recall']:.0%}, false insertions {len(r['false_insertions'])}, "
              f"WER {r['wer']:.1%}, exact-first precision {sum(r['precision'].values())}/{len(COMMON)}")  # fmt: skip
        for n, s in r["per_name"].items():
            print(f"     {n:12} {s}")
        print(f"     heard: {', '.join(r['heard'])}")
        if r["false_insertions"]:
            print(f"     insertions: {r['false_insertions']}")
        floor = 0.75 if r is base else 0.90
        checks = {
            f"recall >= {floor:.0%}": r["recall"] >= floor,
            "zero false insertions": not r["false_insertions"],
            "exact hits rank first": all(r["precision"].values()),
        }
        if r is not base:
            checks["WER no worse than without glossary"] = r["wer"] <= base["wer"] + 1e-9
        for name, passed in checks.items():
            print(f"     {'PASS' if passed else 'FAIL'}  {name}")
        if r is base or r["run"] == "glossary as hotwords" or args.engine != "faster-whisper":
            ok = ok and all(checks.values())
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / f"glossary-{args.engine}.json").write_text(json.dumps(runs, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
