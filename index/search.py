"""Searching: tiers of tolerance, word-level times, suggestions.

Hits come tier by tier (exact, stem, phonetic, fuzzy; see index.query), each
tier excluding segments an earlier one found, so a tolerant hit can never
push an exact one out of the list. Within a tier whoosh's BM25 orders them.

A hit's time is that of the word (or phrase) that matched, not of the
segment: the matcher's spans give token positions, and the stored words map
positions back to words and their times.
"""

from __future__ import annotations

import gc
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query as Q
from whoosh.fields import Schema
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from . import normalize, schema, soundkeys, store, termdict
from . import query as querymod
from .candidates import Candidates, boundable
from .writer import unpack_words

MAX_SUGGESTIONS = 5
PRESORT_DF = 2000  # a word in this many segments or more is ranked once per generation
PRESORT_KEEP = 32  # ranked words kept per generation
_EDGE = re.compile(r"^\W+|\W+$")


@dataclass
class Hit:
    video: str
    path: str
    start: float  # seconds: start of the matched word or phrase
    end: float  # seconds: end of the matched word or phrase
    speaker: str | None  # display name (user-given name, else the label)
    speaker_label: str | None  # "SPEAKER_1"
    text: str  # the segment's text as recognised
    segment_start: float
    segment_end: float
    score: float  # higher is better; consistent with the order across tiers (see _ranked)
    match: str  # "exact" | "stem" | "phonetic" | "fuzzy"
    words: tuple[str, ...] = field(default=(), repr=False, compare=False)  # the segment's words
    matched: tuple[int, ...] = field(default=(), repr=False, compare=False)  # indexes into words
    # (start, end) seconds of every matched run in the segment; the first is (start, end)
    occurrences: tuple[tuple[float, float], ...] = field(default=(), repr=False, compare=False)

    PUBLIC = (
        "video", "path", "start", "end", "speaker", "speaker_label", "text",
        "segment_start", "segment_end", "score", "match",
    )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The hit as the CLI's --json prints it (public field names)."""
        return {k: getattr(self, k) for k in self.PUBLIC}

    @property
    def matched_text(self) -> str:
        """The matched words as heard, e.g. "Skilcovo" for a search of Skolkovo."""
        return " ".join(_EDGE.sub("", self.words[i]) for i in self.matched)

    def highlighted(self, before: str = "**", after: str | None = None) -> str:
        """The segment text with each run of matched words wrapped: "we need **tax relief** now"."""
        after = before if after is None else after
        if not self.matched:
            return self.text
        text, spans = _locate(self.text, self.words)
        marked = set(self.matched)
        out, cursor, i = [], 0, 0
        while i < len(spans):
            if i not in marked:
                i += 1
                continue
            j = i
            while j + 1 < len(spans) and j + 1 in marked:
                j += 1
            a, b = _trim(text, spans[i][0], spans[j][1])
            if a < b:
                out.append(text[cursor:a] + before + text[a:b] + after)
                cursor = b
            i = j + 1
        out.append(text[cursor:])
        return "".join(out)


@dataclass
class SearchResult:
    hits: list[Hit]
    exact_found: bool  # False: nothing matched as typed (or stemmed); hits are sound/spelling-alike
    suggestions: list[str]  # "did you mean" words from the index, when not exact_found
    _total: int = 0  # see total
    speaker_found: bool = True  # False: the speaker filter names no speaker (of the video filtered to)
    _count: Callable[[], int] | None = field(default=None, repr=False, compare=False)

    @property
    def total(self) -> int:
        """Hits there are without the limit (len(hits) when the limit was not reached).

        Counted on first use, not by every search: it runs the most tolerant
        tier over the whole index, which for a common word cost more than
        finding the page of hits (the web API never asks)."""
        if self._count is not None:
            count, self._count = self._count, None
            self._total = max(self._total, count())
        return self._total

    def to_dict(self) -> dict[str, Any]:
        return {
            "hits": [h.to_dict() for h in self.hits],
            "exact_found": self.exact_found,
            "suggestions": list(self.suggestions),
        }


def search(
    index_dir: Path,
    query: str,
    *,
    speaker: str | None = None,
    video: str | None = None,
    limit: int | None = 20,
    exact: bool = False,
) -> SearchResult:
    """Search the index; best first, each hit timed to its matched word.

    `speaker` matches a display name, whole words of it ("Okunev") or a label, case-insensitively;
    `video` a video id. `exact` turns off the automatic sound/spelling
    tolerance (stemming stays: it is how words are indexed; a word the user
    marks `word~` is still fuzzy). `limit` None returns every hit.
    Raises QueryError for a query that cannot be searched.
    """
    parsed = querymod.parse(query)
    if limit is not None and limit < 1:
        raise ValueError("limit must be at least 1")
    with _collection_paused(), store.searching(index_dir) as cached:
        if cached is None:
            return SearchResult([], False, [], 0, speaker is None)
        searcher = cached.searcher
        flt = _filter(searcher.schema, speaker, video, _speaker_names(searcher.reader(), cached.derived))
        expanded: dict[tuple, Q.Query] = {None: cached.derived}  # type: ignore[dict-item]
        # tiers made as they are reached: a full page of exact hits never builds the sounds-alike queries
        hits = _tiered_hits(searcher, parsed.tiers(exact), flt, limit, expanded)
        total = len(hits)
        counter = None
        if limit is not None and total >= limit:  # every tier accepts what the ones before it do
            counter = partial(_count_later, Path(index_dir), partial(_last_tier, parsed, exact), flt)
        speaker_found = bool(hits) or speaker is None or _matches_any(searcher, flt)
        exact_found = any(h.match in ("exact", "stem") for h in hits)
        suggestions: list[str] = []
        if not exact_found:
            tolerant = hits if not exact else _tiered_hits(searcher, parsed.tiers(False), flt, 20, expanded)
            suggestions = _suggestions(searcher, parsed, tolerant, cached.derived)
    return SearchResult(hits, exact_found, suggestions, total, speaker_found, counter)


# -- internals -------------------------------------------------------------


@contextmanager
def _collection_paused() -> Iterator[None]:
    """Python's cycle collector off during a search, back on after (unless something else had it off).

    A tolerant search allocates hundreds of thousands of short-lived objects (decoded posting
    blocks, sets of segments), nearly all freed by reference counting when it ends; the collector
    ran every few hundred allocations meanwhile, walking them all, a good share of a big archive's
    search. Concurrent searches may overlap here: the last one to end with the collector found on
    turns it back on."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _filter(sch: Schema, speaker: str | None, video: str | None, names: list[str] | None = None) -> Q.Query | None:
    """Filters use the fields' own analyzer, so case folds exactly as at index time.

    `names`, the speaker field's values (see _speaker_names), turns a part of a name into the names
    that hold it, as terms: whoosh's wildcards walked the field's terms once per tier of every search."""
    parts: list[Q.Query] = []
    if speaker is not None and speaker.strip():
        key = next(iter(sch[schema.SPEAKER].process_text(" ".join(speaker.split()), tokenize=False)), "")
        either = [Q.Term(schema.SPEAKER, key), Q.Term(schema.SPEAKER_LABEL, key)]
        if any(c in key for c in "*?["):
            pass
        elif names is not None:  # the same names as the wildcards below, found once
            either += [
                Q.Term(schema.SPEAKER, n)
                for n in names
                if n.startswith(key + " ") or n.endswith(" " + key) or f" {key} " in n
            ]
        else:  # a part of a person's name, whole words: "Okunev", "alexander"
            either += [Q.Wildcard(schema.SPEAKER, w) for w in (f"{key} *", f"* {key}", f"* {key} *")]
        parts.append(Q.Or(either))
    if video is not None:
        parts.append(Q.Term(schema.VIDEO, video))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Q.And(parts)


def _speaker_names(reader: IndexReader, derived: dict[str, Any]) -> list[str]:
    """The speaker field's values, read once per index generation."""
    names = derived.get("speaker_names")
    if names is None:
        names = derived["speaker_names"] = list(reader.field_terms(schema.SPEAKER))
    return names


def _last_tier(parsed: querymod.ParsedQuery, exact: bool) -> Q.Query:
    return list(parsed.tiers(exact))[-1][1]


def _count_later(index_dir: Path, tier: Callable[[], Q.Query], flt: Q.Query | None) -> int:
    with store.searching(index_dir) as cached:
        if cached is None:
            return 0
        q = tier()
        q = _expand_fuzzy(q, cached.searcher.reader(), {None: cached.derived})  # type: ignore[dict-key]
        return _count(cached.searcher, q, flt)


def _count(searcher: Searcher, q: Q.Query, flt: Q.Query | None) -> int:
    """Segments a query matches. One word with no filter is its document frequency, when no
    segment holds deleted documents (whoosh counts those until a merge drops them): listing
    the postings of a word like "the" took longer than the search."""
    reader = searcher.reader()
    if flt is None and isinstance(q, Q.Term) and not reader.has_deletions():
        try:
            return reader.doc_frequency(q.fieldname, q.text)
        except Exception:  # noqa: BLE001 - a term whoosh cannot encode: count the slow way
            pass
    return len(searcher.search(q, limit=1, filter=flt))


def _matches_any(searcher: Searcher, flt: Q.Query | None) -> bool:
    """Whether a filter alone matches any segment: "no hits" and "no such speaker" differ."""
    return flt is None or not searcher.search(flt, limit=1).is_empty()


def _tiered_hits(
    searcher: Searcher,
    tiers: Iterable[tuple[str, Q.Query]],
    flt: Q.Query | None,
    limit: int | None,
    expanded: dict[tuple, Q.Query] | None = None,
) -> list[Hit]:
    """Hits tier after tier; each tier masks what earlier ones found and only
    fills the places they left, so it costs nothing once the list is full."""
    hits: list[Hit] = []
    seen: set[int] = set()
    expanded = {} if expanded is None else expanded
    candidates = Candidates(searcher, flt, expanded.get(None))  # type: ignore[arg-type]
    if candidates.allowed() == set():  # whoosh takes an empty filter set for no filter
        return hits
    for tier, q in tiers:
        want = None if limit is None else limit - len(hits)
        if want is not None and want <= 0:
            break
        q = _expand_fuzzy(q, searcher.reader(), expanded)
        found = None
        candidates.eager = tier not in TOLERANT and not boundable(q)
        if tier in TOLERANT or (TOLERANT and isinstance(q, SEVERAL_WORDS)):
            found = candidates.search(q, want, seen)
        elif want is not None and isinstance(q, Q.Term) and expanded.get(None) is not None:
            ranked = _ranked_postings(searcher, q, expanded[None])  # type: ignore[arg-type]
            if ranked is not None:
                allowed = candidates.allowed()
                wanted = (x for x in ranked if x[0] not in seen and (allowed is None or x[0] in allowed))
                found = list(islice(wanted, want))
        if found is None:
            results = searcher.search(q, limit=want, filter=candidates.allowed(), mask=set(seen) if seen else None)
            found = [(r.docnum, r.score) for r in results]
            spans = _spans(searcher, querymod.positive(q), [d for d, _ in found], candidates.page_terms)
        else:
            docs = [d for d, _ in found]
            spans = _spans(searcher, candidates.prune(querymod.positive(q), set(docs)), docs, candidates.read_terms)
        for docnum, score in found:
            seen.add(docnum)
            hits.append(_hit(searcher.stored_fields(docnum), _ranked(score, tier), tier, spans.get(docnum, [])))
        if limit is not None and len(hits) >= limit:  # the next tier is not even made
            break
    return hits


def _ranked_postings(searcher: Searcher, q: Q.Term, derived: dict[str, Any]) -> list[tuple[int, float]] | None:
    """Every segment holding a very common word, best first, as whoosh ranks them; None for other words.

    A page of hits for a word in most segments ("the") made whoosh score every
    posting: its block-quality skipping skips nothing when every block holds a
    short segment with the word. Ranked once per index generation (kept with
    the searcher), a page is then the first entries the mask and filter let through.
    """
    try:
        df = searcher.reader().doc_frequency(q.fieldname, q.text)
    except Exception:  # noqa: BLE001 - a term whoosh cannot encode: whoosh's own search decides
        return None
    if df < PRESORT_DF:
        return None
    cache: OrderedDict = derived.setdefault("ranked_postings", OrderedDict())
    key = (q.fieldname, q.text, q.boost)
    ranked = cache.get(key)
    if ranked is None:  # the oldest ranked word goes first; searches in other threads may race here harmlessly
        ranked = _ranked_from_postings(searcher, q, derived)
        if ranked is None:
            ranked = [(r.docnum, r.score) for r in searcher.search(q, limit=None)]
        cache[key] = ranked
        while len(cache) > PRESORT_KEEP:
            try:
                cache.popitem(last=False)
            except KeyError:
                break
    return ranked


def _ranked_from_postings(searcher: Searcher, q: Q.Term, derived: dict[str, Any]) -> list[tuple[int, float]] | None:
    """What `searcher.search(q, limit=None)` ranks, from the term's postings read whole and scored as arrays
    (termdict.bm25_scores: whoosh's doubles; times the boost, as whoosh's wrapping matcher), ordered as
    whoosh's collector orders them (score down, then document number); None when whoosh is to do it.

    whoosh's collector scored each of a word like "the"'s hundreds of thousands of postings in Python:
    seconds on an archive of a thousand hours, paid by every `search` command, a process of its own."""
    reader = searcher.reader()
    try:
        opened = []
        for probe, (_leaf, base) in zip(termdict.probes(reader, derived), reader.leaf_readers(), strict=True):
            got = probe.open(q.fieldname, q.text)
            if got is not None:
                opened.append((probe, base, got))
        df = sum(got.df for _p, _b, got in opened)
        ids_all, scores_all = [], []
        for probe, base, got in opened:
            ids, weights, _values, _df = got.read()
            if not ids:
                continue
            lengths = probe.field_lengths(q.fieldname)
            scores = np.asarray(termdict.bm25_scores(searcher, q.fieldname, df, weights, lengths, ids), np.float64)
            ids_all.append(np.asarray(ids, dtype=np.int64) + base)
            scores_all.append(scores * q.boost if q.boost != 1.0 else scores)
    except termdict.Unreadable:
        return None
    if not ids_all:
        return []
    ids, scores = np.concatenate(ids_all), np.concatenate(scores_all)
    order = np.lexsort((ids, -scores))
    return list(zip(ids[order].tolist(), scores[order].tolist(), strict=True))


def _expand_fuzzy(q: Q.Query, reader: IndexReader, memo: dict[tuple, Q.Query]) -> Q.Query:
    """Replace fuzzy terms (and sound-key wildcards) by the index words they stand for, once per search.

    The phonetic and fuzzy tiers share fuzzy terms, and the span lookup
    builds every matcher again; walking the term dictionary with an edit
    automaton each time was most of a tolerant search's time.
    """
    if isinstance(q, Q.FuzzyTerm):
        key = (q.fieldname, q.text, q.maxdist, q.prefixlength, q.boost)
        if key not in memo and not _known(memo, key):
            if q.fieldname == schema.SOUND and q.maxdist == 1 and q.prefixlength <= len(q.text):
                words = soundkeys.keys_within_one(reader, q.text, q.prefixlength, memo.get(None))  # type: ignore[arg-type]
            elif q.fieldname == schema.EXACT and q.prefixlength <= len(q.text):  # the words, held in memory
                words = termdict.terms_within(reader, q.fieldname, q.text, q.maxdist, q.prefixlength, memo.get(None))  # type: ignore[arg-type]
            else:
                words = soundkeys.terms_within(reader, q.fieldname, q.text, q.maxdist, prefix=q.prefixlength)
            memo[key] = Q.Or([Q.Term(q.fieldname, w) for w in words], boost=q.boost) if words else Q.NullQuery
            _keep(memo, key)
        return memo[key]
    if isinstance(q, Q.Wildcard) and q.fieldname == schema.SOUND:  # "*SKL": a scan of the sound keys
        key = ("*", q.fieldname, q.text, q.boost)
        if key not in memo and not _known(memo, key):
            ending = q.text[1:]
            if q.text.startswith("*") and ending and not any(c in ending for c in "*?["):
                words = soundkeys.keys_ending_with(reader, ending, memo.get(None))  # type: ignore[arg-type]
            else:
                field = reader.schema[q.fieldname]
                words = [field.from_bytes(b) for b in q._btexts(reader)]
            memo[key] = Q.Or([Q.Term(q.fieldname, w) for w in words], boost=q.boost) if words else Q.NullQuery
            _keep(memo, key)
        return memo[key]
    if isinstance(q, Q.Sequence):  # apply() would drop the slop
        parts = [_expand_fuzzy(c, reader, memo) for c in q.subqueries]
        return Q.Sequence(parts, slop=q.slop, ordered=q.ordered, boost=q.boost)
    if q.is_leaf():
        return q
    return q.apply(lambda c: _expand_fuzzy(c, reader, memo))


def _known(memo: dict[tuple, Q.Query], key: tuple) -> bool:
    """Whether an expansion of `key` was made in this index generation (then put in `memo`): the words a
    fuzzy term or a sound-key ending stands for depend on the index alone (see _keep)."""
    derived: dict[str, Any] | None = memo.get(None)  # type: ignore[call-overload, assignment]
    got = derived.get("expanded", {}).get(key) if derived is not None else None
    if got is not None:
        memo[key] = got
    return got is not None


def _keep(memo: dict[tuple, Q.Query], key: tuple) -> None:
    """An expansion kept for the next searches of this index generation (a few thousand at most; the
    queries are never changed in place: each search works out its segments afresh)."""
    derived: dict[str, Any] | None = memo.get(None)  # type: ignore[call-overload, assignment]
    if derived is not None:
        kept, objs = derived.setdefault("expanded", {}), derived.setdefault("expanded_by_id", {})
        if len(kept) >= _EXPANSIONS:
            kept.clear()
            objs.clear()
            derived.pop("expanded_ids", None)
        kept[key] = memo[key]
        objs[id(memo[key])] = memo[key]


def _ranked(bm25: float, tier: str) -> float:
    """A score that orders hits as the list does: the tier first (exact in
    [3, 4), stem [2, 3), phonetic [1, 2), fuzzy [0, 1)), then BM25 within it,
    so anything that merges or re-sorts hits keeps exact ones on top."""
    bm25 = max(0.0, float(bm25))
    return len(querymod.TIERS) - 1 - querymod.TIERS.index(tier) + bm25 / (bm25 + 1.0)


def _spans(
    searcher: Searcher,
    q: Q.Query,
    docnums: list[int],
    read: Callable[[Q.Query, int, list[int]], Q.Query] | None = None,
) -> dict[int, list[tuple[int, int]]]:
    """Matched token positions (start, end) per document.

    `read(q, base, docs)`, when given, is `q` with the terms whose postings a
    tier already read matched from those (Candidates.read_terms), in the segment
    starting at document `base`: whoosh's span logic then runs segment by segment
    on them instead of looking every term up again.
    Best effort: a query whose matcher cannot report positions (a prefix
    expanding to very many words) leaves the hit at its segment's time.
    """
    out: dict[int, list[tuple[int, int]]] = {}
    if not docnums or q is Q.NullQuery:
        return out
    try:
        q = q.normalize()
        context = searcher.context(needs_current=True)
        if read is None:
            parts = [(searcher, q, 0, None)]
        else:
            parts = [(sub, q, base, base + sub.doc_count_all()) for sub, base in searcher.leaf_searchers()]
        for sub, sq, base, end in parts:
            docs = [d - base for d in sorted(docnums) if base <= d and (end is None or d < end)]
            if not docs:
                continue
            m = (sq if read is None else read(sq, base, docs)).matcher(sub, context)
            for d in docs:
                if not m.is_active():
                    break
                if m.id() < d:
                    m.skip_to(d)
                if m.is_active() and m.id() == d:
                    out[base + d] = sorted({(s.start, s.end) for s in m.spans()})
    except Exception:  # noqa: BLE001 - positions are a refinement, never a reason to fail a search
        pass
    return out


def _hit(stored: dict[str, Any], score: float, tier: str, spans: list[tuple[int, int]]) -> Hit:
    seg_start, seg_end = stored[schema.START], stored[schema.END]
    words = unpack_words(stored[schema.WORDS], seg_start)
    owner = normalize.word_positions([w for w, _, _ in words])
    start, end = seg_start, seg_end
    runs: list[list[int]] = []  # matched word ranges, adjacent ones merged
    for a, b in spans:
        if not owner or a >= len(owner):
            continue
        wa, wb = owner[a], owner[min(b, len(owner) - 1)]
        if runs and wa <= runs[-1][1] + 1:
            runs[-1][1] = max(runs[-1][1], wb)
        else:
            runs.append([wa, wb])
    matched = {i for a, b in runs for i in range(a, b + 1)}
    times = [(words[a][1] / 1000, max(words[a][1], words[b][2]) / 1000) for a, b in runs]
    if runs:  # the hit's time is the first run's: a phrase, a split name, or one word
        start, end = words[runs[0][0]][1], words[runs[0][1]][2]
    return Hit(
        video=stored[schema.VIDEO],
        path=stored.get(schema.PATH, ""),
        start=start / 1000,
        end=max(start, end) / 1000,
        speaker=stored.get(schema.SPEAKER),
        speaker_label=stored.get(schema.SPEAKER_LABEL),
        text=stored.get(schema.TEXT_FIELD, ""),
        segment_start=seg_start / 1000,
        segment_end=seg_end / 1000,
        score=round(float(score), 4),
        match=tier,
        words=tuple(w for w, _, _ in words),
        matched=tuple(sorted(matched)),
        occurrences=tuple(times) or ((start / 1000, max(start, end) / 1000),),
    )


def _suggestions(
    searcher: Searcher, parsed: querymod.ParsedQuery, tolerant: list[Hit], derived: dict[str, Any] | None = None
) -> list[str]:
    """Words from the index that sound or are spelled like the query's.

    First what the tolerant hits actually matched (respects the filters and
    keeps the transcript's spelling), then near spellings from the whole
    vocabulary sharing the first letter, most frequent first.
    """
    asked = {normalize.fold(w) for w in parsed.words}
    out: dict[str, str] = {}

    def add(candidate: str) -> None:
        key = " ".join(normalize.tokens(candidate))
        if key and key not in asked and key not in out:
            out[key] = candidate

    for hit in tolerant:
        for run in _runs(hit.matched):
            add(" ".join(_EDGE.sub("", hit.words[i]) for i in run))
    reader = searcher.reader()
    for word in parsed.words[: querymod.MAX_TOLERANT_WORDS]:
        dist = querymod.fuzzy_distance(word) or (1 if len(word) >= 4 else 0)
        if " " in word or not dist or len(word) > querymod.MAX_TOLERANT_LETTERS:
            continue
        # sharing the first letter: a walk of the whole vocabulary with no prefix cost seconds on an archive,
        # and a name misheard at its first sound is found by its sound (the hits' words above)
        near = termdict.terms_within(reader, schema.EXACT, word, dist, 1, derived)
        near.sort(key=lambda t: -reader.doc_frequency(schema.EXACT, t))
        for t in near:
            add(t)
    return list(out.values())[:MAX_SUGGESTIONS]


def _runs(indexes: tuple[int, ...]) -> list[list[int]]:
    runs: list[list[int]] = []
    for i in indexes:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _locate(text: str, words: tuple[str, ...]) -> tuple[str, list[tuple[int, int]]]:
    """Where each word sits in the text; if the text does not contain them in
    order (an edited transcript), the words joined by spaces stand in for it."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    folded = text.casefold()
    for w in words:
        i = text.find(w, cursor)
        if i < 0:
            i = folded.find(w.casefold(), cursor)
        if i < 0:
            joined = " ".join(words)
            pos, spans = 0, []
            for w2 in words:
                spans.append((pos, pos + len(w2)))
                pos += len(w2) + 1
            return joined, spans
        spans.append((i, i + len(w)))
        cursor = i + len(w)
    return text, spans


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    """Keep punctuation around a highlighted run outside the markers."""
    while a < b and not text[a].isalnum():
        a += 1
    while b > a and not text[b - 1].isalnum():
        b -= 1
    return a, b


TOLERANT = ("phonetic", "fuzzy")
# In the exact and stem tiers too, queries of several words are found from postings (their words' segments
# intersected, whoosh matching and scoring only those): whoosh's collector set up a matcher per word
# and segment, each a few term lookups, and stepped through both lists for a page of an AND.
SEVERAL_WORDS = (Q.And, Q.Phrase, Q.Sequence, Q.AndNot)


_EXPANSIONS = 4096  # fuzzy terms and sound-key endings expanded, kept per generation (_keep)
