"""termdict's probe answers "this segment has no such term" only when whoosh's own lookup agrees.

Real whoosh indexes of test_search_segments (one whoosh segment per video, and
merged): every term each segment holds is "maybe there", absent terms are
mostly "certainly not", and a segment stored another way is never skipped.
"""

from __future__ import annotations

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


def test_words_within_an_edit_distance_are_the_automatons(split_and_merged):  # noqa: F811
    from index import soundkeys

    asked = ["harbour", "hrabour", "goverment", "budegt", "skolkavo", "kilcovo", "tax", "relif", "zzyzzx", "ü", "h"]
    for index_dir in split_and_merged:
        with store.searching(index_dir) as cached:
            reader = cached.searcher.reader()
            words = list(reader.field_terms(schema.EXACT))
            assert termdict.vocabulary(reader, schema.EXACT, cached.derived) == sorted(words)
            found = 0
            for word in asked + words[::3]:
                for maxdist in (1, 2, 3):
                    for prefix in (0, 1, 2):
                        if prefix > len(word):
                            continue
                        ours = termdict.terms_within(reader, schema.EXACT, word, maxdist, prefix, cached.derived)
                        whooshs = soundkeys.terms_within(reader, schema.EXACT, word, maxdist, prefix=prefix)
                        assert ours == whooshs, (word, maxdist, prefix)
                        found += len(ours)
            assert found > 300
