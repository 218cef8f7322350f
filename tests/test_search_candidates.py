"""The tolerant tiers found from postings (index.candidates) answer exactly as whoosh's full search does.

Real whoosh indexes (one whoosh segment per video, and merged): every query
of test_search_segments, plus NOT, filters and limits, gives the same hits,
scores, tiers and matched words with the candidate path on and off.
"""

from __future__ import annotations

import pytest
from test_search_segments import QUERIES, split_and_merged  # noqa: F401 - a fixture

from index import candidates, store
from index import search as searchmod

MORE = [
    ("Skolkovo NOT funding", {}), ("harbour NOT budget", {}), ("Skolkavo", {"video": "v2"}),
    ("harbor~", {"speaker": "Omar Haddad"}), ("Skolkavo", {"limit": 1}), ("Kittiwake OR Belarusian", {}),
    ("Skolkavo", {"limit": None}), ("budgit", {"speaker": "nobody"}),
    # several words in the exact and stem tiers (search.SEVERAL_WORDS), with filters, NOT, limits
    ("tax AND relief", {"speaker": "Jane Doe"}), ('"tax relief" NOT small', {}), ("harbour AND the", {"limit": 1}),
    ('"the harbour"', {}), ('"harbour budget"', {"exact": True}), ("tax AND reliefs AND said", {}),
]  # fmt: skip


def _hits(index_dir, q, kw):
    r = searchmod.search(index_dir, q, **kw)
    return [(h.video, h.segment_start, h.start, h.end, h.match, h.score, h.matched) for h in r.hits], r.suggestions


@pytest.mark.slow  # two 100-segment indexes, every query both ways: seconds; the fast tier keeps the rule tests
@pytest.mark.parametrize("which", [0, 1])
def test_candidates_answer_as_whoosh_does(split_and_merged, monkeypatch, which):  # noqa: F811
    index_dir = split_and_merged[which]
    tolerant = 0
    spans = searchmod._spans
    for q, kw in QUERIES + MORE:
        monkeypatch.setattr(searchmod, "TOLERANT", ("phonetic", "fuzzy"))
        monkeypatch.setattr(searchmod, "_spans", spans)
        new = _hits(index_dir, q, kw)
        # whoosh alone: its searches, and the matched words from its own lookups over the whole index
        monkeypatch.setattr(searchmod, "TOLERANT", ())
        monkeypatch.setattr(searchmod, "_spans", lambda searcher, q, docs, read=None: spans(searcher, q, docs))
        old = _hits(index_dir, q, kw)
        assert new == old, (q, kw)
        tolerant += sum(h[4] in ("phonetic", "fuzzy") for h in new[0])
    assert tolerant >= 10  # the path was exercised


def test_candidates_are_a_superset_and_pruning_keeps_the_matches(split_and_merged):  # noqa: F811
    from whoosh import query as Q

    with store.searching(split_and_merged[0]) as cached:
        c = candidates.Candidates(cached.searcher, None)
        q = Q.Or([Q.Term("exact", "harbour"), Q.Term("exact", "nosuchword"), Q.Term("exact", "skolkovo")])
        found = c.search(q, None, set())
        assert len(found) >= 3
        pruned = c.prune(q)
        assert [t.text for t in pruned.subqueries] == ["harbour", "skolkovo"]
        # an OR emptied by pruning keeps one term, so an AND around it still requires it
        c.search(Q.Term("exact", "harbour"), None, set())
        both = Q.And([Q.Term("exact", "harbour"), Q.Or([Q.Term("exact", "nosuchword")])])
        assert c.docs(both) == set()
        assert len(c.prune(both).subqueries[1].subqueries) == 1
        # a NOT is "any segment": the candidates are those of the positive part, whoosh decides the rest
        assert c.docs(Q.And([Q.Term("exact", "harbour"), Q.Not(Q.Term("exact", "budget"))])) == c.term_docs(
            "exact", "harbour"
        )
        assert c.docs(Q.Prefix("exact", "harb")) is None


def test_a_name_heard_as_two_words_is_matched_by_positions(split_and_merged, monkeypatch):  # noqa: F811
    """ "join Skolkovo" heard "nineskill Corvo": found by the two-part Sequence, matched from term positions."""
    found: list[int] = []
    pair_scores = candidates.Candidates._pair_scores

    def spy(self, q, pair, docs):
        out = pair_scores(self, q, pair, docs)
        found.extend(out)
        return out

    monkeypatch.setattr(candidates.Candidates, "_pair_scores", spy)
    hits = searchmod.search(split_and_merged[0], "Skolkovo").hits
    corvo = [h for h in hits if "Corvo" in h.text]
    assert corvo and corvo[0].match == "phonetic" and corvo[0].matched_text == "nineskill Corvo"
    assert found


def test_a_part_of_a_speakers_name_filters_as_the_wildcards_do(split_and_merged):  # noqa: F811
    with store.searching(split_and_merged[0]) as cached:
        s = cached.searcher
        names = searchmod._speaker_names(s.reader(), cached.derived)
        assert "omar haddad" in names
        for who in ("Jane Doe", "doe", "Haddad", "omar", "SPEAKER_2", "nobody", "ja*"):
            by_terms = set(s.docs_for_query(searchmod._filter(s.schema, who, None, names)))
            by_wildcards = set(s.docs_for_query(searchmod._filter(s.schema, who, None)))
            assert by_terms == by_wildcards, who
        assert set(s.docs_for_query(searchmod._filter(s.schema, "haddad", None, names)))


def test_common_words_ranked_once_answer_as_whoosh_does(split_and_merged, monkeypatch):  # noqa: F811
    queries = [("the", {"limit": 2}), ("the", {"limit": 3, "speaker": "Jane Doe"}), ("harbour", {"limit": 1}),
               ("the", {"limit": 2, "video": "v3"}), ("harbour", {}), ("tax", {"limit": 1})]  # fmt: skip
    for index_dir in split_and_merged:
        for q, kw in queries:
            monkeypatch.setattr(searchmod, "PRESORT_DF", 1)
            new = _hits(index_dir, q, kw)
            monkeypatch.setattr(searchmod, "PRESORT_DF", 10**9)
            old = _hits(index_dir, q, kw)
            assert new == old and new[0], (q, kw)
        with store.searching(index_dir) as cached:
            assert ("exact", "the", 1.0) in cached.derived["ranked_postings"]


def test_a_boosted_word_keeps_its_boost_in_every_tier():
    from index import query as querymod

    for text, boost in (("Skolkovo^2", 2.0), ("Skolkovo", 1.0)):
        tiers = dict(querymod.parse(text).tiers())
        assert tiers["phonetic"].boost == boost and tiers["fuzzy"].boost == boost, text


def test_sound_keys_one_edit_away_are_what_whoosh_finds(split_and_merged):  # noqa: F811
    from index import schema, soundkeys

    for index_dir in split_and_merged:
        with store.searching(index_dir) as cached:
            reader = cached.searcher.reader()
            keys = sorted(reader.field_terms(schema.SOUND))
            assert len(keys) > 20
            for key in keys + ["KF", "SKLKF", "X", "ZZQ"]:
                for prefix in (0, 1):
                    assert soundkeys.keys_within_one(reader, key, prefix, cached.derived) == soundkeys.terms_within(
                        reader, schema.SOUND, key, 1, prefix=prefix
                    ), (key, prefix)


def test_ranked_common_words_are_kept_to_a_bound(split_and_merged, monkeypatch):  # noqa: F811
    monkeypatch.setattr(searchmod, "PRESORT_DF", 1)
    monkeypatch.setattr(searchmod, "PRESORT_KEEP", 2)
    index_dir = split_and_merged[1]
    for word in ("the", "harbour", "tax", "skolkovo"):
        assert searchmod.search(index_dir, word, limit=1).hits
    with store.searching(index_dir) as cached:
        assert len(cached.derived["ranked_postings"]) == 2


def test_common_words_ranked_from_postings_as_whoosh_ranks_them(split_and_merged, tmp_path):  # noqa: F811
    """search._ranked_from_postings (a word like "the" scored as arrays) gives whoosh's own ranking: the same
    documents, the same doubles, the same order, with a boost, on one segment per video, one merged, and
    with deleted documents (which count in the idf and are never ranked)."""
    import shutil

    from whoosh import query as Q  # noqa: N812 - whoosh's own name

    from index import schema

    deleted = tmp_path / "deleted"
    shutil.copytree(split_and_merged[0], deleted)
    ix = store.open_named(deleted, store.read_info(deleted)["name"])
    n = ix.doc_count_all()
    with ix.writer() as w:
        for docnum in (0, n // 3, n - 1):
            w.delete_document(docnum)
    for index_dir in (*split_and_merged, deleted):
        with store.searching(index_dir) as cached:
            s = cached.searcher
            assert index_dir != deleted or s.reader().has_deletions()
            for word in ("the", "harbour", "tax", "skolkovo", "nowhere"):
                for boost in (1.0, 2.5):
                    q = Q.Term(schema.EXACT, word, boost=boost)
                    ours = searchmod._ranked_from_postings(s, q, cached.derived)
                    theirs = [(r.docnum, r.score) for r in s.search(q, limit=None)]
                    assert ours == theirs, (index_dir.name, word, boost)
                    assert (word == "nowhere") == (not ours), (index_dir.name, word)
