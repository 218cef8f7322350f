"""Search at archive scale: p50/p95 in process over synthetic 100 h and 1,000 h libraries (issue 14).

The libraries come from bench_index.scale_transcripts (698 segments and
~8,640 words an hour, a few hundred names, a tail of rare words), indexed by
`writer.rebuild` with two writers as `reindex` does. Building 1,000 h takes
minutes, so each library is cached under --cache (default
/tmp/interview-index-scale) in a directory named by a hash of the generator's
parameters; a re-run reuses it. Floors at 1,000 h (p95): 50 ms for words,
AND, prefix and the speaker filter; 150 ms for a phrase and `the`; 300 ms for
fuzzy, a misspelled name and no hits.

    nice .venv/bin/python bench/bench_scale.py [--hours 100 1000] [--runs 20] [--profile NAME] [--json out.json] [--cpu]
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_index import scale_params, scale_transcripts  # noqa: E402

from index import schema, store  # noqa: E402
from index.search import search  # noqa: E402
from index.writer import rebuild  # noqa: E402

CACHE = Path(os.environ.get("INTERVIEW_INDEX_SCALE_CACHE", "/tmp/interview-index-scale"))
DONE = "complete.json"

# name -> (query, search keywords, p95 floor in ms at 1,000 h)
QUERIES: dict[str, tuple[str, dict, float]] = {
    "common word": ("people", {}, 50),
    "rare word": ("{rare}", {}, 50),
    "two-word AND": ("tax AND relief", {}, 50),
    "phrase": ('"tax relief"', {}, 150),
    "prefix": ("harb*", {}, 50),
    "fuzzy": ("goverment~", {}, 300),
    "speaker filter": ("budget", {"speaker": "Jane Doe"}, 50),
    "misspelled name": ("Skolkavo", {}, 300),
    "no hits": ("Fitzgerald", {}, 300),
    "the": ("the", {}, 150),
}


def library_dir(params: dict, cache: Path = CACHE) -> Path:
    key = json.dumps({**params, "schema": schema.SCHEMA_VERSION}, sort_keys=True)  # a new schema: a new build
    key = hashlib.sha1(key.encode()).hexdigest()[:12]
    return cache / f"{params['hours']:g}h-{key}"


def cached_library(hours: float, *, cache: Path = CACHE, transcripts: bool = False, procs: int = 2) -> Path:
    """The library root for `hours` of synthetic interviews, built once (index in ROOT/index).

    `transcripts` also saves every transcript through Library.save_transcript
    (what the web app checks the index against); the search bench needs only the index.
    """
    params = scale_params(hours)
    root = library_dir(params, cache)
    done = root / DONE
    if done.is_file():
        info = json.loads(done.read_text())
        if info.get("transcripts") or not transcripts:
            return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    t0 = time.perf_counter()
    gen = scale_transcripts(params)
    if transcripts:
        from pipeline.library import Library

        lib = Library(root).ensure()

        def saving(ts):
            for t in ts:
                lib.save_transcript(t)
                yield t

        gen = saving(gen)
    n = rebuild(root / "index", gen, procs=procs)
    secs = time.perf_counter() - t0
    info = {"params": params, "videos": n, "build_s": round(secs, 1), "transcripts": transcripts,
            "procs": procs, "built": time.strftime("%Y-%m-%dT%H:%M:%S")}  # fmt: skip
    done.write_text(json.dumps(info, indent=1))
    print(f"built {hours:g} h ({n} videos) in {secs:.1f} s into {root}", flush=True)
    return root


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def rare_words(index_dir: Path, n: int = 1) -> list[str]:
    """Up to `n` words with 2-10 segments (the tail's pseudo-words + 'x' first): exact hits, fewer than a
    page, so the tolerant tiers run too; else the rarest words of the index."""
    s = store.open_searcher(index_dir)
    with s:
        r = s.reader()
        tail, rest = [], []
        for t in r.field_terms(schema.EXACT):
            if not t.isalpha():
                continue
            df = r.doc_frequency(schema.EXACT, t)
            if 2 <= df <= 10 and t.endswith("x"):
                tail.append(t)
                if len(tail) >= n:
                    return tail
            elif 2 <= df:
                rest.append((df, t))
    return (tail + [t for _, t in sorted(rest)])[:n] or ["zzzz"]


def rare_word(index_dir: Path) -> str:
    return rare_words(index_dir, 1)[0]


def index_facts(index_dir: Path) -> dict:
    s = store.open_searcher(index_dir)
    with s:
        return {"segments": s.doc_count(), "whoosh_segments": len(list(s.reader().leaf_readers()))}


def time_queries(
    index_dir: Path, runs: int, only: list[str] | None = None, clock: Callable[[], float] = time.perf_counter
) -> dict:
    """p50/p95 of `runs` searches of each query after one untimed search (which opens the index and fills
    the caches derived from it); that first search's time is reported too. The rare word is a different
    word in every search: the postings a search reads are kept per index generation, so searching one
    word again would time those kept postings, not a rare word a user has not searched for yet. `clock`:
    time.process_time to count this process's CPU time alone (other jobs on the machine)."""
    rares = rare_words(index_dir, runs + 1)
    out = {}
    for name, (q, kw, floor) in QUERIES.items():
        if only and name not in only:
            continue
        queries = [q.format(rare=w) for w in rares] if "{rare}" in q else [q]
        t0 = clock()
        result = search(index_dir, queries[0], **kw)
        first = (clock() - t0) * 1000
        times = []
        for i in range(runs):
            one = queries[(i + 1) % len(queries)]
            t0 = clock()
            result = search(index_dir, one, **kw)
            times.append((clock() - t0) * 1000)
        label = queries[0] if len(queries) == 1 else f"{queries[0]}, ... ({len(queries)} words, one a search)"
        out[name] = {
            "query": label + (f" [speaker={kw['speaker']}]" if "speaker" in kw else ""),
            "first_ms": round(first, 1),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(pct(times, 95), 1),
            "hits": len(result.hits),
            "total": result.total,
            "first_match": result.hits[0].match if result.hits else "-",
            "floor_ms": floor,
        }
    return out


def profile(index_dir: Path, name: str, runs: int = 5) -> None:
    """cProfile of `runs` searches of a query after an untimed one; the rare word a different word each
    search, as time_queries times it."""
    q, kw, _ = QUERIES[name]
    queries = [q.format(rare=w) for w in rare_words(index_dir, runs + 1)] if "{rare}" in q else [q] * (runs + 1)
    search(index_dir, queries[0], **kw)
    pr = cProfile.Profile()
    pr.enable()
    for one in queries[1:]:
        search(index_dir, one, **kw)
    pr.disable()
    print(f"\nprofile of {name!r} ({queries[1] if len(set(queries)) == 1 else ', '.join(queries[1:])}), {runs} runs:")
    pstats.Stats(pr).sort_stats("cumulative").print_stats(30)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, nargs="+", default=[100, 1000])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--only", nargs="+", help="query names to time (default: all)")
    ap.add_argument("--profile", help="cProfile this query name at each size")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--cpu", action="store_true", help="time each search's CPU time, not the wall clock's")
    args = ap.parse_args(argv)
    clock = time.process_time if args.cpu else time.perf_counter
    report: dict = {"load_before": [round(x, 1) for x in os.getloadavg()], "sizes": {}}
    for hours in args.hours:
        root = cached_library(hours, cache=args.cache)
        index_dir = root / "index"
        facts = index_facts(index_dir)
        info = json.loads((root / DONE).read_text())
        if args.profile:
            profile(index_dir, args.profile)
            continue
        report["sizes"][f"{hours:g}"] = {**facts, "build_s": info["build_s"],
                                         "queries": time_queries(index_dir, args.runs, args.only, clock)}  # fmt: skip
    report["load_after"] = [round(x, 1) for x in os.getloadavg()]
    if args.profile:
        return 0
    sizes = list(report["sizes"])
    what = "CPU time of this process" if args.cpu else "wall clock"
    print(f"\nload average before {report['load_before']}, after {report['load_after']} (2 cores); {what}")
    for h in sizes:
        r = report["sizes"][h]
        print(f"{h} h: {r['segments']} segments in {r['whoosh_segments']} whoosh segments (built in {r['build_s']} s)")
    head = " | ".join(f"{h} h p50 | {h} h p95" for h in sizes)
    print(f"\n| query | | {head} | first search ({sizes[-1]} h) | hits ({sizes[-1]} h) | floor p95 |")
    print("| --- | --- |" + " --- |" * (2 * len(sizes) + 3))
    failed = []
    for name in report["sizes"][sizes[-1]]["queries"]:
        cells = []
        for h in sizes:
            r = report["sizes"][h]["queries"][name]
            cells += [f"{r['p50_ms']:.1f} ms", f"{r['p95_ms']:.1f} ms"]
        last = report["sizes"][sizes[-1]]["queries"][name]
        ok = last["p95_ms"] <= last["floor_ms"]
        if not ok:
            failed.append(name)
        verdict = f"{last['floor_ms']:.0f} ms {'PASS' if ok else 'FAIL'}"
        print(f"| {name} | `{last['query']}` | " + " | ".join(cells) + f" | {last['first_ms']:.1f} ms"
              + f" | {last['total']} ({last['first_match']}) | {verdict} |")  # fmt: skip
    print(f"\nfloors at {sizes[-1]} h: " + ("all PASS" if not failed else "FAIL: " + ", ".join(failed)))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
