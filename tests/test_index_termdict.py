"""termdict's probe answers "this segment has no such term" only when whoosh's own lookup agrees.

Real whoosh indexes of test_search_segments (one whoosh segment per video, and
merged): every term each segment holds is "maybe there", absent terms are
mostly "certainly not", and a segment stored another way is never skipped.
"""

from __future__ import annotations

import pytest
from test_search_segments import split_and_merged  # noqa: F401 - a fixture
from whoosh.reading import TermNotFound

from index import schema, store, termdict

FIELDS = (schema.EXACT, schema.TEXT_FIELD, schema.SOUND, schema.GRAMS, schema.NEAR, schema.SPEAKER)


def _holds(leaf, fieldname: str, text: str) -> bool:
    try:
        leaf.postings(fieldname, text)
    except TermNotFound:
        return False
    return True


def test_probe_never_misses_a_term_and_rules_out_absent_ones(split_and_merged):  # noqa: F811
    for index_dir in split_and_merged:
        with store.searching(index_dir) as cached:
            reader = cached.searcher.reader()
            probes = termdict.probes(reader, cached.derived)
            assert termdict.probes(reader, cached.derived) is probes  # once per index generation
            leaves = [leaf for leaf, _ in reader.leaf_readers()]
            assert len(probes) == len(leaves) and all(isinstance(p, termdict.TermProbe) for p in probes)
            every = {(f, t) for f in FIELDS for t in reader.field_terms(f)}
            absent = {(f, t + "qq") for f, t in every} | {(f, "zz" + t) for f, t in every}
            for leaf, probe in zip(leaves, probes, strict=True):
                missing, ruled_out = 0, 0
                for f, t in sorted(every | absent):
                    held, maybe = _holds(leaf, f, t), probe.may_hold(f, t)
                    assert maybe or not held, (f, t)
                    missing += not held
                    ruled_out += not maybe
                assert ruled_out >= 0.95 * missing  # a false "maybe" only where two hashes meet
                assert not probe.may_hold("nosuchfield", "x")


def test_a_segment_stored_otherwise_is_never_skipped(split_and_merged, monkeypatch):  # noqa: F811
    def broken(leaf):
        raise AttributeError("another codec")

    monkeypatch.setattr(termdict, "TermProbe", broken)
    with store.searching(split_and_merged[0]) as cached:
        probes = termdict.probes(cached.searcher.reader(), None)
        assert probes and all(p.may_hold(schema.EXACT, "zzzz") for p in probes)


@pytest.mark.parametrize("stride", [30, pytest.param(3, marks=pytest.mark.slow)])
def test_words_within_an_edit_distance_are_the_automatons(split_and_merged, stride):  # noqa: F811
    """Every `stride`-th word of the vocabulary besides the asked ones: a sample in the fast tier, a third slow."""
    from index import soundkeys

    asked = ["harbour", "hrabour", "goverment", "budegt", "skolkavo", "kilcovo", "tax", "relif", "zzyzzx", "ü", "h"]
    for index_dir in split_and_merged:
        with store.searching(index_dir) as cached:
            reader = cached.searcher.reader()
            words = list(reader.field_terms(schema.EXACT))
            assert termdict.vocabulary(reader, schema.EXACT, cached.derived) == sorted(words)
            found = 0
            for word in asked + words[::stride]:
                for maxdist in (1, 2, 3):
                    for prefix in (0, 1, 2):
                        if prefix > len(word):
                            continue
                        ours = termdict.terms_within(reader, schema.EXACT, word, maxdist, prefix, cached.derived)
                        whooshs = soundkeys.terms_within(reader, schema.EXACT, word, maxdist, prefix=prefix)
                        assert ours == whooshs, (word, maxdist, prefix)
                        found += len(ours)
            assert found > 200


def test_postings_and_scores_read_from_the_map_are_whooshs(split_and_merged, monkeypatch):  # noqa: F811
    """Every term of every segment: the same documents, weights and values as whoosh's matcher, and the
    same BM25 doubles as whoosh's scorer, in Python (short lists) and with numpy (long ones)."""
    from whoosh import query as Q

    read = 0
    for small in (termdict.SMALL, 0):
        monkeypatch.setattr(termdict, "SMALL", small)
        for index_dir in split_and_merged:
            with store.searching(index_dir) as cached:
                searcher = cached.searcher
                reader = searcher.reader()
                probes = termdict.probes(reader, cached.derived)
                subs = dict((offset, sub) for sub, offset in searcher.leaf_searchers())
                for (leaf, base), probe in zip(reader.leaf_readers(), probes, strict=True):
                    for f in FIELDS[:-1]:  # the speaker field is an ID field: never scored by us
                        for t in reader.field_terms(f):
                            got = probe.postings(f, t)
                            if not _holds(leaf, f, t):
                                assert got is None, (f, t)
                                continue
                            ids, weights, values, df = got
                            m = leaf.postings(f, t)
                            whooshs = []
                            while m.is_active():
                                whooshs.append((m.id(), m.weight(), m.value()))
                                m.next()
                            assert list(zip(ids, weights, values, strict=True)) == whooshs, (f, t)
                            assert df == leaf.doc_frequency(f, t)
                            scores = termdict.bm25_scores(
                                searcher, f, reader.doc_frequency(f, t), weights, probe.field_lengths(f), ids
                            )
                            m = Q.Term(f, t).matcher(subs[base], searcher.context())
                            expected = []
                            while m.is_active():
                                expected.append(m.score())
                                m.next()
                            assert scores == expected, (f, t)  # equal doubles, not approximately
                            read += 1
                    assert probe.postings(schema.SOUND, "QQQQQ") is None
    assert read > 1000


def test_deleted_segments_are_left_out_as_whoosh_leaves_them_out(tmp_path):
    from test_search_segments import TRANSCRIPTS, _one_segment_per_video

    index_dir = tmp_path / "index"
    _one_segment_per_video(index_dir)
    ix = store.open_named(index_dir, store.read_info(index_dir)["name"])
    w = ix.writer()
    w.delete_by_term(schema.VIDEO, TRANSCRIPTS[1].video_id)
    w.commit(merge=False)
    with store.searching(index_dir) as cached:
        reader = cached.searcher.reader()
        assert reader.has_deletions()
        probes = termdict.probes(reader, cached.derived)
        compared = 0
        for (leaf, _base), probe in zip(reader.leaf_readers(), probes, strict=True):
            for t in reader.field_terms(schema.SOUND):
                if not _holds(leaf, schema.SOUND, t):
                    continue
                ids = probe.postings(schema.SOUND, t)[0]
                assert ids == list(leaf.postings(schema.SOUND, t).all_ids()), t
                compared += bool(leaf.has_deletions())
        assert compared


def test_postings_of_a_segment_not_compounded(tmp_path):
    """A segment written as separate files (as a multi-process rebuild leaves it) is read from its own files."""
    from test_search_segments import TRANSCRIPTS

    from index import writer

    index_dir = tmp_path / "index"
    name = store.create(index_dir)
    ix = store.open_named(index_dir, name)
    w = ix.writer(compound=False)
    for t in TRANSCRIPTS:
        for doc in writer.documents(t):
            w.add_document(**doc)
    w.commit()
    store.switch_to(index_dir, name, videos={t.video_id: len(t.segments) for t in TRANSCRIPTS})
    assert any(p.suffix == ".pst" for p in index_dir.iterdir())
    with store.searching(index_dir) as cached:
        reader = cached.searcher.reader()
        (leaf, _base), probe = reader.leaf_readers()[0], termdict.probes(reader, cached.derived)[0]
        assert isinstance(probe, termdict.TermProbe)
        terms = list(reader.field_terms(schema.SOUND))
        for t in terms:
            assert probe.postings(schema.SOUND, t)[0] == list(leaf.postings(schema.SOUND, t).all_ids()), t
        assert len(terms) > 20


def test_postings_within_some_documents_decode_only_their_blocks(tmp_path):
    """A term in 1,000 documents (8 blocks of whoosh's 128): asked for a few documents, the postings
    hold all of theirs and fewer blocks' worth; asked for none of a segment's, nothing is decoded."""
    from whoosh import index
    from whoosh.fields import TEXT, Schema

    ix = index.create_in(tmp_path, Schema(t=TEXT(phrase=True)))
    w = ix.writer()
    for i in range(1000):
        w.add_document(t=f"harbour w{i % 7}")
    w.commit()
    with ix.searcher() as s:
        leaf = s.reader()
        probe = termdict.TermProbe(leaf)
        every = probe.postings("t", "harbour")
        assert every[0] == list(leaf.postings("t", "harbour").all_ids()) and every[3] == 1000
        for within in ([3, 5], [130, 900], [999], [0, 500, 999], list(range(0, 1000, 50))):
            ids, weights, values, df = probe.postings("t", "harbour", within)
            assert set(within) <= set(ids) and df == 1000
            assert len(ids) <= 128 * len(within) < 1000 or len(within) >= 8
            m = leaf.postings("t", "harbour")
            m.skip_to(ids[0])
            assert (m.id(), m.value()) == (ids[0], values[0])
        assert probe.postings("t", "harbour", [])[0] == []


def test_document_numbers_decoded_alone_are_whooshs(split_and_merged, tmp_path, monkeypatch):  # noqa: F811
    """TermPostings.ids (each block's documents unpickled alone from the start of the block) gives whoosh's
    documents for every term of every segment, and decodes no block whole; read() then gives whoosh's postings."""
    from whoosh import index
    from whoosh.fields import TEXT, Schema

    whole = termdict.TermPostings._decode
    decoded: list[int] = []

    def counting(self, k):
        decoded.append(k)
        return whole(self, k)

    monkeypatch.setattr(termdict.TermPostings, "_decode", counting)
    ix = index.create_in(tmp_path, Schema(t=TEXT(phrase=True)))
    w = ix.writer()
    for i in range(3000):  # ids past 255 and 65,535 apart: every width of pickled int; blocks of one to three
        w.add_document(t=f"harbour w{i % 7} {'rare' if i % 1000 == 0 else ''} {'far' if i in (0, 2999) else ''}")
    w.commit()
    with ix.searcher() as s:
        leaf = s.reader()
        probe = termdict.TermProbe(leaf)
        for t in ("harbour", "w3", "rare", "far"):
            got = probe.open("t", t)
            assert got.ids() == list(leaf.postings("t", t).all_ids()), t
        assert not decoded
    for index_dir in split_and_merged:
        with store.searching(index_dir) as cached:
            reader = cached.searcher.reader()
            for (leaf, _base), probe in zip(reader.leaf_readers(), termdict.probes(reader, None), strict=True):
                for f in FIELDS[:-1]:
                    for t in reader.field_terms(f):
                        got = probe.open(f, t)
                        if got is None:
                            continue
                        n = len(decoded)
                        assert got.ids() == list(leaf.postings(f, t).all_ids()), (f, t)
                        assert len(decoded) == n  # no block decoded whole for its documents
                        ids, weights, values, df = got.read(got.ids()[-1:])  # the last block only, then all
                        assert ids[-1] == got.ids()[-1] and len(ids) <= 128 and df == got.df
                        assert got.read() == probe.postings(f, t), (f, t)


def test_terms_ruled_out_together_are_those_whooshs_lookup_does_not_find(split_and_merged):  # noqa: F811
    """TermProbe.absent (the hash table's slots read for many terms at once) says "certainly absent" only of
    terms whoosh does not find, and of most terms it does not find."""
    for index_dir in split_and_merged:
        with store.searching(index_dir) as cached:
            reader = cached.searcher.reader()
            probes = termdict.probes(reader, cached.derived)
            for (leaf, _base), probe in zip(reader.leaf_readers(), probes, strict=True):
                for f in FIELDS:
                    held = list(reader.field_terms(f))
                    texts = held + [t + "qq" for t in held] + ["zz" + t for t in held]
                    for rounds in (1, 8):
                        absent = probe.absent(f, texts, rounds)
                        missing = ruled_out = 0
                        for t, out in zip(texts, absent.tolist(), strict=True):
                            there = _holds(leaf, f, t)
                            assert not (out and there), (f, t)
                            missing += not there
                            ruled_out += out
                        assert ruled_out >= (0.95 if rounds == 8 else 0.5) * missing, (f, rounds)
                assert not probe.absent("nosuchfield", ["x"]).any()


def test_a_segments_words_read_from_the_map_are_whooshs(split_and_merged):  # noqa: F811
    """TermProbe.words (a field's keys scanned in the mapped term file) lists what whoosh's field_terms does,
    for every field of every segment; the vocabulary and the sound keys made from them are whoosh's too."""
    from index import soundkeys

    for index_dir in split_and_merged:
        with store.searching(index_dir) as cached:
            reader = cached.searcher.reader()
            for (leaf, _base), probe in zip(reader.leaf_readers(), termdict.probes(reader, None), strict=True):
                for f in (*FIELDS, schema.VIDEO, schema.SPEAKER_LABEL):
                    assert probe.words(f) == list(leaf.field_terms(f)), f
                with pytest.raises(termdict.Unreadable):
                    probe.words("nosuchfield")
            for f in FIELDS:
                assert termdict.vocabulary(reader, f, None) == sorted(set(reader.field_terms(f))), f
            assert soundkeys.known_keys(reader, None) == frozenset(reader.field_terms(schema.SOUND))
            assert soundkeys.keys_ending_with(reader, "K", None) == sorted(
                k for k in reader.field_terms(schema.SOUND) if k.endswith("K")
            )
