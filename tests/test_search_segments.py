"""Search results do not depend on how the index is split into whoosh segments, nor on the kept-open searcher.

Real whoosh indexes: the same transcripts committed one video per segment
(no merging) and merged into one segment must answer every kind of query
(exact, phrase, prefix, sounds-alike, fuzzy, suggestions, filters) alike;
a searcher kept open between searches must see every later commit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_index import make_transcript

from index import soundkeys, store, writer
from index.search import search
from index.writer import add_transcript, rebuild, remove_video

TRANSCRIPTS = [
    make_transcript("v1", [
        (10.0, "SPEAKER_1", "We want real tax relief for small firms."),
        (20.0, "SPEAKER_2", "Tax reliefs are running out, said the council."),
        (30.0, "SPEAKER_1", "I run the harbour and the market."),
    ], names={"SPEAKER_1": "Jane Doe"}),
    make_transcript("v2", [
        (5.0, "SPEAKER_1", "Funding for Skolkovo was announced."),
        (15.0, "SPEAKER_1", "They met at Skilcovo last spring."),
        (25.0, "SPEAKER_2", "Kilcovo again, the same place."),
    ]),
    make_transcript("v3", [
        (35.0, "SPEAKER_1", "The Melarussian border is closed."),
        (45.0, "SPEAKER_2", "The Vist Minning company paid for the harbor."),
        (55.0, "SPEAKER_2", "A Kitty Wake nested on the cliff near the harbour budget."),
    ]),
    make_transcript("v4", [
        (5.0, "SPEAKER_1", "The harbour budgit is not a tax, join Skolkovo."),
        (9.0, "SPEAKER_2", "The government said nineskill Corvo twice."),
    ], names={"SPEAKER_2": "Omar Haddad"}),
]  # fmt: skip

QUERIES = [
    ("Skolkovo", {}), ("Skolkavo", {}), ("harbour", {}), ("harbor~", {}), ("budget", {}), ("budgit", {}),
    ('"tax relief"', {}), ("tax AND relief", {}), ("harb*", {}), ("Kittiwake", {}), ("Belarusian", {}),
    ("goverment~", {}), ("harbour", {"speaker": "Jane Doe"}), ("Skolkovo", {"exact": True}), ("zzyzzx", {}),
    ("the", {"limit": 2}),
    # letters swapped: whoosh's own multi-segment fallback (Damerau) found these, its one-segment automaton not
    ("hrabour~", {}), ("budegt~", {}),
]  # fmt: skip


def _one_segment_per_video(index_dir: Path) -> None:
    """The transcripts committed one video at a time with merging off: one whoosh segment each."""
    name = store.create(index_dir)
    ix = store.open_named(index_dir, name)
    for t in TRANSCRIPTS:
        w = ix.writer()
        for doc in writer.documents(t):
            w.add_document(**doc)
        w.commit(merge=False)
    store.switch_to(index_dir, name, videos={t.video_id: len(t.segments) for t in TRANSCRIPTS})


def _segments(index_dir: Path) -> int:
    with store.searching(index_dir) as cached:
        return len(list(cached.searcher.reader().leaf_readers()))


def _answer(index_dir: Path, q: str, kw: dict) -> tuple:
    r = search(index_dir, q, **kw)
    # scores (BM25 over per-segment length statistics) agree to about 0.1 %, not to the last digit
    hits = [(h.video, h.segment_start, h.start, h.end, h.match, round(h.score, 1), h.matched) for h in r.hits]
    return hits, r.exact_found, r.suggestions, r.total


@pytest.fixture(scope="module")
def split_and_merged(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("segments")
    split, merged = root / "split", root / "merged"
    _one_segment_per_video(split)
    shutil.copytree(split, merged)
    name = store.read_info(merged)["name"]
    store.open_named(merged, name).optimize()
    store.switch_to(merged, name, videos={t.video_id: len(t.segments) for t in TRANSCRIPTS})
    return split, merged


def test_the_same_results_whatever_the_segment_count(split_and_merged):
    split, merged = split_and_merged
    assert (_segments(split), _segments(merged)) == (len(TRANSCRIPTS), 1)
    for q, kw in QUERIES:
        assert _answer(split, q, kw) == _answer(merged, q, kw), (q, kw)
    # the tolerant tiers did take part: the comparison covers more than exact words
    assert {h.match for h in search(split, "Skolkovo").hits} == {"exact", "phonetic"}
    assert "fuzzy" in {h.match for h in search(split, "goverment~").hits}


def test_postings_read_from_the_segment_files_answer_alike_whatever_the_segment_count(split_and_merged, monkeypatch):
    """Several words in the exact tiers and every tolerant tier are found, scored and highlighted from the
    postings read from the mapped segment files (termdict.TermProbe.open); one segment per video and one
    merged segment give the same hits, tiers, times and highlights."""
    from index import termdict

    read: list[tuple[str, str]] = []
    opened = termdict.TermProbe.open

    def spy(self, fieldname, text, within=None):
        read.append((fieldname, text))
        return opened(self, fieldname, text, within)

    kept = termdict.TermProbe.kept

    def spy_kept(self, key):  # postings kept from an earlier search of this generation (TermProbe.open)
        read.append(("kept", key))
        return kept(self, key)

    monkeypatch.setattr(termdict.TermProbe, "open", spy)
    monkeypatch.setattr(termdict.TermProbe, "kept", spy_kept)
    split, merged = split_and_merged
    several = [
        ("tax AND relief", {}), ('"tax relief" NOT small', {}), ("harbour AND the", {"limit": 1}),
        ('"harbour budget"', {"exact": True}), ("tax AND reliefs AND said", {}), ("Skolkavo", {"limit": 2}),
        ("Kittiwake OR Belarusian", {}), ("harbour NOT budget", {"speaker": "Jane Doe"}),
        ("Skolkavo", {"video": "v4"}), ("harbor~", {"speaker": "Omar Haddad"}), ("tax AND relief", {"video": "v1"}),
    ]  # fmt: skip
    for q, kw in QUERIES + several:
        read.clear()
        one, many = _answer(merged, q, kw), _answer(split, q, kw)
        assert one == many, (q, kw)
        if q in ("tax AND relief", "Skolkavo", '"tax relief" NOT small'):
            assert read, q  # answered from the postings read, not whoosh's own lookups
    hits = search(split, "tax AND relief").hits
    assert [h.matched_text for h in hits] and all(h.matched_text for h in hits)


def test_fuzzy_words_are_found_in_every_segment(split_and_merged):
    split, merged = split_and_merged
    for d in split_and_merged:
        with store.searching(d) as cached:
            reader = cached.searcher.reader()
            assert soundkeys.terms_within(reader, "exact", "harbor", 1, prefix=1) == ["harbor", "harbour"]
            assert soundkeys.terms_within(reader, "exact", "budget", 1) == ["budget", "budgit"]


def test_sound_key_endings_are_what_a_wildcard_scan_finds(split_and_merged):
    from whoosh import query as Q

    for d in split_and_merged:
        with store.searching(d) as cached:
            reader = cached.searcher.reader()
            for ending in ("SKL", "KL", "K", "NNSKL", "XYZ"):
                scanned = sorted(
                    reader.schema["sound"].from_bytes(b) for b in Q.Wildcard("sound", "*" + ending)._btexts(reader)
                )
                assert soundkeys.keys_ending_with(reader, ending, cached.derived) == scanned, ending
            assert "sound_endings" in cached.derived  # built once for this index generation


def test_a_kept_open_searcher_sees_every_change(tmp_path):
    ix = tmp_path / "index"
    add_transcript(ix, TRANSCRIPTS[0])
    assert {h.video for h in search(ix, "harbour").hits} == {"v1"}
    with store.searching(ix) as cached:
        first = cached.searcher
    add_transcript(ix, TRANSCRIPTS[2])
    assert {h.video for h in search(ix, "harbour").hits} == {"v1", "v3"}
    with store.searching(ix) as cached:
        assert cached.searcher is not first
        again = cached.searcher
    with store.searching(ix) as cached:
        assert cached.searcher is again  # unchanged directory: the same searcher, not reopened
    remove_video(ix, "v1")
    assert {h.video for h in search(ix, "harbour").hits} == {"v3"}
    rebuild(ix, [TRANSCRIPTS[1]])
    assert search(ix, "harbour").hits == [] and search(ix, "Skolkovo").hits
    assert store.check(ix).videos == {"v2": 3}


def test_incremental_ingests_keep_few_segments(tmp_path):
    """Merge policy: each commit merges small segments (whoosh's MERGE_SMALL), so one video
    per ingest does not leave one segment per video."""
    ix = tmp_path / "index"
    for i in range(12):
        add_transcript(ix, make_transcript(f"m{i}", [(0.0, "SPEAKER_1", f"harbour talk number{i}")]))
    assert _segments(ix) <= 4
    assert len(search(ix, "harbour", limit=None).hits) == 12


def test_the_cycle_collector_is_back_as_it_was_after_a_search(split_and_merged):
    import gc

    split, _merged = split_and_merged
    assert gc.isenabled()
    search(split, "Skolkavo")
    assert gc.isenabled()
    gc.disable()
    try:
        search(split, "Skolkavo")
        assert not gc.isenabled()  # an application that turned it off keeps it off
    finally:
        gc.enable()
