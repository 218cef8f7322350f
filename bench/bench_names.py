"""Name recall: is every spoken occurrence of a name found by searching for it?

For each name and each time it is spoken (from a fixture's truth.json, whose
"words" are [{word, start, speaker}] with start on the audio's timeline plus
"audio_offset"), search(NAME) must return a hit with a matched occurrence
within TOLERANCE seconds. Misrecognised names ("Skilcovo") count as found
when the tolerant tiers find them: that is what is being measured. Hits that
match no spoken occurrence are reported as false alarms.

The index is built elsewhere (ingest of the fixture's media); here only:

    .venv/bin/python bench/bench_names.py INDEX_DIR TRUTH_JSON --name Vellacourt [--video ID] [--exact]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.search import search  # noqa: E402

TOLERANCE = 1.0
_PUNCT = re.compile(r"^\W+|\W+$")


def _norm(word: str) -> str:
    return _PUNCT.sub("", word).casefold()


def spoken(truth: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Every occurrence of `name` (one or more words) in the truth: start (playback s) and speaker."""
    offset = float(truth.get("audio_offset", 0.0))
    words = truth.get("words", [])
    parts = [_norm(p) for p in name.split()]
    out = []
    for i in range(len(words) - len(parts) + 1):
        if all(_norm(words[i + k]["word"]) == parts[k] for k in range(len(parts))):
            out.append({"start": round(words[i]["start"] + offset, 3), "speaker": words[i].get("speaker")})
    return out


def name_recall(
    index_dir: Path,
    truth_json_path: Path,
    names: list[str],
    *,
    video: str | None = None,
    tolerance: float = TOLERANCE,
    exact: bool = False,
) -> dict[str, Any]:
    """Recall of each name's spoken occurrences; see the module docstring.

    Returns {"names": {NAME: {...}}, "occurrences", "found", "recall"}; per
    name: occurrences, found, recall, by_match (how found occurrences were
    matched: exact/stem/phonetic/fuzzy), missed (start times), false_alarms
    (hit times matching no occurrence), suggestions.
    """
    truth = json.loads(Path(truth_json_path).read_text(encoding="utf-8"))
    report: dict[str, Any] = {"names": {}, "tolerance_s": tolerance, "exact": exact}
    total = found_total = 0
    for name in names:
        occurrences = spoken(truth, name)
        result = search(index_dir, name, video=video, limit=None, exact=exact)
        matched = [(t0, h) for h in result.hits for t0, _ in h.occurrences]
        by_match: Counter[str] = Counter()
        missed = []
        used: set[int] = set()
        for occ in occurrences:
            best = min(
                (i for i, (t0, _) in enumerate(matched) if abs(t0 - occ["start"]) <= tolerance),
                key=lambda i: abs(matched[i][0] - occ["start"]),
                default=None,
            )
            if best is None:
                missed.append(occ["start"])
            else:
                used.add(best)
                by_match[matched[best][1].match] += 1
        found = len(occurrences) - len(missed)
        report["names"][name] = {
            "occurrences": len(occurrences),
            "found": found,
            "recall": round(found / len(occurrences), 3) if occurrences else None,
            "by_match": dict(by_match),
            "missed": missed,
            "false_alarms": [round(t0, 3) for i, (t0, _) in enumerate(matched) if i not in used],
            "exact_found": result.exact_found,
            "suggestions": result.suggestions,
        }
        total += len(occurrences)
        found_total += found
    report.update(occurrences=total, found=found_total, recall=round(found_total / total, 3) if total else None)
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Name recall of an index against a fixture's truth.json.")
    ap.add_argument("index_dir", type=Path)
    ap.add_argument("truth_json", type=Path)
    ap.add_argument("--name", dest="names", action="append", required=True, help="a name; repeat for more")
    ap.add_argument("--video", default=None, help="only hits in this video id")
    ap.add_argument("--tolerance", type=float, default=TOLERANCE)
    ap.add_argument("--exact", action="store_true", help="search without sound/spelling tolerance")
    ap.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = ap.parse_args(argv)
    report = name_recall(
        args.index_dir, args.truth_json, args.names, video=args.video, tolerance=args.tolerance, exact=args.exact
    )
    for name, r in report["names"].items():
        print(f"{name:20} {r['found']}/{r['occurrences']} found  by {r['by_match']}  "
              f"missed {r['missed']}  false alarms {r['false_alarms']}")  # fmt: skip
    print(f"recall {report['recall']} ({report['found']}/{report['occurrences']})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
