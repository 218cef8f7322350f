"""Index micro-benchmark: bulk build with procs=1 vs procs=2, index size, query times.

Synthetic text (Zipf-distributed pseudo-words plus common English words) so
it needs no ASR and no data download; the numbers are about whoosh and our
analysis, not about recognition.

    .venv/bin/python bench/bench_index.py [--segments 100000] [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.search import search  # noqa: E402
from index.writer import rebuild  # noqa: E402
from pipeline.transcript import Segment, Speaker, Transcript, Word  # noqa: E402

COMMON = (
    "the of and to a in that is was he for it with as his on be at by i this had not are but from or have an "
    "they which one you were her all she there would their we him been has when who will more no if out so said "
    "what up its about into than them can only other new some could time these two may then do first any my now "
    "such like our over man me even most made after also did many before must through back years where much your "
    "way well down should because each just those people tax relief budget harbour mining council"
).split()
SYLLABLES = ["ka", "lo", "mi", "ne", "ro", "su", "ta", "vi", "zo", "bre", "dan", "gor", "kil", "mar", "pol", "ski"]


def vocabulary(rng: random.Random, n: int = 20_000) -> list[str]:
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def transcripts(n_segments: int, per_video: int = 500, seed: int = 7) -> list[Transcript]:
    rng = random.Random(seed)
    vocab = COMMON + vocabulary(rng)
    weights = [1.0 / (r + 1) for r in range(len(vocab))]  # Zipf
    out = []
    for v in range(0, n_segments, per_video):
        segs = []
        t = 0.0
        for _ in range(min(per_video, n_segments - v)):
            n = rng.randint(8, 20)
            text_words = rng.choices(vocab, weights, k=n)
            words = []
            for w in text_words:
                words.append(Word(w, round(t, 3), round(t + 0.3, 3)))
                t += 0.35
            segs.append(Segment(words[0].start, words[-1].end, " ".join(text_words), words, f"SPEAKER_{v % 3 + 1}"))
            t += 0.5
        out.append(Transcript(f"vid{v:06d}", f"/media/vid{v:06d}.mp4", t, "en", "synthetic", "none",
                              segments=segs, speakers=[Speaker("SPEAKER_1", "Jane Doe")]))  # fmt: skip
    return out


# Archive-scale generator (bench_scale.py, bench_web.py): the rate of real interviews,
# 698 segments and 8,640 words an hour (12.4 words of 0.37 s a segment, 0.57 s between),
# a few hundred capitalised names and a long tail of words heard once or twice.
SEGMENTS_PER_HOUR = 698
WORDS_PER_HOUR = 8640
EXTRA_WORDS = "government minister election reform pension hospital school police".split()
KNOWN_NAMES = "Skolkovo Okunev Minsk BelAZ Belarusian Vist Melacort Haddad Zurich Gazprom".split()
FIRST = "Jane Omar Anna Peter Maria Ivan Sofia David Elena Paul Laura Felix Nadia Hugo Irene".split()
LAST = "Doe Haddad Okunev Doyle Novak Berg Costa Varga Lindqvist Moreau Kowalski Brennan Sato Rossi".split()


def scale_params(hours: float, seed: int = 7, names: int = 300, tail: int = 5000, per_video: int = 698) -> dict:
    """The generator's parameters: what a cached library built from them is keyed by."""
    return {"gen": 2, "hours": float(hours), "seed": seed, "names": names, "tail": tail, "per_video": per_video,
            "seg_per_h": SEGMENTS_PER_HOUR, "words_per_h": WORDS_PER_HOUR}  # fmt: skip


def name_list(rng: random.Random, n: int) -> list[str]:
    out = list(KNOWN_NAMES)
    while len(out) < n:
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        out.append(w.capitalize())
    return list(dict.fromkeys(out))[:n]


def scale_transcripts(params: dict) -> Iterator[Transcript]:
    """Synthetic transcripts at the real rate, yielded one video at a time (1,000 h do not fit in memory)."""
    rng = random.Random(params["seed"])
    vocab = COMMON + EXTRA_WORDS + vocabulary(rng)
    weights = list(itertools.accumulate(1.0 / (r + 1) for r in range(len(vocab))))  # Zipf
    names = name_list(rng, params["names"])
    name_weights = list(itertools.accumulate(1.0 / (r + 1) ** 0.7 for r in range(len(names))))
    tail = [w + "x" for w in vocabulary(random.Random(params["seed"] + 1), params["tail"])]
    people = [f"{f} {last}" for f in FIRST for last in LAST][: max(3, params["names"])]
    n_segments = round(params["hours"] * params["seg_per_h"])
    mean_words = params["words_per_h"] / params["seg_per_h"]
    step = 0.37
    pause = 3600 / params["seg_per_h"] - mean_words * step
    lo = 6
    hi = round(2 * mean_words) - lo  # randint(lo, hi) has mean (lo + hi) / 2
    per_video = params["per_video"]
    for v in range(0, n_segments, per_video):
        labels = [f"SPEAKER_{i + 1}" for i in range(rng.randint(2, 3))]
        speakers = [Speaker(lb, rng.choice(people)) for lb in labels]
        if v == 0:
            speakers[0] = Speaker("SPEAKER_1", "Jane Doe")
        segs, t = [], 0.0
        for _ in range(min(per_video, n_segments - v)):
            text_words = rng.choices(vocab, cum_weights=weights, k=rng.randint(lo, hi))
            for i in range(len(text_words)):
                r = rng.random()
                if r < 0.006:
                    text_words[i] = rng.choices(names, cum_weights=name_weights)[0]
                elif r < 0.007:
                    text_words[i] = rng.choice(tail)
            words = []
            for w in text_words:
                words.append(Word(w, round(t, 3), round(t + step - 0.05, 3)))
                t += step
            segs.append(Segment(words[0].start, words[-1].end, " ".join(text_words), words, rng.choice(labels)))
            t += pause
        yield Transcript(f"h{v // per_video:05d}", f"/media/h{v // per_video:05d}.mp4", t, "en", "synthetic", "none",
                         segments=segs, speakers=speakers)  # fmt: skip


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def cpu_seconds() -> tuple[float, float]:
    """CPU of this process, and of its finished children (the procs=2 workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def build(ts: list[Transcript], procs: int, root: Path) -> tuple[float, float, float, int, Path]:
    """(wall s, main-process cpu s, worker cpu s, bytes on disk, index dir).

    On a busy machine wall time says little; the CPU split says what an idle
    one would do: with procs=2 the wall time is bounded by the busiest process.
    """
    d = root / f"index-p{procs}"
    shutil.rmtree(d, ignore_errors=True)
    t, (m0, w0) = time.perf_counter(), cpu_seconds()
    rebuild(d, ts, procs=procs)
    m1, w1 = cpu_seconds()
    return time.perf_counter() - t, m1 - m0, w1 - w0, dir_size(d), d


def query_time(index_dir: Path, q: str, runs: int = 7, **kw) -> tuple[float, int, str]:
    times = []
    result = None
    for _ in range(runs):
        t = time.perf_counter()
        result = search(index_dir, q, **kw)
        times.append(time.perf_counter() - t)
    first = result.hits[0].match if result and result.hits else "-"
    return statistics.median(times), len(result.hits) if result else 0, first


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segments", type=int, default=100_000)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    ts = transcripts(args.segments)
    # Other work on the machine skews wall times (2 cores): say how busy it was.
    report: dict[str, object] = {"segments": args.segments, "videos": len(ts), "cpus": os.cpu_count(),
                                 "load_before": round(os.getloadavg()[0], 2)}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t1, m1, _, size1, d1 = build(ts, 1, root)
        t2, m2, w2, size2, _ = build(ts, 2, root)
        report.update(
            build_procs1_s=round(t1, 1), build_procs2_s=round(t2, 1), procs2_over_procs1=round(t2 / t1, 2),
            cpu_procs1_s=round(m1, 1), cpu_procs2_main_s=round(m2, 1), cpu_procs2_workers_s=round(w2, 1),
            index_mb_procs1=round(size1 / 2**20, 1), index_mb_procs2=round(size2 / 2**20, 1),
            load_after_build=round(os.getloadavg()[0], 2),
        )  # fmt: skip
        print(f"build {args.segments} segments: procs=1 {t1:.1f}s (cpu {m1:.1f}s), procs=2 {t2:.1f}s "
              f"(cpu main {m2:.1f}s + 2 workers {w2:.1f}s), ratio {t2 / t1:.2f}; index {size1 / 2**20:.1f} MB; "
              f"load {report['load_before']} -> {report['load_after_build']}")  # fmt: skip
        queries = {
            "two_terms": ("people time", {}),
            "two_terms_exact": ("people time", {"exact": True}),
            "phrase": ('"the people"', {}),
            "common_word": ("people", {}),
            "prefix": ("harb*", {}),
            "speaker_filter": ("budget", {"speaker": "jane doe"}),
            "no_exact_name": ("Skolkovo", {}),
            "no_exact_name_exact": ("Skolkovo", {"exact": True}),
        }
        report["queries_ms"] = {}
        for name, (q, kw) in queries.items():
            secs, n, first = query_time(d1, q, **kw)
            report["queries_ms"][name] = round(secs * 1000, 1)
            print(f"query {name:20} {q!r:14} {secs * 1000:7.1f} ms  {n} hits, first {first}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
