"""A tier's hits found from postings: candidates first, whoosh matching and scoring only those.

A sounds-alike or spelled-alike tier is an OR of hundreds of terms, most of
them in no segment; whoosh stepped through a union matcher of all of them,
twice (hits, then word positions). Here each term's segments are read once
from the mapped postings (termdict), combined as the query says, bounded by
BM25 so only segments that can reach the page are scored, and the query is
pruned to the terms that occur in them: the same hits, scores and order as
whoosh's full search (tests/test_search_candidates.py, tests/test_search_topk.py).
Split out of index.search, which decides the tiers and builds the hits.
"""

from __future__ import annotations

import bisect
import copy
import heapq
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from whoosh import query as Q
from whoosh.matching import ListMatcher, NullMatcher, ReadTooFar, WrappingMatcher
from whoosh.reading import IndexReader, TermNotFound
from whoosh.searching import Searcher

from . import query as querymod
from . import schema, soundkeys, termdict

_MANY = 1 << 40  # Candidates._estimate of what whoosh reads
TOP_K = True  # a tier's page found by bounds (Candidates._top); off: every candidate scored
_FEW = 16  # a term in up to this many candidates is bounded in Python, in more with numpy
_WHERE_HELD = 200_000  # terms whose kept postings (or absence) are known per generation (Candidates._open)
_SCREEN = 16  # terms not known to be held or not, at least, for Candidates._screen to look them up together
_AS_SET = 256  # a term in up to this many segments is also held as a set (see Candidates.within)
_NONE = np.empty(0, dtype=np.int64)


class _ReadTerm(Q.Term):
    """A term matched from postings already read (one segment's), not looked up by whoosh again;
    scored from `scores` (the term's BM25 by document number, Candidates.term_scores) when given."""

    def __init__(self, term: Q.Term, postings: termdict.Postings | None, scores: dict | None, base: int):
        super().__init__(term.fieldname, term.text, boost=term.boost)
        self.postings, self.scores, self.base = postings, scores, base

    def estimate_size(self, ixreader) -> int:  # noqa: ANN001 - the segment's count, as whoosh's lookup gives it
        return self.postings[3] if self.postings else 0

    def matcher(self, searcher, context=None):  # noqa: ANN001, ANN201 - whoosh's signature
        if not self.postings or self.fieldname not in searcher.schema:
            return NullMatcher()
        ids, weights, values, _df = self.postings
        field = searcher.schema[self.fieldname]
        scorer = None if self.scores is None else _Scored(self.scores, self.base)
        m = _ListMatcher(ids, weights, values, field.format, scorer, term=(self.fieldname, field.to_bytes(self.text)))
        return m if self.boost == 1.0 else WrappingMatcher(m, boost=self.boost)


class _ReadPhrase(Q.Phrase):
    """A phrase matched as whoosh's Phrase.matcher does (a SpanNear2 of its words), from read postings."""

    def __init__(self, phrase: Q.Phrase, words: list[_ReadTerm]):
        super().__init__(phrase.fieldname, phrase.words, slop=phrase.slop, boost=phrase.boost)
        self.read = words

    def matcher(self, searcher, context=None):  # noqa: ANN001, ANN201 - whoosh's signature
        if any(not w.postings for w in self.read):  # a word the segment does not hold
            return NullMatcher()
        m = Q.SpanNear2(self.read, slop=self.slop, ordered=True, mindist=1).matcher(searcher, context)
        return m if self.boost == 1.0 else WrappingMatcher(m, boost=self.boost)


class _Scored:
    """A scorer handing out scores computed beforehand (by global document number)."""

    def __init__(self, scores: dict[int, float], base: int):
        self.scores, self.base = scores, base

    def score(self, matcher) -> float:  # noqa: ANN001
        return self.scores[self.base + matcher.id()]

    def supports_block_quality(self) -> bool:
        return False

    def max_quality(self) -> float:
        return max(self.scores.values(), default=0.0)

    def block_quality(self, matcher) -> float:  # noqa: ANN001
        return self.max_quality()


class _ListMatcher(ListMatcher):
    """whoosh's ListMatcher, skipping by bisection (a read posting list can be long)."""

    def skip_to(self, id):  # noqa: A002, ANN001, ANN201 - whoosh's signature
        if not self.is_active():
            raise ReadTooFar
        if id > self.id():
            self._i = bisect.bisect_left(self._ids, id, self._i)


class Candidates:
    """A tolerant tier's hits found from postings, not by whoosh stepping through its unions.

    A sounds-alike or spelled-alike query is an OR of hundreds of terms (most
    absent from the index); whoosh walks every posting of every one of them
    through a tree of union matchers, and does it again for the word positions.
    Here the segments that can match come first, as sets of document numbers
    read once from each term's postings (shared by the tiers of one search),
    less those earlier tiers found and those the filter excludes. Only those
    candidates are then matched and scored by whoosh, with the terms that occur
    in none of them dropped from the query: the same segments and the same
    BM25 scores as the full query gives, since a term absent from a segment
    adds nothing to its score, and the same order (score, then segment number).
    """

    def __init__(self, searcher: Searcher, flt: Q.Query | None, derived: dict[str, Any] | None = None):
        self.searcher = searcher
        self.flt = flt
        self._derived = derived
        self._probes: list | None = None  # see termdict: made on the first term looked up
        self._keys: frozenset[str] | None = None  # the index's sound keys (soundkeys.known_keys)
        self._bases: list[int] = []  # each segment's first document number
        self._allowed: set[int] | None = None
        # a term's segments: a sorted array (term_ids), and as a set too when asked for or short (term_docs)
        self._arrays: dict[tuple[str, str], np.ndarray] = {}
        self._terms: dict[tuple[str, str], set[int]] = {}
        # a term's postings in the mapped segment files: [(segment, base, its postings there)] and its
        # document frequency; None when whoosh read them (then whoosh scores it too)
        self._postings: dict[tuple[str, str], tuple[list[tuple[int, int, termdict.TermPostings]], int] | None] = {}
        self._term_scores: dict[tuple[str, str], dict[int, float] | None] = {}
        self._docs: dict[int, tuple[Q.Query, np.ndarray | None]] = {}  # id(query) -> (query, its _ids)
        self._sets: dict[int, tuple[Q.Query, set[int] | None]] = {}  # id(query) -> (query, docs)
        self._asked: tuple[set[int], np.ndarray] | None = None  # the last segments within() was asked about
        self._narrowed: tuple[Q.Query, Q.Query] | None = None  # a tier's query and it pruned to the candidates
        self._local: dict[int, list[int]] | None = None  # see _within
        self._sizes: dict[int, tuple[Q.Query, int]] = {}  # id(query) -> (query, _estimate)
        self._pool: set[int] = set()
        # True: a term's blocks decoded whole when its segments are asked for (an AND or a phrase of the
        # exact tiers scores and places nearly all of them); False: their document numbers alone first
        # (a tolerant tier's few hundred terms, most of whose blocks hold no segment that can be ranked)
        self.eager = False
        self._lengths: dict[tuple[int, str], bytes] = {}  # (segment, field) -> its length bytes
        self._where: tuple[np.ndarray, dict[int, int]] | None = None  # see _positions_in
        self._ordinary: dict[str, bool] = {}  # see _is_ordinary

    def search(self, q: Q.Query, want: int | None, seen: set[int]) -> list[tuple[int, float]] | None:
        """The tier's (docnum, score) best first, or None when `q` has a part only whoosh can enumerate."""
        self._screen(q)
        pool = self.docs(q)
        if pool is None:
            return None
        pool = pool - seen
        allowed = self.allowed()
        if allowed is not None:
            pool &= allowed
        self._pool = pool
        if want is not None and len(pool) > want and TOP_K:
            # bounded and scored without the parts that hold no candidate (most of a sounds-alike OR's terms)
            narrowed = self.prune(q, pool, keep=True)
            self._narrowed, q = (q, narrowed), narrowed
            bounds = self.bounds(q, pool)
            if bounds is not None:
                return self._top(q, want, pool, bounds)
        scored = self.scores(q, pool).items()
        return sorted(scored, key=_ORDER) if want is None else heapq.nsmallest(want, scored, key=_ORDER)

    def _top(
        self, q: Q.Query, want: int, pool: set[int], bounds: tuple[np.ndarray, np.ndarray]
    ) -> list[tuple[int, float]]:
        """The `want` best of `pool` as scores() ranks them all, scoring only the segments whose bound
        (see bounds) reaches the `want`-th best score found among those of greatest bounds.

        A sounds-alike tier's candidates are the segments holding any of a few hundred terms; ranking
        them all decoded every block of every term for its weights and positions (a name heard split
        is matched word by word). Most candidates hold one common sound key and cannot reach the page;
        their blocks are never decoded."""
        docs, mine = bounds
        order = np.lexsort((docs, -mine))  # greatest bound first
        docs, lowest = docs[order], -mine[order]  # lowest ascending: bounds descending
        best: list[tuple[int, float]] = []
        at, size = 0, want
        while at < len(docs):
            end = min(len(docs), at + size)
            if len(best) >= want:  # the rest can reach the page only with a bound up to the want-th score
                floor = best[-1][1]
                floor -= 1e-9 * abs(floor) + 1e-12  # sums in another order differ in the last bits
                end = min(end, int(np.searchsorted(lowest, -floor, side="right")))
                if end <= at:
                    break
            found = self.scores(q, set(docs[at:end].tolist()))
            best = heapq.nsmallest(want, [*best, *found.items()], key=_ORDER)
            at, size = end, 2 * size
        return best

    def bounds(self, q: Q.Query, docs: set[int]) -> tuple[np.ndarray, np.ndarray] | None:
        """`docs` (sorted) and a score scores() cannot exceed in each that `q` may match, from which terms
        it holds (their segment sets), its field lengths and each term's greatest weight: BM25 grows with
        a term's weight. None when `q` has a part scored otherwise (whoosh's matchers) or not bounded here."""
        if not boundable(q):
            return None
        every = np.sort(np.fromiter(docs, dtype=np.int64, count=len(docs)))
        out = np.zeros(len(every), dtype=np.float64)
        return (every, out) if self._bound(q, docs, 1.0, (every, out)) else None

    def _length_bytes(self, i: int, fieldname: str) -> bytes:
        """Segment `i`'s field lengths of a field, one byte a document (termdict.TermProbe.field_lengths)."""
        got = self._lengths.get((i, fieldname))
        if got is None:
            got = self._lengths[(i, fieldname)] = self._probes[i].field_lengths(fieldname)  # type: ignore[index]
        return got

    def _positions_in(self, every: np.ndarray) -> dict[int, int]:
        """Where each document of `every` (bounds' sorted candidates) is in it, made once per array."""
        if self._where is None or self._where[0] is not every:
            self._where = (every, {d: k for k, d in enumerate(every.tolist())})
        return self._where[1]

    def _bound(self, q: Q.Query, docs: set[int], mult: float, into: tuple[np.ndarray, np.ndarray]) -> bool:
        if q is Q.NullQuery or not docs:
            return True
        boost = getattr(q, "boost", 1.0)
        if not boost > 0:
            return False
        if isinstance(q, querymod.UnlessOrdinary):
            return self._is_ordinary(q) or self._bound(q.child, docs, mult, into)
        if type(q) is Q.Or and not q.scale and not q.minmatch:
            if len(q.subqueries) == 1:  # whoosh drops the boost of an OR of one part (never more than it)
                return self._bound(q.subqueries[0], docs, mult * max(boost, 1.0), into)
            return all(self._bound(c, docs, mult * boost, into) for c in q.subqueries)
        if type(q) is Q.Sequence and _word_pair(q) is not None:  # scored as its parts' sum (_pair_scores)
            inside = self.within(q, docs)
            return all(self._bound(c, inside, mult * boost, into) for c in q.subqueries)  # type: ignore[arg-type]
        if type(q) is Q.And:  # whoosh's intersection: its parts' sum, boosted when there are several
            inside = self.within(q, docs)
            boost = boost if len(q.subqueries) > 1 else max(boost, 1.0)
            return all(self._bound(c, inside, mult * boost, into) for c in q.subqueries)  # type: ignore[arg-type]
        if type(q) is not Q.Term:
            return False
        posts = self._open(q.fieldname, q.text)
        if posts is None or self._term_scores.get((q.fieldname, q.text), {}) is None:
            return False
        held = self.within(q, docs)
        if not held:
            return True
        mult *= boost
        try:
            if len(held) <= _FEW:  # a few segments: in Python (numpy's calls cost more than they save)
                position, out = self._positions_in(into[0]), into[1]
                bound = termdict.bm25_bound_of(self.searcher, q.fieldname, posts[1])
                for d in held:
                    for seg in posts[0]:  # the segment holding d
                        if d <= seg[1] + seg[2].maxid:
                            break
                    i, base, post = seg
                    length = self._length_bytes(i, q.fieldname)[d - base]
                    out[position[d]] += bound(post.weight_at(d - base), length) * mult
                return True
            ids = np.fromiter(held, dtype=np.int64, count=len(held))
            for i, base, post in posts[0]:
                local = ids[(ids >= base) & (ids <= base + post.maxid)] - base
                if not len(local):
                    continue
                lengths = np.frombuffer(self._length_bytes(i, q.fieldname), dtype=np.uint8)
                got = termdict.bm25_bound(self.searcher, q.fieldname, posts[1], post.weights_at(local), lengths, local)
                every, out = into
                out[np.searchsorted(every, local + base)] += got * mult
        except termdict.Unreadable:
            return False
        return True

    def allowed(self) -> set[int] | None:
        """The segments the filter lets through (None: no filter), found once per search."""
        if self.flt is not None and self._allowed is None:
            self._allowed = set(self.searcher.docs_for_query(self.flt))
        return self._allowed

    def scores(self, q: Q.Query, docs: set[int]) -> dict[int, float]:
        """whoosh's score of `q` in each segment of `docs` that `q` matches.

        An OR's score is the sum of its matching parts' (times its boost; one
        part alone is that part, unboosted, as whoosh has it): each part is
        scored on its own candidates, so a term is read only where it occurs
        and a phrase-like part is matched by whoosh only where all its words are.
        """
        if not docs:
            return {}
        if isinstance(q, querymod.UnlessOrdinary):
            return {} if self._is_ordinary(q) else self.scores(q.child, docs)
        if isinstance(q, Q.Or) and not q.scale and not q.minmatch and len(q.subqueries) > 1:
            parts = [(c, self.within(c, docs)) for c in q.subqueries]
            if all(d is not None for _, d in parts):
                out: dict[int, float] = {}
                for c, inside in parts:
                    if not inside:
                        continue
                    raw = self._scores_in(c.fieldname, c.text, docs) if type(c) is Q.Term else None
                    if raw is not None:  # a term read from the segment files: its scores, in `docs`, added as is
                        get, boost = out.get, c.boost
                        for d in inside:
                            score = raw.get(d)
                            if score is not None:
                                out[d] = get(d, 0.0) + (score * boost if boost != 1.0 else score)
                        continue
                    for d, score in self.scores(c, inside).items():  # type: ignore[arg-type]
                        out[d] = out.get(d, 0.0) + score
                if q.boost != 1.0:
                    out = {d: score * q.boost for d, score in out.items()}
                return out
        if isinstance(q, Q.Or) and len(q.subqueries) == 1:
            return self.scores(q.subqueries[0], docs)
        if isinstance(q, Q.Term):
            raw = self._scores_in(q.fieldname, q.text, docs)
            if raw is not None:  # as whoosh's matcher scores it, times the term's boost (its WrappingMatcher)
                hits = [d for d in docs if d in raw] if len(docs) <= len(raw) else [d for d in raw if d in docs]
                if q.boost != 1.0:
                    return {d: raw[d] * q.boost for d in hits}
                return {d: raw[d] for d in hits}
        pair = _word_pair(q)
        if pair is not None:
            return self._pair_scores(q, pair, docs)
        pruned = q if isinstance(q, Q.Term) else self.prune(q, docs)
        context = self.searcher.context()
        out = {}
        for sub, offset in self.searcher.leaf_searchers():
            end = offset + sub.doc_count_all()
            ids = sorted(d - offset for d in docs if offset <= d < end)
            if not ids:
                continue
            m = self.read_terms(pruned, offset, ids, scoring=True).matcher(sub, context)
            for d in ids:
                if not m.is_active():
                    break
                if m.id() < d:
                    m.skip_to(d)
                if m.is_active() and m.id() == d:
                    out[offset + d] = m.score()
        return out

    def _pair_scores(self, q: Q.Sequence, pair: tuple[list[Q.Term], list[Q.Term]], docs: set[int]) -> dict[int, float]:
        """A two-part Sequence (a name heard as two words) as whoosh's SpanNear matches it: a position of
        the second part 1 to `slop` after one of the first; scored as the sum of its parts', times its boost."""
        if any(not terms for terms in pair):
            return {}
        docs = self.within(q, docs)  # type: ignore[assignment]
        if not docs:
            return {}
        first, second = (self._positions(terms, docs) for terms in pair)
        slop = q.slop
        found = {d for d, ps in first.items() if any(1 <= b - a <= slop for a in ps for b in second.get(d, ()))}
        if not found:
            return {}
        sa, sb = (self.scores(c, found) for c in q.subqueries)
        return {d: (sa[d] + sb[d]) * q.boost for d in found}

    def _positions(self, terms: list[Q.Term], docs: set[int]) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for t in terms:
            tdocs = self.within(t, docs)
            if not tdocs:
                continue
            posts = self._postings.get((t.fieldname, t.text))
            if posts is not None:  # decoded from the blocks holding them, as whoosh's value_as does
                decode = self.searcher.schema[t.fieldname].format.decode_as
                for _i, base, post in posts[0]:
                    local = sorted(d - base for d in tdocs if base <= d <= base + post.maxid)
                    if not local:
                        continue
                    ids, _weights, values, _df = post.read(local)
                    for k in _at(ids, local):
                        out.setdefault(base + ids[k], set()).update(decode("positions", values[k]))
                continue
            for leaf, base in self.searcher.reader().leaf_readers():
                ids = sorted(d - base for d in tdocs if base <= d < base + leaf.doc_count_all())
                if not ids:
                    continue
                m = leaf.postings(t.fieldname, t.text)
                for d in ids:
                    if m.id() < d:
                        m.skip_to(d)
                    if not m.is_active():
                        break
                    if m.id() == d:
                        out.setdefault(base + d, set()).update(m.value_as("positions"))
        return out

    def _open(self, fieldname: str, text: str) -> tuple[list[tuple[int, int, termdict.TermPostings]], int] | None:
        """A term's postings in each segment holding it (termdict.TermPostings: block headers read, blocks
        decoded as asked) and its document frequency, once per search; None when whoosh is to read them."""
        key = (fieldname, text)
        if key in self._postings:
            return self._postings[key]
        reader = self.searcher.reader()
        if self._probes is None:
            self._probes = termdict.probes(reader, self._derived)
        if not self._bases:
            self._bases = [base for _leaf, base in reader.leaf_readers()]
        if fieldname == schema.SOUND and self._derived is not None and text not in self._sound_keys(reader):
            self._postings[key] = ([], 0)  # no segment holds it: no segment's table probed
            return self._postings[key]
        where = self._derived.setdefault("term_where", {}) if self._derived is not None and self.flt is None else None
        if where is not None:  # which segments' kept postings it is, or in none: no table probed
            known = where.get(key)
            if known is not None:
                kept = [(i, self._probes[i].kept(k)) for i, k in known]
                if all(got is not None for _i, got in kept):
                    read = [(i, self._bases[i], got) for i, got in kept]  # type: ignore[misc]
                    posts = self._postings[key] = (read, sum(got.df for _i, got in kept))  # type: ignore[union-attr]
                    return posts
        read: list[tuple[int, int, termdict.TermPostings]] | None = []
        df = 0
        try:
            leaves = None if self.flt is None else list(reader.leaf_readers())  # no filter: every block
            for i, probe in enumerate(self._probes):
                # none of its blocks if the filter lets none through
                within = None if leaves is None else self._within(i, self._bases[i], leaves[i][0])
                got = probe.open(fieldname, text, within)
                if got is not None:
                    read.append((i, self._bases[i], got))  # type: ignore[union-attr]
                    df += got.df
        except termdict.Unreadable:
            read = None
        posts = self._postings[key] = None if read is None else (read, df)
        if where is not None and read is not None and all(got.key is not None for _i, _b, got in read):
            if len(where) >= _WHERE_HELD:
                where.clear()
            where[key] = tuple((i, got.key) for i, _b, got in read)
        return posts

    def _screen(self, q: Q.Query) -> None:
        """The terms of `q` that no segment holds, found for all of them at once (termdict.TermProbe.absent)
        and noted as such (_open then probes no table for them): the keys of runs of words a name's
        sounds-alike queries look up, most of them in no segment. Sound keys are known from memory."""
        fresh: dict[str, list[str]] = {}
        where = self._derived.setdefault("term_where", {}) if self._derived is not None and self.flt is None else None
        for leaf in q.leaves():
            if type(leaf) is not Q.Term or leaf.fieldname == schema.SOUND:
                continue
            key = (leaf.fieldname, leaf.text)
            if key in self._postings or (where is not None and key in where):
                continue
            fresh.setdefault(leaf.fieldname, []).append(leaf.text)
        if not fresh or sum(map(len, fresh.values())) < _SCREEN:
            return
        reader = self.searcher.reader()
        if self._probes is None:
            self._probes = termdict.probes(reader, self._derived)
        if not self._bases:
            self._bases = [base for _leaf, base in reader.leaf_readers()]
        for fieldname, texts in fresh.items():
            texts = list(dict.fromkeys(texts))
            nowhere = np.ones(len(texts), dtype=bool)
            hashed: dict[Any, np.ndarray] = {}  # segments of one schema hash a term alike: once
            for probe in self._probes:
                if not isinstance(probe, termdict.TermProbe) or fieldname not in probe._schema:
                    nowhere &= probe.absent(fieldname, texts)
                    continue
                coding = probe.coding(fieldname)
                if coding not in hashed:
                    hashed[coding] = probe.hashes(fieldname, texts)
                nowhere &= probe.absent(fieldname, texts, hashes=hashed[coding])
            for k in np.flatnonzero(nowhere).tolist():
                key = (fieldname, texts[k])
                self._postings[key] = ([], 0)
                if where is not None:  # as _open notes it: in no segment, for the searches to come
                    if len(where) >= _WHERE_HELD:
                        where.clear()
                    where[key] = ()

    def _is_ordinary(self, q: querymod.UnlessOrdinary) -> bool:
        """q.ordinary(), once per word and search (a lookup in every segment, asked for each walk of the tier)."""
        got = self._ordinary.get(q.word)
        if got is None:
            got = self._ordinary[q.word] = q.ordinary(self.searcher.reader())
        return got

    def _sound_keys(self, reader: IndexReader) -> frozenset[str]:
        if self._keys is None:
            self._keys = soundkeys.known_keys(reader, self._derived)
        return self._keys

    def term_ids(self, fieldname: str, text: str) -> np.ndarray:
        """The segments holding a term, sorted (an array: the halves of a name heard split are ORs of common
        sound keys, tens of thousands of segments, combined with numpy rather than as sets), once per search."""
        key = (fieldname, text)
        got = self._arrays.get(key)
        if got is None:
            parts = []
            posts = self._open(fieldname, text)
            if posts is not None:  # from the mapped files, the blocks' document numbers alone (see eager)
                for _i, base, post in posts[0]:
                    parts.append(post.id_array(whole=self.eager) + base if base else post.id_array(whole=self.eager))
            else:
                reader = self.searcher.reader()
                for (leaf, base), probe in zip(reader.leaf_readers(), self._probes, strict=True):  # type: ignore[arg-type]
                    if not probe.may_hold(fieldname, text):  # most sounds-alike terms are in no segment
                        continue
                    try:  # one lookup, not a test and a lookup
                        ids = leaf.postings(fieldname, text).all_ids()
                    except TermNotFound:
                        continue
                    parts.append(np.fromiter(ids, dtype=np.int64) + base)
            got = self._arrays[key] = _joined(parts)
            if len(got) <= _AS_SET:  # a short list is asked about as a set (see within)
                self._terms[key] = set(got.tolist())
        return got

    def term_docs(self, fieldname: str, text: str) -> set[int]:
        """term_ids as a set, made once per search."""
        key = (fieldname, text)
        docs = self._terms.get(key)
        if docs is None:
            docs = self._terms[key] = set(self.term_ids(fieldname, text).tolist())
        return docs

    def within(self, q: Q.Query, docs: set[int]) -> set[int] | None:
        """Those of `docs` that `q` may match (`docs & self.docs(q)`), None when `q` may match any: a few
        segments are looked up in the sorted array of a long list, not all of it made a set."""
        if q is Q.NullQuery or not docs:
            return set()
        if isinstance(q, Q.Term):
            key = (q.fieldname, q.text)
            known = self._terms.get(key)
            if known is not None:
                return known & docs
            every: np.ndarray | None = self.term_ids(*key)
            known = self._terms.get(key)
            if known is not None:
                return known & docs
        else:
            known_set = self._sets.get(id(q))
            if known_set is not None and known_set[0] is q:
                return None if known_set[1] is None else known_set[1] & docs
            every = self._ids(q)
            if every is None:
                return None
        if not len(every):  # type: ignore[arg-type]
            return set()
        if len(every) <= len(docs):  # type: ignore[arg-type]
            return docs.intersection(every.tolist())  # type: ignore[union-attr]
        asked = self._asked
        if asked is None or asked[0] is not docs or len(asked[1]) != len(docs):  # the pool, asked about again
            asked = self._asked = (docs, np.sort(np.fromiter(docs, dtype=np.int64, count=len(docs))))
        at = np.minimum(np.searchsorted(every, asked[1]), len(every) - 1)  # type: ignore[arg-type]
        return set(asked[1][every[at] == asked[1]].tolist())  # type: ignore[index]

    def read_terms(self, q: Q.Query, base: int, docs: list[int], scoring: bool = False) -> Q.Query:
        """`q` with each term whose postings term_docs read matched from them in the segment starting at
        document `base` (see _spans); other terms as they are. `scoring`: only terms scored from
        those postings too (term_scores), so that whoosh's matchers give whoosh's scores.

        Only the postings of `docs` (sorted, the segment's numbers) are kept: whoosh matches and
        scores each document from its own postings, and its span matchers, which look for a first
        match when made, then step through a handful of documents, not through every one of
        hundreds of posting lists."""
        wanted = set(docs)
        asked = wanted if not base else {base + d for d in docs}  # by document number

        def read(fieldname: str, text: str, boost: float = 1.0) -> _ReadTerm | None:
            key = (fieldname, text)
            posts = self._postings.get(key)
            if posts is None and not scoring and key not in self._arrays:
                return self._page_term(fieldname, text, boost, base, docs)
            if posts is None or (scoring and key in self._term_scores and self._term_scores[key] is None):
                return None
            here = next(((i, p) for i, b, p in posts[0] if b == base), None)
            # the blocks holding those of docs the term is in
            held = self.within(Q.Term(fieldname, text), asked) if key in self._arrays else None
            if here is None:
                mine = None
            elif held is None:
                mine = here[1].read(docs)
            else:
                mine = here[1].read(sorted(d - base for d in held) if base else sorted(held))
            if mine is not None:
                ids, weights, values, df = mine
                keep = [k for k, d in enumerate(ids) if d in wanted] if len(ids) <= 8 * len(docs) else _at(ids, docs)
                if len(keep) < len(ids):
                    mine = ([ids[k] for k in keep], [weights[k] for k in keep], [values[k] for k in keep], df)
            scores = self._term_scores.get(key) if scoring else None
            if scoring and scores is None and sum(p.count for _i, _b, p in posts[0]) <= 8 * len(docs) + 256:
                scores = self.term_scores(fieldname, text)  # a short list: scored whole, once per search
                if scores is None:
                    return None
            if scoring and scores is None:  # a long list scored only where asked (an AND of two common words)
                scores = {}
                if here is not None and mine is not None and mine[0]:
                    try:
                        lengths = self._probes[here[0]].field_lengths(fieldname)  # type: ignore[index]
                        got = termdict.bm25_scores(self.searcher, fieldname, posts[1], mine[1], lengths, mine[0])
                    except termdict.Unreadable:
                        return None
                    scores = dict(zip(map(base.__add__, mine[0]), got, strict=True))
            return _ReadTerm(Q.Term(fieldname, text, boost=boost), mine, scores, base)

        return _swap_terms(q, read)

    def page_terms(self, q: Q.Query, base: int, docs: list[int]) -> Q.Query:
        """`q` with its terms matched from the blocks of their postings that hold `docs` (sorted, the
        numbers in the segment starting at document `base`), for the matched words of a page of hits
        whoosh found: whoosh stepped through the block headers of a word like "the" one small read at
        a time to reach hits spread over the archive."""
        return self.read_terms(q, base, docs)

    def _page_term(self, fieldname: str, text: str, boost: float, base: int, docs: list[int]) -> _ReadTerm | None:
        reader = self.searcher.reader()
        if self._probes is None:
            self._probes = termdict.probes(reader, self._derived)
        i = next((i for i, (_leaf, b) in enumerate(reader.leaf_readers()) if b == base), None)
        if i is None:
            return None
        try:
            got = self._probes[i].postings(fieldname, text, docs)
        except termdict.Unreadable:
            return None  # whoosh looks it up
        return _ReadTerm(Q.Term(fieldname, text, boost=boost), got, None, base)

    def _within(self, i: int, base: int, leaf: IndexReader) -> list[int] | None:
        """The filter's segments in segment `i` (its own numbers, sorted), None without a filter: with one,
        a tier's candidates are only ever those (search, scores and spans see no others), so the
        postings of the rest need not be read (termdict.TermProbe.postings)."""
        allowed = self.allowed()
        if allowed is None:
            return None
        if self._local is None:
            self._local = {}
        local = self._local.get(i)
        if local is None:
            end = base + leaf.doc_count_all()
            local = self._local[i] = sorted(d - base for d in allowed if base <= d < end)
        return local

    def term_scores(self, fieldname: str, text: str) -> dict[int, float] | None:
        """A term's BM25 score in every segment holding it, from the postings term_docs read
        (termdict.bm25_scores: whoosh's doubles); None when whoosh is to score it."""
        key = (fieldname, text)
        if key in self._term_scores:
            return self._term_scores[key]
        self.term_ids(fieldname, text)
        posts, out = self._postings.get(key), {}
        try:
            if posts is None:
                raise termdict.Unreadable(fieldname)
            read, df = posts
            for i, base, post in read:
                ids, weights, _values, _df = post.read()
                lengths = self._probes[i].field_lengths(fieldname)  # type: ignore[index]
                scores = termdict.bm25_scores(self.searcher, fieldname, df, weights, lengths, ids)
                out.update(zip(ids if not base else map(base.__add__, ids), scores, strict=True))
        except termdict.Unreadable:
            out = None  # type: ignore[assignment]
        self._term_scores[key] = out
        return out

    def _scores_in(self, fieldname: str, text: str, docs: set[int]) -> dict[int, float] | None:
        """The term's BM25 score in (at least) those of `docs` holding it, None when whoosh is to score it:
        a short posting list scored whole once per search (term_scores), a long one only in the blocks
        holding those of `docs` it has (a common sound key in a name heard split)."""
        key = (fieldname, text)
        if key in self._term_scores:
            return self._term_scores[key]
        self.term_ids(fieldname, text)
        posts = self._postings.get(key)
        if posts is None or sum(p.count for _i, _b, p in posts[0]) <= 8 * len(docs) + 256:
            return self.term_scores(fieldname, text)
        mine = self.within(Q.Term(fieldname, text), docs)
        out: dict[int, float] = {}
        try:
            for i, base, post in posts[0]:
                local = sorted(d - base for d in mine if base <= d <= base + post.maxid)
                if not local:
                    continue
                ids, weights, _values, _df = post.read(local)
                keep = _at(ids, local)
                lengths = self._probes[i].field_lengths(fieldname)  # type: ignore[index]
                got = termdict.bm25_scores(
                    self.searcher, fieldname, posts[1], [weights[k] for k in keep], lengths, [ids[k] for k in keep]
                )
                out.update(zip((base + ids[k] for k in keep), got, strict=True))
        except termdict.Unreadable:
            self._term_scores[key] = None
            return None
        return out

    def docs(self, q: Q.Query) -> set[int] | None:
        """Segments that may match `q` (all that do, perhaps more), or None for "any"; the same set
        object for the same query object during a search (not to be changed by the caller)."""
        if q is Q.NullQuery:
            return set()
        if isinstance(q, Q.Term):
            return self.term_docs(q.fieldname, q.text)
        known = self._sets.get(id(q))
        if known is not None and known[0] is q:
            return known[1]
        ids = self._ids(q)
        docs = None if ids is None else set(ids.tolist())
        self._sets[id(q)] = (q, docs)
        return docs

    def _ids(self, q: Q.Query) -> np.ndarray | None:
        """docs() as a sorted array, None for "any"; once per query object during a search."""
        if q is Q.NullQuery:
            return _NONE
        if isinstance(q, Q.Term):
            return self.term_ids(q.fieldname, q.text)
        known = self._docs.get(id(q))
        if known is not None and known[0] is q:  # a tier's query is walked again to score and prune it
            return known[1]
        kept = self._kept_ids(q)
        ids = kept.get(id(q), (None, None))[1] if kept is not None else None
        if ids is None or kept[id(q)][0] is not q:  # type: ignore[index]
            ids = self._compound_ids(q)
            if kept is not None and ids is not None:
                kept[id(q)] = (q, ids)
        self._docs[id(q)] = (q, ids)
        return ids

    def _kept_ids(self, q: Q.Query) -> dict | None:
        """Where the segments of an expansion kept per generation (_keep: the keys ending with a sound, the
        keys one sound from one) are kept too, None for another query or with a filter (whose searches read
        only the blocks it lets through): they depend on the index alone."""
        if self.flt is not None or self._derived is None:
            return None
        objs = self._derived.get("expanded_by_id")
        if objs is None or objs.get(id(q)) is not q:
            return None
        return self._derived.setdefault("expanded_ids", {})

    def _estimate(self, q: Q.Query) -> int:
        """Postings of `q`'s terms (their blocks' counts, opened but not decoded), what finding its segments
        costs; a part only whoosh reads counts as very many. Once per query object during a search."""
        known = self._sizes.get(id(q))
        if known is not None and known[0] is q:
            return known[1]
        kept = self._kept_ids(q)
        if kept is not None and id(q) in kept and kept[id(q)][0] is q:
            size = len(kept[id(q)][1])  # its segments, known: (an estimate orders the parts, nothing more)
        elif q is Q.NullQuery:
            size = 0
        elif isinstance(q, Q.Term):
            posts = self._open(q.fieldname, q.text)
            size = _MANY if posts is None else sum(p.count for _i, _b, p in posts[0])
        elif isinstance(q, querymod.UnlessOrdinary):
            size = self._estimate(q.child)
        elif isinstance(q, Q.Or | Q.DisjunctionMax):
            size = sum(map(self._estimate, q.subqueries))
        elif isinstance(q, Q.And | Q.Sequence):
            size = min(map(self._estimate, q.subqueries), default=0)
        else:
            size = _MANY * _terms_in(q)
        self._sizes[id(q)] = (q, size)
        return size

    def _compound_ids(self, q: Q.Query) -> np.ndarray | None:
        if isinstance(q, querymod.UnlessOrdinary):
            return _NONE if self._is_ordinary(q) else self._ids(q.child)
        if isinstance(q, Q.Or | Q.DisjunctionMax):
            parts = []
            for c in q.subqueries:
                ids = self._ids(c)
                if ids is None:
                    return None
                if len(ids):
                    parts.append(ids)
            if len(parts) <= 1:
                return parts[0] if parts else _NONE
            every = np.concatenate(parts)
            every.sort()  # (numpy's unique hashes: slower here)
            return every[np.concatenate(([True], every[1:] != every[:-1]))]
        if isinstance(q, Q.And | Q.Sequence | Q.Phrase):
            kids = q.subqueries if not isinstance(q, Q.Phrase) else [Q.Term(q.fieldname, w) for w in q.words]
            # the part of fewest postings first: once nothing is left, the others' postings are never read
            common: np.ndarray | None = None
            for kid in sorted(kids, key=self._estimate):
                ids = self._ids(kid)
                if ids is None:  # a NOT inside: "any"
                    continue
                common = ids if common is None else np.intersect1d(common, ids, assume_unique=True)
                if not len(common):
                    return common
            return common
        if isinstance(q, Q.AndNot | Q.AndMaybe):
            return self._ids(q.a)
        return None

    def prune(self, q: Q.Query, pool: set[int] | None = None, keep: bool = False) -> Q.Query:
        """`q` without the OR'ed terms that occur in none of `pool` (default: the last search's
        candidates), never under a NOT: the same matches and scores in those segments. `keep`: each
        part made anew takes the segments found for the part it replaces (all of its own in `pool`,
        and more), for questions about segments of `pool` only."""
        pool = self._pool if pool is None else pool
        if self._narrowed is not None and q is self._narrowed[0] and pool <= self._pool:
            q = self._narrowed[1]  # (pruned to a pool holding this one already)

        def absent(c: Q.Query) -> bool:  # matches nothing in pool
            if type(c) is Q.Term:
                known = self._terms.get((c.fieldname, c.text))
                if known is not None:
                    return known.isdisjoint(pool)
            if isinstance(c, Q.Not) or (c.is_leaf() and not isinstance(c, Q.Term)):
                return False
            inside = self.within(c, pool)
            return inside is not None and not inside

        return _pruned(q, absent, self._same_docs if keep else None)

    def _same_docs(self, old: Q.Query, new: Q.Query) -> None:
        known = self._docs.get(id(old))
        if known is not None and known[0] is old:
            self._docs[id(new)] = (new, known[1])


# Recursive walks are module functions, not closures: a closure that calls itself is a reference cycle, which
# kept a search's postings (through the closures' `self`) until the cycle collector freed them, during the
# next search.


def _swap_terms(q: Q.Query, read: Callable[..., _ReadTerm | None]) -> Q.Query:
    """`q` with each term (and each phrase's words) that `read` gives postings for replaced by those."""
    if type(q) is Q.Term:
        return read(q.fieldname, q.text, q.boost) or q
    if type(q) is Q.Phrase:
        words = [read(q.fieldname, w) for w in q.words]
        return q if any(w is None for w in words) else _ReadPhrase(q, words)  # type: ignore[arg-type]
    if isinstance(q, Q.Sequence):  # apply() would drop the slop
        return Q.Sequence([_swap_terms(c, read) for c in q.subqueries], slop=q.slop, ordered=q.ordered, boost=q.boost)
    return q if q.is_leaf() else q.apply(partial(_swap_terms, read=read))


def _pruned(
    q: Q.Query, absent: Callable[[Q.Query], bool], made: Callable[[Q.Query, Q.Query], None] | None = None
) -> Q.Query:
    """`q` without the OR'ed parts `absent` says match nothing (see Candidates.prune); `made(part, anew)`
    is told of each part made anew."""
    if isinstance(q, Q.Not) or q.is_leaf():
        return q
    out = _pruned_once(q, absent, made)
    if made is not None and out is not q:
        made(q, out)
    return out


def _pruned_once(
    q: Q.Query, absent: Callable[[Q.Query], bool], made: Callable[[Q.Query, Q.Query], None] | None
) -> Q.Query:
    walk = partial(_pruned, absent=absent, made=made)
    if isinstance(q, Q.AndNot):
        out = copy.copy(q)
        out.a = walk(q.a)
        return out
    if isinstance(q, Q.BinaryQuery):
        out = copy.copy(q)
        out.a, out.b = walk(q.a), walk(q.b)
        return out
    if isinstance(q, Q.WrappingQuery):
        return q.apply(walk)
    if isinstance(q, Q.CompoundQuery):
        kids = q.subqueries
        if isinstance(q, Q.Or | Q.DisjunctionMax):
            # keep one: an emptied OR must still match nothing, not vanish from an AND around it
            kept = [c for c in kids if not absent(c)] or kids[:1]
            if len(kept) == 1 < len(kids) and q.boost != 1.0:  # whoosh ignores a lone part's OR's boost
                kept.append(next(c for c in kids if c is not kept[0]))
            kids = kept
        out = copy.copy(q)
        out.subqueries = [walk(c) for c in kids]
        return out
    return q


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """Sorted arrays of successive ranges, one after the other."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else _NONE


def _ORDER(x: tuple[int, float]) -> tuple[float, int]:  # noqa: N802 - best first, then segment number (whoosh's order)
    return (-x[1], x[0])


def boundable(q: Q.Query) -> bool:
    """Whether Candidates.bounds can bound `q`'s scores: terms, ORs, ANDs and names heard as two words."""
    if q is Q.NullQuery or type(q) is Q.Term:
        return True
    if isinstance(q, querymod.UnlessOrdinary):
        return boundable(q.child)
    if (type(q) is Q.Or and not q.scale and not q.minmatch) or type(q) is Q.And:
        return all(map(boundable, q.subqueries))
    return type(q) is Q.Sequence and _word_pair(q) is not None


def _at(ids: list[int], docs: list[int]) -> list[int]:
    """Indexes in sorted `ids` of the sorted `docs` it holds."""
    out, lo = [], 0
    for d in docs:
        lo = bisect.bisect_left(ids, d, lo)
        if lo == len(ids):
            break
        if ids[lo] == d:
            out.append(lo)
    return out


def _terms_in(q: Q.Query) -> int:
    """How many terms a query holds (what finding its segments costs, roughly)."""
    return 1 if q.is_leaf() else sum(map(_terms_in, q.children()))


def _word_pair(q: Q.Query) -> tuple[list[Q.Term], list[Q.Term]] | None:
    """The terms of each part of an ordered two-part Sequence whose parts are terms or plain ORs of terms."""
    if not isinstance(q, Q.Sequence) or not q.ordered or len(q.subqueries) != 2 or q.slop < 1:
        return None
    parts = []
    for c in q.subqueries:
        if c is Q.NullQuery:
            parts.append([])
        elif isinstance(c, Q.Term):
            parts.append([c])
        elif (
            type(c) is Q.Or
            and not c.scale
            and not c.minmatch
            and c.subqueries
            and all(type(t) is Q.Term for t in c.subqueries)
        ):
            parts.append(list(c.subqueries))
        else:
            return None
    return parts[0], parts[1]
