"""Finding names (issues 5 and 10): recall per name with and without a glossary, false insertions, WER, precision.

    python bench/bench_glossary.py [--interview htp_interview --interview orchard_interview] [--diagnose]

Each interview of ../shared/bench is ingested with the real pipeline twice, each time into
a library of its own: without a glossary, and with its names as the glossary (the default
way: plain and steered decodings, merged). The names are read from the interview's truth,
never written here (a name the code was tuned on proves nothing), by `names_in_truth`.
Per interview and run it prints:
- recall per name: for every spoken occurrence of the name (truth.json times), does
  `search NAME` return a hit within 1.0 s of it (bench_names.name_recall);
- false glossary insertions: a glossary term in the transcript where the truth has no such
  term within 1.0 s;
- sounds-alike precision: of the hits that `search NAME` found by sound (`match` neither
  exact, stem nor fuzzy), the share within 1.0 s of a spoken occurrence of that name;
- exact-first: for ten common words of the interview, every exact/stem hit ranks above
  every sounds-alike or fuzzy one;
- WER against the reference text (Whisper's English normalizer), and time: the decoding
  (as measured when it was run) and the rest of the ingest.
Decodings are cached per (audio, engine, options, prompt) under bench/out/decodes, so a
second run only re-merges, re-indexes and re-searches; `--fresh` decodes again.
`--diagnose` prints, around each spoken occurrence of a name, the plain and steered words
and what the merge decided there (glossary_merge.merge_blocks).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
SHARED = ROOT.parent / "shared" / "bench"
OUT = ROOT / "bench" / "out"
INTERVIEWS = ["htp_interview", "orchard_interview"]
TOLERANCE = 1.0
NOT_BY_SOUND = {"exact", "stem", "fuzzy"}
TIERS = {"exact": 0, "stem": 0, "phonetic": 1, "fuzzy": 2}
# Floors: (recall without a glossary, recall with it, sounds-alike precision or None).
FLOORS = {"htp_interview": (0.75, 0.90, None), "orchard_interview": (0.60, 0.90, 0.80)}
_EDGE = re.compile(r"^\W+|\W+$")
# What a decoding depends on besides the engine's own module (the merge is not cached: it is what is tuned).
DECODE_CODE = ["gate.py", "seeded.py", "decisions.py", "windows.py", "weights.py"]


def norm(word: str) -> str:
    return _EDGE.sub("", word).casefold()


# -- the names, from the truth ------------------------------------------------------


def _sentence_starts(truth: dict) -> set[int]:
    """Indexes of truth words that begin a sentence (their capital says nothing)."""
    words, starts = truth["words"], set()
    for turn in truth["turns"]:
        idx = [i for i, w in enumerate(words) if w["turn"] == turn["index"]]
        toks, k = turn["text"].split(), 0
        for i in idx:
            while k < len(toks) and norm(toks[k]) != norm(words[i]["word"]):
                k += 1
            if k < len(toks) and (k == 0 or toks[k - 1][-1] in ".?!"):
                starts.add(i)
            k += 1
    return starts


def names_in_truth(truth: dict, tokenizer) -> list[str]:
    """The names an interview's truth speaks: what the glossary would list.

    A name is a capitalised word inside a sentence, never written in lower case in the
    truth (so not "Mining" of a company name when "mining" is spoken too), that the
    recognizer's tokenizer does not hold as one token with its capital (the model knows
    "Europe" and "March" well; such words test nothing). Of two such words in a row the
    first is a given name and the second the name, as a glossary of surnames and places
    lists them.
    """
    words = truth["words"]
    starts = _sentence_starts(truth)
    lower = {norm(w["word"]) for w in words if w["word"][:1].islower()}

    def candidate(i: int) -> bool:
        w = _EDGE.sub("", words[i]["word"])
        return (w[:1].isupper() and i not in starts and w.casefold() not in lower
                and len(tokenizer.encode(" " + w, add_special_tokens=False).ids) >= 2)  # fmt: skip

    names: list[str] = []
    for i in range(len(words)):
        if candidate(i) and not (i + 1 < len(words) and words[i + 1]["turn"] == words[i]["turn"] and candidate(i + 1)):
            name = _EDGE.sub("", words[i]["word"])
            if name not in names:
                names.append(name)
    return names


def common_words(truth: dict, names: list[str], n: int = 10) -> list[str]:
    """The interview's most spoken words of six letters or more that are no name."""
    skip = {x.casefold() for x in names}
    counts = Counter(norm(w["word"]) for w in truth["words"] if len(norm(w["word"])) >= 6 and w["word"][:1].islower())
    return [w for w, _ in counts.most_common() if w not in skip and w.isalpha()][:n]


# -- cached decodings ------------------------------------------------------------------


def _seg_from(d: dict):
    from pipeline.transcript import Segment, Word

    return Segment(**{**d, "words": [Word(**w) for w in d["words"]]})


class DecodeCache:
    """Wraps an engine's `_decode` so each (audio, engine, options, prompt, steering) is decoded once."""

    def __init__(self, engine, directory: Path, fresh: bool = False):
        self.engine, self.dir, self.fresh = engine, directory, fresh
        self.dir.mkdir(parents=True, exist_ok=True)
        self.passes: dict[str, tuple[list, float, bool]] = {}  # "plain"/"steered" -> (segments, seconds, cached)
        # The decoding code is part of the key: a change to it (or to the engine) decodes again.
        asr = ROOT / "pipeline" / "asr"
        code = [asr / f"{type(engine).__module__.rsplit('.', 1)[-1]}.py"] + [asr / f for f in DECODE_CODE]
        self.code = hashlib.sha256(b"".join(f.read_bytes() for f in code if f.is_file())).hexdigest()[:12]
        native = engine._decode

        def decode(gate, options, prompt, hot, progress, p0, p1):
            from pipeline.transcript import Dropped

            opts = repr(dataclasses.replace(options, glossary=()))
            key_text = json.dumps([engine.name, engine.model_name, getattr(engine, "compute_type", None), opts,
                                   prompt, hot, self.code])  # fmt: skip
            digest = hashlib.sha256(gate.audio.tobytes() + key_text.encode()).hexdigest()[:24]
            path = self.dir / f"{digest}.json"
            if path.is_file() and not self.fresh:
                d = json.loads(path.read_text())
                segments = [_seg_from(s) for s in d["segments"]]
                out = segments, d["language"], [Dropped(**x) for x in d["dropped"]]
                seconds, cached = d["seconds"], True
            else:
                t = time.perf_counter()
                out = native(gate, options, prompt, hot, progress, p0, p1)
                seconds, cached = time.perf_counter() - t, False
                path.write_text(json.dumps({"key": key_text, "seconds": seconds, "language": out[1],
                                            "segments": [dataclasses.asdict(s) for s in out[0]],
                                            "dropped": [dataclasses.asdict(x) for x in out[2]]}))  # fmt: skip
            self.passes["steered" if hot else "plain"] = (out[0], seconds, cached)
            return out

        engine._decode = decode


# -- measures ------------------------------------------------------------------------


def false_insertions(transcript, truth: dict, terms: list[str], tolerance: float = TOLERANCE) -> list[dict]:
    """Glossary terms in the transcript where the truth has none within `tolerance`."""
    from bench_names import spoken

    said = {t.casefold(): [o["start"] for o in spoken(truth, t)] for t in terms}
    out = []
    for w in transcript.words:
        key = norm(w.word)
        if key in said and not any(abs(w.start - s) <= tolerance for s in said[key]):
            out.append({"term": w.word, "start": w.start})
    return out


def sounds_alike(index_dir: Path, truth: dict, names: list[str], tolerance: float = TOLERANCE) -> dict:
    """Sounds-alike hits of each name's search, and how many lie at a spoken occurrence of it."""
    from bench_names import spoken

    from index.search import search

    hits = right = 0
    wrong: list[str] = []
    for name in names:
        said = [o["start"] for o in spoken(truth, name)]
        for h in search(index_dir, name, limit=None).hits:
            if h.match in NOT_BY_SOUND:
                continue
            for t0, _ in h.occurrences:
                hits += 1
                if any(abs(t0 - s) <= tolerance for s in said):
                    right += 1
                else:
                    wrong.append(f"{name}@{t0:.1f}")
    return {"hits": hits, "right": right, "precision": right / hits if hits else None, "wrong": wrong}


def exact_first(index_dir: Path, words: list[str]) -> dict[str, bool]:
    from index.search import search

    ok = {}
    for word in words:
        tiers = [TIERS.get(h.match, 1) for h in search(index_dir, word, limit=None).hits]
        ok[word] = bool(tiers) and tiers == sorted(tiers) and tiers[0] == 0
    return ok


def run(video: Path, cache: DecodeCache, label: str, names: list[str], glossary: list[str]) -> dict:
    from bench_names import name_recall
    from wer import wer

    from pipeline.ingest import Ingestor
    from pipeline.library import Library
    from pipeline.options import IngestOptions, TranscribeOptions

    truth_path = video.with_suffix(".truth.json")
    truth = json.loads(truth_path.read_text())
    cache.passes.clear()
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(tmp)
        options = IngestOptions(transcribe=TranscribeOptions(glossary=tuple(glossary), language="en"))
        ingestor = Ingestor(library, options)
        ingestor._engine = cache.engine
        t = time.perf_counter()
        result = ingestor.run([video]).results[0]
        wall = time.perf_counter() - t
        transcript = library.load_transcript(result.video_id)
        recall = name_recall(library.index_dir, truth_path, names)
        decode_s = sum(s for _, s, _ in cache.passes.values())
        decode_wall = sum(s for _, s, cached in cache.passes.values() if not cached)
        return {
            "interview": video.stem,
            "run": label,
            "recall": recall["recall"],
            "found": recall["found"],
            "occurrences": recall["occurrences"],
            "per_name": {n: (r["found"], r["occurrences"], r["by_match"]) for n, r in recall["names"].items()},
            "missed": {n: r["missed"] for n, r in recall["names"].items() if r["missed"]},
            "false_insertions": false_insertions(transcript, truth, names),
            "sounds_alike": sounds_alike(library.index_dir, truth, names),
            "exact_first": exact_first(library.index_dir, common_words(truth, names)),
            "wer": round(wer(video.with_suffix(".ref.txt").read_text(), transcript.text), 4),
            "decode_s": round(decode_s, 1),
            "rest_s": round(wall - decode_wall, 1),
            "passes": {k: [w for s in segs for w in s.words] for k, (segs, _, _) in cache.passes.items()},
            "truth": truth,
        }


# -- diagnosis -------------------------------------------------------------------------


def diagnose(r: dict, names: list[str], span: float = 2.0) -> None:
    """Per spoken occurrence: the plain and steered words near it, and the merge's verdicts there."""
    from bench_names import spoken

    from pipeline.asr.glossary_merge import drop_glossary_echoes, merge_blocks
    from pipeline.transcript import Segment

    pw = r["passes"].get("plain", [])
    sw = r["passes"].get("steered", [])
    sw = [w for s in drop_glossary_echoes([Segment(0, 0, "", sw)], names) for w in s.words] if sw else []
    blocks = merge_blocks(pw, sw, names) if pw and sw else []

    def near(words, t):
        return " ".join(w.word for w in words if abs(w.start - t) <= span)

    for name in names:
        for occ in spoken(r["truth"], name):
            t = occ["start"]
            print(f"  {name} @ {t:.1f}")
            print(f"     plain:   {near(pw, t)}")
            print(f"     steered: {near(sw, t)}")
            for b in blocks:
                i1, i2 = b.plain
                j1, j2 = b.steered
                ts = [w.start for w in pw[i1:i2] + sw[j1:j2]]
                if ts and min(abs(x - t) for x in ts) <= span:
                    old = " ".join(w.word for w in pw[i1:i2])
                    new = " ".join(w.word for w in sw[j1:j2])
                    print(f"     {'TAKEN' if b.words else 'kept plain'}: {old!r} -> {new!r} ({b.rule})")


def diagnose_sounds(r: dict, span: float = 1.5) -> None:
    """Per occurrence the search missed: the words heard near it, and the single word or run of 2-3
    words whose sound key is fewest edits from the name's (the search reaches one edit, a long key's
    start and end, a lost sound with the spelled start: see index/phonetic.py)."""
    from index import phonetic
    from index.normalize import tokens
    from pipeline.asr.glossary_merge import _edits

    words = r["passes"].get("plain", [])
    for name, missed in r.get("missed", {}).items():
        name_keys = phonetic.keys(norm(name))
        for t in missed:
            near = [w for w in words if abs(w.start - t) <= span]
            toks = [tok for w in near for tok in tokens(w.word)]
            best = (99, "", "")
            for i in range(len(toks)):
                for n in range(1, phonetic.MAX_GRAM_WORDS + 1):
                    if i + n <= len(toks):
                        run = toks[i : i + n]
                        for key in phonetic.joined_keys(run) if n > 1 else phonetic.keys(run[0]):
                            d = min(_edits(key, k) for k in name_keys)
                            best = min(best, (d, " ".join(run), key))
            print(f"  missed {name} @ {t:.1f} ({'/'.join(name_keys)}): heard {' '.join(w.word for w in near)!r}; "
                  f"nearest {best[1]!r} {best[2]} {best[0]} sound edits")  # fmt: skip


# -- report ----------------------------------------------------------------------------


def report(runs: list[dict]) -> bool:
    ok = True
    print("| interview | run | name recall | false glossary insertions | sounds-alike precision | exact first "
          "| WER | decode s | rest of ingest s |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in runs:
        sa = r["sounds_alike"]
        prec = f"{sa['precision']:.0%} ({sa['right']}/{sa['hits']})" if sa["hits"] else "no hits"
        print(f"| {r['interview']} | {r['run']} | {r['recall']:.1%} ({r['found']}/{r['occurrences']}) "
              f"| {len(r['false_insertions'])} | {prec} | {sum(r['exact_first'].values())}/{len(r['exact_first'])} "
              f"| {r['wer']:.1%} | {r['decode_s']} | {r['rest_s']} |")  # fmt: skip
    print()
    for r in runs:
        per = ", ".join(f"{n} {f}/{o} {dict(m) if m else ''}".rstrip() for n, (f, o, m) in r["per_name"].items())
        print(f"{r['interview']}, {r['run']}: {per}")
        if r["false_insertions"]:
            print(f"     false insertions: {r['false_insertions']}")
        if r["sounds_alike"]["wrong"]:
            print(f"     sounds-alike hits away from the name: {', '.join(r['sounds_alike']['wrong'])}")
    print()
    by = {(r["interview"], r["run"]): r for r in runs}
    for interview in dict.fromkeys(r["interview"] for r in runs):
        plain, gloss = by.get((interview, "no glossary")), by.get((interview, "glossary"))
        floor_plain, floor_gloss, floor_prec = FLOORS.get(interview, (0.60, 0.90, 0.80))
        checks = {}
        for r, floor in ((plain, floor_plain), (gloss, floor_gloss)):
            if r is None:
                continue
            checks[f"{r['run']}: recall >= {floor:.0%}"] = (r["recall"] >= floor, f"{r['recall']:.1%}")
            checks[f"{r['run']}: no false glossary insertions"] = (not r["false_insertions"],
                                                                   str(len(r["false_insertions"])))  # fmt: skip
            sa = r["sounds_alike"]
            if floor_prec is not None and sa["hits"]:
                checks[f"{r['run']}: sounds-alike precision >= {floor_prec:.0%}"] = (
                    sa["precision"] >= floor_prec, f"{sa['precision']:.0%}")  # fmt: skip
        if plain and gloss:
            checks["WER with glossary no worse than without"] = (
                gloss["wer"] <= plain["wer"] + 1e-9, f"{gloss['wer']:.1%} vs {plain['wer']:.1%}")  # fmt: skip
        for name, (passed, value) in checks.items():
            print(f"{'PASS' if passed else 'FAIL'}  {interview}: {name}: {value}")
            ok = ok and passed
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--interview", action="append", help="a bench interview's name (repeat); default both")
    ap.add_argument("--engine", default="faster-whisper")
    ap.add_argument("--model", default="base")
    ap.add_argument("--diagnose", action="store_true", help="per occurrence: both decodings and the merge's verdicts")
    ap.add_argument("--fresh", action="store_true", help="decode again instead of using bench/out/decodes")
    ap.add_argument("--glossary-only", action="store_true", help="skip the runs without a glossary")
    ap.add_argument("--shared", type=Path, default=SHARED, help="the bench media (default ../shared/bench)")
    ap.add_argument("--cache", type=Path, default=OUT / "decodes", help="where decodings are cached")
    args = ap.parse_args()
    import tokenizers

    from pipeline.asr import load_engine

    engine = load_engine(args.engine, args.model)
    cache = DecodeCache(engine, args.cache, fresh=args.fresh)
    tokenizer = tokenizers.Tokenizer.from_file(str(engine.resolved.path / "tokenizer.json"))
    runs = []
    for interview in args.interview or INTERVIEWS:
        video = args.shared / f"{interview}.mp4"
        truth = json.loads(video.with_suffix(".truth.json").read_text())
        names = names_in_truth(truth, tokenizer)
        print(f"{interview}: names from the truth: {', '.join(names)}", flush=True)
        if not args.glossary_only:
            runs.append(run(video, cache, "no glossary", names, []))
            if args.diagnose:
                diagnose_sounds(runs[-1])
        runs.append(run(video, cache, "glossary", names, names))
        if args.diagnose:
            diagnose(runs[-1], names)
    ok = report(runs)
    OUT.mkdir(exist_ok=True)
    slim = [{k: v for k, v in r.items() if k not in ("passes", "truth", "missed")} for r in runs]
    (OUT / f"glossary-{args.engine}.json").write_text(json.dumps(slim, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
