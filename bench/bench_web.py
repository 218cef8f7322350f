"""Web page latency: the search API's p50/p95 and the video page's time to first byte, over a real server.

Two libraries: the bench interview (htp_interview.mp4, ingested once with the
default engine into a temporary library, or into `--library DIR` once and
reused) and a 100-hour synthetic library (bench_scale.py's, cached by its
generator's parameters; `--large-library DIR` caches it there instead).
uvicorn runs in a thread on 127.0.0.1; requests go through httpx over real
sockets, as a browser's would. Floors: search p95 <= 50 ms (bench library)
and <= 150 ms (100 hours); video page first byte <= 200 ms.

    .venv/bin/python bench/bench_web.py [--library DIR] [--large-library DIR] [--hours 100] [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from pipeline.library import Library  # noqa: E402
from pipeline.web import create_app  # noqa: E402

SHARED = ROOT.parent / "shared" / "bench"
FLOOR_BENCH_MS, FLOOR_LARGE_MS, FLOOR_TTFB_MS = 50.0, 150.0, 200.0

# What people type into the box: words, a phrase, boolean, a prefix, a filter, a fuzzy word, a name.
BENCH_QUERIES = [
    {"q": "Microsoft"}, {"q": '"tax relief"'}, {"q": "robots OR equipment"}, {"q": "metal*"},
    {"q": "salaries", "speaker": "SPEAKER_1"}, {"q": "bureaucracy NOT medicine"}, {"q": "questionaire~"},
    {"q": "Skolkovo"}, {"q": "the"},
]  # fmt: skip
LARGE_QUERIES = [
    {"q": "people time"}, {"q": '"the people"'}, {"q": "people"}, {"q": "harb*"},
    {"q": "budget", "speaker": "jane doe"}, {"q": "tax AND relief"}, {"q": "council NOT mining"},
    {"q": "harbor~"}, {"q": "Skolkovo"},
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, library: Library):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = uvicorn.Config(create_app(library), host="127.0.0.1", port=self.port, log_level="warning",
                             lifespan="off", access_log=False)  # fmt: skip
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def time_searches(client: httpx.Client, url: str, queries: list[dict], runs: int, path: str) -> dict:
    per_query: dict[str, list[float]] = {}
    every: list[float] = []
    for params in queries:  # warm-up: the first search opens the index and fills whoosh's caches
        client.get(url + path, params=params).raise_for_status()
    for _ in range(runs):
        for params in queries:
            t0 = time.perf_counter()
            r = client.get(url + path, params=params)
            ms = (time.perf_counter() - t0) * 1000
            r.raise_for_status()
            key = params["q"] + (f" [speaker={params['speaker']}]" if "speaker" in params else "")
            per_query.setdefault(key, []).append(ms)
            every.append(ms)
    return {
        "p50_ms": round(pct(every, 50), 1),
        "p95_ms": round(pct(every, 95), 1),
        "requests": len(every),
        "per_query_p50_ms": {k: round(statistics.median(v), 1) for k, v in per_query.items()},
        "per_query_p95_ms": {k: round(pct(v, 95), 1) for k, v in per_query.items()},
    }


def time_direct(lib: Library, queries: list[dict], runs: int) -> dict:
    """The same searches through index.search in this process: what the web layer adds is the difference."""
    from index.search import search

    every = []
    for params in queries:
        search(lib.index_dir, params["q"], speaker=params.get("speaker"), limit=20)
    for _ in range(runs):
        for params in queries:
            t0 = time.perf_counter()
            search(lib.index_dir, params["q"], speaker=params.get("speaker"), limit=20)
            every.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": round(pct(every, 50), 1), "p95_ms": round(pct(every, 95), 1), "requests": len(every)}


def time_first_byte(client: httpx.Client, url: str, runs: int) -> dict:
    times = []
    first = None
    for i in range(runs + 1):
        t0 = time.perf_counter()
        with client.stream("GET", url) as r:
            chunks = r.iter_raw(1024)
            next(chunks)
            ms = (time.perf_counter() - t0) * 1000
            for _ in chunks:
                pass
        r.raise_for_status()
        if i == 0:
            first = ms  # the first view probes the media file with ffmpeg
        else:
            times.append(ms)
    return {"first_view_ms": round(first, 1), "p50_ms": round(pct(times, 50), 1), "p95_ms": round(pct(times, 95), 1)}


def bench_library(args, tmp: Path) -> Library:
    if args.library and Library(args.library).video_ids():
        return Library(args.library)
    from pipeline.ingest import Ingestor
    from pipeline.options import IngestOptions

    media = SHARED / "htp_interview.mp4"
    if not media.is_file():
        sys.exit(f"error: {media}: not found (the bench needs ../shared/bench)")
    lib = Library(args.library or tmp / "bench-library")
    t0 = time.perf_counter()
    summary = Ingestor(lib, IngestOptions()).run([media])
    if summary.failed:
        sys.exit(f"error: {summary.failed[0].error}")
    print(f"ingested {media.name} in {time.perf_counter() - t0:.1f} s into {lib.root}")
    return lib


def large_library(hours: float, tmp: Path, where: Path | None = None) -> tuple[Library, int, float]:
    """The synthetic library: bench_scale's, cached by its generator's parameters (built once, minutes at 100 h),
    with its transcripts saved (the server checks the index against them); `where` overrides the cache."""
    from bench_scale import CACHE, cached_library

    root = cached_library(hours, cache=where or CACHE, transcripts=True)
    lib = Library(root)
    n, secs = 0, 0.0
    for t in lib.transcripts():
        n, secs = n + len(t.segments), secs + t.duration
    print(f"synthetic library: {len(lib.video_ids())} videos, {n} segments, {secs / 3600:.1f} hours ({root})")
    return lib, n, secs / 3600


def verdict(value: float, floor: float) -> str:
    return "PASS" if value <= floor else "FAIL"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", type=Path, help="ingest the bench interview here once, and reuse it next time")
    ap.add_argument("--hours", type=float, default=100.0)
    ap.add_argument("--large-library", type=Path, help="cache directory of the synthetic libraries (bench_scale's)")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    report: dict = {"load_before": [round(x, 1) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="bench-web-") as d:
        tmp = Path(d)
        lib = bench_library(args, tmp)
        vid = lib.video_ids()[0]
        with Server(lib) as s, httpx.Client(timeout=30) as c:
            report["bench_api_search"] = time_searches(c, s.url, BENCH_QUERIES, args.runs, "/api/search")
            report["bench_direct_search"] = time_direct(lib, BENCH_QUERIES, args.runs)
            report["bench_page_search"] = time_searches(c, s.url, BENCH_QUERIES, args.runs, "/ui/search")
            report["video_page_ttfb"] = time_first_byte(c, f"{s.url}/videos/{vid}?t=60", args.runs)
        large, segments, hours = large_library(args.hours, tmp, args.large_library)
        report["large"] = {"segments": segments, "hours": round(hours, 1)}
        with Server(large) as s, httpx.Client(timeout=30) as c:
            report["large_api_search"] = time_searches(c, s.url, LARGE_QUERIES, args.runs, "/api/search")
            report["large_direct_search"] = time_direct(large, LARGE_QUERIES, args.runs)
            report["large_video_page_ttfb"] = time_first_byte(c, f"{s.url}/videos/{large.video_ids()[0]}", args.runs)

    report["load_after"] = [round(x, 1) for x in os.getloadavg()]
    b, big, ttfb = report["bench_api_search"], report["large_api_search"], report["video_page_ttfb"]
    report["floors"] = {
        "bench_search_p95": [b["p95_ms"], FLOOR_BENCH_MS, verdict(b["p95_ms"], FLOOR_BENCH_MS)],
        "large_search_p95": [big["p95_ms"], FLOOR_LARGE_MS, verdict(big["p95_ms"], FLOOR_LARGE_MS)],
        "video_page_ttfb_p95": [ttfb["p95_ms"], FLOOR_TTFB_MS, verdict(ttfb["p95_ms"], FLOOR_TTFB_MS)],
    }
    print(f"\nload average before {report['load_before']}, after {report['load_after']} (2 cores)")
    for name in ("bench_api_search", "bench_page_search", "large_api_search"):
        r = report[name]
        print(f"{name:18} p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  ({r['requests']} requests)")
        for q, ms in r["per_query_p50_ms"].items():
            print(f"    {q:34} p50 {ms:6.1f} ms  p95 {r['per_query_p95_ms'][q]:6.1f} ms")
    for name in ("bench_direct_search", "large_direct_search"):
        r = report[name]
        print(f"{name:18} p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  (index.search in process, no HTTP)")
    for name in ("video_page_ttfb", "large_video_page_ttfb"):
        r = report[name]
        first, p50, p95 = r["first_view_ms"], r["p50_ms"], r["p95_ms"]
        print(f"{name:22} first view {first:6.1f} ms  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
    print()
    for name, (value, floor, ok) in report["floors"].items():
        print(f"floor {name:22} {value:6.1f} ms <= {floor:5.0f} ms  {ok}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0 if all(v[2] == "PASS" for v in report["floors"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
