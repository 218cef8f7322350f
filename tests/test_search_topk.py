"""A tolerant tier's page found from score bounds (candidates.Candidates._top) is the page of scoring every candidate.

Real whoosh indexes of a few hundred segments (one whoosh segment per three videos,
and merged into one) where names and their sounds-alike neighbours (heard whole, a
sound off, split in two words) are spread among common words: every query, limit
and filter gives the same hits, scores, tiers, order and matched words with the
bounds on and off, and the bounds do leave candidates unscored.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from test_index import make_transcript

from index import candidates, store, writer
from index import search as searchmod

COMMON = ("the and we said tax relief harbour budget market council people government money year "
          "border company paid place spring again funding announced").split()  # fmt: skip
ODD = ["Skolkovo", "Skilcovo", "Kilcovo", "Skolkava", "nineskill Corvo", "skol kovo", "Skolkov", "Scolkovo",
       "Kittiwake", "Kitty Wake", "Belarusian", "Melarussian", "brebrekilkilx", "brebre kilkilx", "brebrekilx",
       "goverment", "governmint", "harbor", "harbours", "Skolko", "kovo", "Kolkova"]  # fmt: skip


def _transcripts(videos: int = 12, per_video: int = 14) -> list:
    rng = random.Random(7)
    out = []
    for v in range(videos):
        segs = []
        for s in range(per_video):
            words = rng.choices(COMMON, k=rng.randint(4, 14))
            for _ in range(rng.choice((0, 0, 1, 1, 2))):
                words.insert(rng.randrange(len(words) + 1), rng.choice(ODD))
            segs.append((s * 10.0, rng.choice(("SPEAKER_1", "SPEAKER_2")), " ".join(words)))
        out.append(make_transcript(f"t{v:02d}", segs, names={"SPEAKER_1": "Jane Doe"} if v % 3 == 0 else None))
    return out


@pytest.fixture(scope="module")
def indexes(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("topk")
    split, merged = root / "split", root / "merged"
    transcripts = _transcripts()
    name = store.create(split)
    ix = store.open_named(split, name)
    for first in range(0, len(transcripts), 3):  # three videos a whoosh segment
        w = ix.writer()
        for t in transcripts[first : first + 3]:
            for doc in writer.documents(t):
                w.add_document(**doc)
        w.commit(merge=False)
    videos = {t.video_id: len(t.segments) for t in transcripts}
    store.switch_to(split, name, videos=videos)
    shutil.copytree(split, merged)
    store.open_named(merged, name).optimize()
    store.switch_to(merged, name, videos=videos)
    return split, merged


QUERIES = ["Skolkavo", "tax AND relief", "brebrekilkilx", "Kittiwake", "Belarusian", "goverment~", "harbor~",
           "Kolkovo", '"tax relief"', "Skolkavo OR Kittiwake", "Skolkovo", "people AND money AND said"]  # fmt: skip
ASKED = [{"limit": 1}, {"limit": 3}, {"limit": 7}, {}, {"limit": 40}, {"speaker": "Jane Doe", "limit": 5},
         {"video": "t03", "limit": 2}]  # fmt: skip


def _hits(index_dir: Path, q: str, kw: dict) -> list[tuple]:
    r = searchmod.search(index_dir, q, **kw)
    return [(h.video, h.segment_start, h.start, h.end, h.match, h.score, h.matched) for h in r.hits]


def _compare(indexes, monkeypatch, queries: list[str], asked: list[dict]) -> int:
    """Every query both ways on both indexes; how many candidates the bounds left unscored."""
    skipped = 0
    top = candidates.Candidates._top

    def counting(self, q, want, pool, bounds):
        nonlocal skipped
        scored: set[int] = set()
        scores = self.scores

        def spy(q2, docs):
            if q2 is q:
                scored.update(docs)
            return scores(q2, docs)

        self.scores = spy
        try:
            return top(self, q, want, pool, bounds)
        finally:
            del self.scores
            skipped += len(pool) - len(scored)

    monkeypatch.setattr(candidates.Candidates, "_top", counting)
    split, merged = indexes
    with store.searching(split) as a, store.searching(merged) as b:
        assert (len(a.searcher.reader().leaf_readers()), len(b.searcher.reader().leaf_readers())) == (4, 1)
    for index_dir in indexes:
        for q in queries:
            for kw in asked:
                monkeypatch.setattr(candidates, "TOP_K", True)
                new = _hits(index_dir, q, kw)
                monkeypatch.setattr(candidates, "TOP_K", False)
                old = _hits(index_dir, q, kw)
                assert new == old, (index_dir.name, q, kw)
    return skipped


def test_the_page_from_bounds_is_the_page_from_every_score(indexes, monkeypatch):
    skipped = _compare(indexes, monkeypatch, QUERIES[:4], [{"limit": 1}, {}, {"speaker": "Jane Doe", "limit": 5}])
    assert skipped > 100  # candidates whose bound could not reach the page were never scored


@pytest.mark.slow  # every query, limit and filter both ways: seconds
def test_every_query_limit_and_filter_from_bounds_is_as_from_every_score(indexes, monkeypatch):
    assert _compare(indexes, monkeypatch, QUERIES, ASKED) > 500


def test_a_bound_is_never_below_the_score(indexes):
    """Every candidate of a sounds-alike tier: its bound (from its terms' greatest weights) >= its score."""
    from index import query as querymod

    for index_dir in indexes:
        with store.searching(index_dir) as cached:
            s = cached.searcher
            for word in ("Skolkavo", "brebrekilkilx", "Kittiwake", "goverment"):
                tiers = dict(querymod.parse(word).tiers())
                c = candidates.Candidates(s, None, cached.derived)
                for tier in ("phonetic", "fuzzy"):
                    q = searchmod._expand_fuzzy(tiers[tier], s.reader(), {None: cached.derived})
                    pool = c.docs(q)
                    docs, bounds = c.bounds(q, pool)
                    scores = c.scores(q, pool)
                    assert len(scores) >= 5, word
                    for d, b in zip(docs.tolist(), bounds.tolist(), strict=True):
                        assert scores.get(d, 0.0) <= b * (1 + 1e-9), (word, tier, d)


def test_postings_kept_per_generation_answer_as_postings_read(indexes, monkeypatch):
    """The terms' block headers and document numbers kept per index generation (termdict.TermProbe.open),
    evicted and not, and the expansions' segments kept with them (search._keep), give every query the hits,
    scores and order of postings read from the files."""
    from index import termdict

    def forget(index_dir: Path) -> int:
        with store.searching(index_dir) as cached:
            probes = termdict.probes(cached.searcher.reader(), cached.derived)
            kept = sum(len(p._common) for p in probes)
            for p in probes:
                p._common.clear()
                p._held = 0
            for key in ("expanded", "expanded_by_id", "expanded_ids", "term_where"):  # (search._keep, _open)
                cached.derived.pop(key, None)
        return kept

    queries, asked = QUERIES[:4], [{"limit": 3}, {"speaker": "Jane Doe", "limit": 5}]
    for index_dir in indexes:
        monkeypatch.setattr(termdict, "COMMON", 10**9)  # nothing kept
        forget(index_dir)
        read = [_hits(index_dir, q, kw) for q in queries for kw in asked]
        assert forget(index_dir) == 0
        monkeypatch.setattr(termdict, "COMMON", 1)
        for held in (10**9, 40):  # all kept; the least recently used dropped beyond 40 postings a segment
            monkeypatch.setattr(termdict, "COMMON_HELD", held)
            first = [_hits(index_dir, q, kw) for q in queries for kw in asked]
            again = [_hits(index_dir, q, kw) for q in queries for kw in asked]
            assert first == read and again == read, (index_dir.name, held)
            assert forget(index_dir) > (4 if held == 10**9 else 0)
