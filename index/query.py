"""From what a journalist types to the whoosh queries of each match tier.

The query is parsed once against the unstemmed `exact` field. Each tier then
rewrites every positive word into what that tier accepts for it:

    exact     the word as typed (case and accents folded)
    stem      + other forms of the word ("reliefs" for "relief")
    phonetic  + words that sound alike (Double Metaphone, one key edit, or
                heard as two words: "Kiti Wake")
    fuzzy     + words spelled alike (edit distance)

Every tier accepts everything the tier before it does, so a segment found
first at tier N needed exactly that much tolerance: that is its `match`. Words
under NOT stay at the stem tier in every tier: tolerance there would hide
segments the user did not mean to exclude.

Phrases become word-by-word sequences across fields; that works because all
text fields share positions (see normalize).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from whoosh import query as Q
from whoosh.matching import NullMatcher
from whoosh.qparser import FieldsPlugin, FuzzyTermPlugin, QueryParser, RangePlugin

from . import phonetic
from .analysis import stem
from .errors import QueryError
from .schema import EXACT, GRAMS, NEAR, SOUND, TEXT_FIELD, make_schema

TIERS = ("exact", "stem", "phonetic", "fuzzy")
MIN_FUZZY_LETTERS = 5
MIN_PREFIX = 2
MAX_USER_EDITS = 3
# Bounds that keep every search under a second (tests/test_search.py measures them):
# whoosh's parser recurses per word, and each tolerant word costs a term-dictionary
# walk per sound key and spelling, and a word of n letters is tried as n - 5 splits.
MAX_QUERY_CHARS = 500  # longer is refused: no one types that, a script pasting a document does
MAX_QUERY_WORDS = 40  # words and phrase words, refused beyond this
# A name with no exact match costs ~250 ms on a 30,000-segment index (README, bench_index.py):
MAX_TOLERANT_WORDS = 4  # beyond this many words, only those marked word~ are tolerant
MAX_TOLERANT_LETTERS = 16  # longer words are no names: matched exact and stemmed only

_OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"}
_BINARY = _OPERATORS - {"NOT"}

_parser: QueryParser | None = None


def _get_parser() -> QueryParser:
    global _parser
    if _parser is None:
        p = QueryParser(EXACT, make_schema())
        # Filters are parameters, not query syntax: "10:30" or "a:b" are text.
        p.remove_plugin_class(FieldsPlugin)
        p.remove_plugin_class(RangePlugin)
        p.add_plugin(FuzzyTermPlugin())
        _parser = p
    return _parser


def fuzzy_distance(word: str) -> int:
    """Edits allowed for an automatic fuzzy match: none for short words, whose
    one-edit neighbours are mostly other real words."""
    if len(word) < MIN_FUZZY_LETTERS:
        return 0
    return 1 if len(word) < 8 else 2


@dataclass
class ParsedQuery:
    text: str
    tree: Q.Query  # on the exact field, as whoosh parsed it
    words: list[str]  # folded positive words and phrases, for suggestions

    @property
    def n_words(self) -> int:
        """Positive words, a phrase counting each of its words."""
        return sum(len(w.split()) for w in self.words)

    def tiers(self, exact: bool = False) -> Iterator[tuple[str, Q.Query]]:
        """(tier, query) from strictest to most tolerant, skipping tiers that add nothing.

        With `exact`, no automatic tolerance: only the exact and stem tiers,
        plus a fuzzy tier for words the user marked fuzzy with `~`. A query of
        more than MAX_TOLERANT_WORDS words gets no automatic tolerance either:
        each tolerant word costs term-dictionary walks, and a long query is a
        sentence being looked for, not a name.
        """
        exact = exact or self.n_words > MAX_TOLERANT_WORDS
        previous = None
        sounds: dict[str, list[Q.Query]] = {}  # a word's sounds-alike queries, the same in both tolerant tiers
        for tier in TIERS:
            if exact and tier == "phonetic":
                continue
            q = rewrite(self.tree, tier, exact, sounds)
            if q != previous:
                yield tier, q
            previous = q


def _check_syntax(text: str) -> None:
    """Reject what whoosh would silently reinterpret (it parses anything)."""
    if text.count('"') % 2:
        raise QueryError(text, 'unclosed quote: phrases need a closing "')
    depth = 0
    for ch in re.sub(r'"[^"]*"', "", text):
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            raise QueryError(text, "')' without a matching '('")
    if depth:
        raise QueryError(text, "'(' without a matching ')'")
    words = re.sub(r'"[^"]*"', " x ", text).replace("(", " ( ").replace(")", " ) ").split()
    for i, w in enumerate(words):
        if w not in _OPERATORS:
            continue
        before = words[i - 1] if i else None
        after = words[i + 1] if i + 1 < len(words) else None
        if after is None or after == ")" or after in _BINARY:
            raise QueryError(text, f'{w} needs a word after it (quote it to search for the word "{w}")')
        if w in _BINARY and (before is None or before == "(" or before in _OPERATORS):
            raise QueryError(text, f'{w} needs a word before it (quote it to search for the word "{w}")')


def parse(text: str) -> ParsedQuery:
    """Parse a query; a QueryError says in one line what is wrong with it."""
    text = re.sub(r"[\x00-\x1f\x7f]", " ", text or "").strip()  # no control chars (nor our stream mark)
    if not text:
        raise QueryError(text, "empty query")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(_clip(text), f"{len(text)} characters is too long; a query takes at most {MAX_QUERY_CHARS}")
    _check_syntax(text)
    try:
        tree = _get_parser().parse(text)
    except Exception:  # whoosh's parser errors have no common base worth trusting (RecursionError included)
        raise QueryError(text, "cannot parse it; check AND/OR/NOT and brackets") from None
    n_words = sum(len(q.words) if isinstance(q, Q.Phrase) else 1 for q in _walk(tree) if q.is_leaf())
    if n_words > MAX_QUERY_WORDS:
        raise QueryError(_clip(text), f"{n_words} words is too many; a query takes at most {MAX_QUERY_WORDS}")
    for node in _walk(tree):
        error = getattr(node, "error", None)
        if error:
            raise QueryError(text, str(error))
        if isinstance(node, Q.Every):
            raise QueryError(text, "'*' alone matches everything; add a word")
        if isinstance(node, Q.Prefix) and len(node.text) < MIN_PREFIX:
            raise QueryError(text, f"prefix {node.text}* is too short; give at least {MIN_PREFIX} letters")
    positives = list(_positive_leaves(tree))
    if not positives:
        if any(isinstance(n, Q.Not) for n in _walk(tree)):
            raise QueryError(text, "NOT needs something to search for, e.g. 'tax NOT relief'")
        raise QueryError(text, "nothing to search for (no words in it)")
    words = []
    for leaf in positives:
        if isinstance(leaf, Q.Phrase):
            words.append(" ".join(leaf.words))
        elif isinstance(leaf, Q.Term | Q.FuzzyTerm):
            words.append(leaf.text)
    return ParsedQuery(text, tree, words)


def _clip(text: str, keep: int = 40) -> str:
    """A query as an error message quotes it: the start of it, if it is long."""
    return text if len(text) <= keep else text[:keep] + "…"


def _walk(q: Q.Query) -> Iterator[Q.Query]:
    yield q
    for child in q.children():
        yield from _walk(child)


def _positive_leaves(q: Q.Query) -> Iterator[Q.Query]:
    if q is Q.NullQuery or isinstance(q, Q.Not):
        return
    if isinstance(q, Q.AndNot):
        yield from _positive_leaves(q.a)
        return
    if q.is_leaf():
        yield q
        return
    for child in q.children():
        yield from _positive_leaves(child)


def positive(q: Q.Query) -> Q.Query:
    """The query without its NOT parts: what a hit's matched words are found with."""
    if isinstance(q, Q.AndNot):
        return positive(q.a)
    if isinstance(q, Q.AndMaybe):
        return Q.Or([positive(q.a), positive(q.b)])
    if isinstance(q, Q.Not):
        return Q.NullQuery
    if q.is_leaf():
        return q
    if isinstance(q, Q.And | Q.Or):
        kids = [positive(c) for c in q.children()]
        if all(k is c and k is not Q.NullQuery for k, c in zip(kids, q.subqueries, strict=True)):
            return q  # the same object: what a search worked out for it (its segments) still holds
        kids = [k for k in kids if k is not Q.NullQuery]
        return type(q)(kids, boost=q.boost) if kids else Q.NullQuery
    return q.apply(positive)


# -- per-tier rewriting ----------------------------------------------------


def _sound_alternatives(word: str) -> list[Q.Query]:
    """Queries on the sound fields for a word, best-sounding first."""
    if not phonetic.searchable(word):
        return []
    alts: list[Q.Query] = []
    word_keys = phonetic.keys(word)
    for key in word_keys:
        alts.append(Q.Term(SOUND, key, boost=2.0))
        if len(key) >= phonetic.MIN_GRAM_KEY:  # heard as 2-3 words ("Kity Wake")
            alts.append(Q.Term(GRAMS, key, boost=1.5))
    alts.extend(_near_alternatives(word_keys, word))
    splits = phonetic.splits(word)
    for a, b in splits:
        alts.append(Q.Sequence([_any(SOUND, phonetic.keys(a)), _any(SOUND, phonetic.keys(b))], slop=1))
    if max(map(len, word_keys)) >= phonetic.MIN_NEAR_KEY:
        # Heard as two words, the first glued to the end of the word before it
        # and the second a sound off ("join Skolkovo" -> "nineskill Corvo":
        # NNSKL ends with SKL of "skol", KRF is one edit from KF of "kovo").
        # Only for long keys: both parts together must still spell the name's sound.
        for a, b in splits:
            heads = [k for k in phonetic.keys(a) if len(k) >= phonetic.MIN_GLUED_KEY]
            if not heads:
                continue
            first = _any_query([Q.Wildcard(SOUND, "*" + k) for k in heads])
            rest = _any_query([Q.FuzzyTerm(SOUND, k, maxdist=1, prefixlength=1) for k in phonetic.keys(b)])
            alts.append(Q.Sequence([first, rest], slop=1))
    return alts


def _near_alternatives(keys: tuple[str, ...], word: str | None = None) -> list[Q.Query]:
    """Words and runs of words whose key is one sound off (phonetic.edits), or a long
    key with the same start and end: exact term lookups, never a walk over all keys.

    With `word`, single words one edit off a key of phonetic.MIN_NEAR_KEY sounds
    or more are matched whatever the archive holds (as they always were); the
    looser matches only if `word` is not an ordinary word of it (UnlessOrdinary).
    Without `word` (a name of several words) all are matched.
    """
    strict: set[tuple[str, str]] = set()
    loose: set[tuple[str, str]] = set()
    for key in keys:
        if len(key) < phonetic.MIN_EDIT_KEY:
            continue
        shorter, changed, longer = phonetic.edits(key)
        near = longer if len(key) < phonetic.MIN_NEAR_KEY else shorter | changed | longer
        near -= set(keys)
        (strict if len(key) >= phonetic.MIN_NEAR_KEY else loose).update((SOUND, k) for k in near)
        loose.update((GRAMS, k) for k in near if len(k) <= phonetic.MAX_GRAM_KEY)
        if len(key) <= phonetic.MAX_GRAM_KEY:  # the key itself among runs made mostly of common words
            loose.add((GRAMS, key + phonetic.COMMON_RUN_MARK))
        if len(key) >= phonetic.MIN_NEAR_KEY:  # runs with L and R swapped and a sound lost
            loose.update((GRAMS, k) for k in phonetic.liquid_edits(key) if len(k) <= phonetic.MAX_GRAM_KEY)
        loose.update((NEAR, k) for k in phonetic.ends_lookups(key))
    if word is not None:
        loose.update((NEAR, t) for t in phonetic.headed_lookups(word))
    else:
        strict, loose = strict | loose, set()
    alts = [Q.Or([Q.Term(f, t) for f, t in sorted(strict)])] if strict else []
    if loose:
        alts.append(UnlessOrdinary(Q.Or([Q.Term(f, t) for f, t in sorted(loose)]), word))
    return alts


class UnlessOrdinary(Q.WrappingQuery):
    """Its child's matches, unless `word` is an ordinary word of the archive
    (heard exactly in phonetic.ORDINARY_SHARE of the segments, and at least once).

    Decided per search from the term's document frequency, one lookup: a
    common word is heard everywhere, a name the recognizer does not know
    nowhere, and only the latter needs the loose sounds-alike matches.
    """

    def __init__(self, child: Q.Query, word: str):
        self.child = child
        self.word = word

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and (other.word, other.child) == (self.word, self.child)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.word, self.child))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.child!r}, {self.word!r})"

    def _rewrap(self, child: Q.Query) -> Q.Query:
        return UnlessOrdinary(child, self.word)

    def normalize(self) -> Q.Query:
        child = self.child.normalize()
        return child if child is Q.NullQuery else self._rewrap(child)

    def ordinary(self, reader) -> bool:  # noqa: ANN001 - the whole index's reader
        heard = reader.doc_frequency(EXACT, self.word)
        return bool(heard and heard >= phonetic.ORDINARY_SHARE * reader.doc_count())

    def matcher(self, searcher, context=None):  # noqa: ANN001 - whoosh's signature
        if self.ordinary(searcher.get_parent().reader()):  # the whole index's, not one segment's
            return NullMatcher()
        return self.child.matcher(searcher, context)


def _joined_alternatives(words: list[str]) -> list[Q.Query]:
    """A name of two or three words heard with one of them mangled ("Marla Kittiwake" heard
    "Marek Kittiwake"): the words' joined key against the keys of runs of words, one sound off."""
    keys = tuple(k for k in phonetic.joined_keys(words) if len(k) > phonetic.MIN_EDIT_KEY)
    if not keys or not any(phonetic.searchable(w) for w in words):
        return []
    return [Q.Term(GRAMS, k, boost=1.5) for k in keys] + _near_alternatives(keys)


def _any_query(qs: list[Q.Query]) -> Q.Query:
    return qs[0] if len(qs) == 1 else Q.Or(qs)


def _any(field: str, texts: tuple[str, ...]) -> Q.Query:
    terms = [Q.Term(field, t) for t in texts]
    return terms[0] if len(terms) == 1 else Q.Or(terms)


def word_query(
    word: str,
    tier: str,
    exact: bool = False,
    fuzzy: tuple[int, int] | None = None,
    sounds: dict[str, list[Q.Query]] | None = None,
) -> Q.Query:
    """What tier `tier` accepts for one query word.

    `fuzzy` is (maxdist, prefixlength) when the user wrote `word~`: then the
    fuzzy tier uses their distance, even with `exact`. `sounds` keeps each word's sounds-alike
    queries for the next tier (hundreds of terms, built once per search).
    """
    if tier == "exact":
        return Q.Term(EXACT, word)
    stemmed = Q.Term(TEXT_FIELD, stem(word))
    if tier == "stem":
        return stemmed
    exact = exact or len(word) > MAX_TOLERANT_LETTERS  # no name is that long; its splits would cost seconds
    alts: list[Q.Query] = [stemmed]
    if not exact:
        found = sounds.get(word) if sounds is not None else None
        if found is None:
            found = _sound_alternatives(word)
            if sounds is not None:
                sounds[word] = found
        alts.extend(found)
    if tier == "fuzzy":
        if fuzzy is not None:
            alts.append(Q.FuzzyTerm(EXACT, word, maxdist=fuzzy[0], prefixlength=fuzzy[1]))
        elif not exact and fuzzy_distance(word):
            alts.append(Q.FuzzyTerm(EXACT, word, maxdist=fuzzy_distance(word), prefixlength=1))
    return alts[0] if len(alts) == 1 else Q.Or(alts)


def rewrite(tree: Q.Query, tier: str, exact: bool = False, sounds: dict[str, list[Q.Query]] | None = None) -> Q.Query:
    """The query of one tier (see module docstring)."""

    def leaf(q: Q.Query, tier: str) -> Q.Query:
        if isinstance(q, Q.FuzzyTerm):
            # whoosh fails on a prefix longer than the word; >3 edits matches noise, slowly
            fuzzy = (min(q.maxdist, MAX_USER_EDITS), min(q.prefixlength, len(q.text)))
            # The user asked for spellings alike: what is not the word itself is a fuzzy hit.
            return word_query(q.text, "stem" if tier == "phonetic" else tier, exact, fuzzy=fuzzy, sounds=sounds)
        if isinstance(q, Q.Term) and q.fieldname == EXACT:
            wq = word_query(q.text, tier, exact, sounds=sounds)
            return wq if q.boost == wq.boost else wq.with_boost(q.boost)  # with_boost deep-copies a big tree
        if isinstance(q, Q.Phrase) and q.fieldname == EXACT:
            if tier == "exact":
                return q
            if tier == "stem":
                return Q.Phrase(TEXT_FIELD, [stem(w) for w in q.words], slop=q.slop, boost=q.boost)
            parts = [word_query(w, tier, exact, sounds=sounds) for w in q.words]
            seq = Q.Sequence(parts, slop=q.slop, boost=q.boost)
            joined = [] if exact else _joined_alternatives(q.words)
            return Q.Or([seq, *joined]) if joined else seq
        return q  # prefix, wildcard: matched against the exact words only

    def walk(q: Q.Query, tier: str) -> Q.Query:
        if isinstance(q, Q.And) and tier in ("phonetic", "fuzzy") and not exact:
            # "Orla Fenwhistle" unquoted: also the two words heard as one run, one mangled
            words = [c.text for c in q.children() if isinstance(c, Q.Term) and c.fieldname == EXACT]
            if len(words) == len(q.subqueries) and 2 <= len(words) <= phonetic.MAX_GRAM_WORDS:
                joined = _joined_alternatives(words)
                if joined:
                    return Q.Or([q.apply(lambda c: walk(c, tier)), *joined])
        if isinstance(q, Q.Not):
            return Q.Not(walk(q.query, "stem"), boost=q.boost)
        if isinstance(q, Q.AndNot):
            return Q.AndNot(walk(q.a, tier), walk(q.b, "stem"))
        if q.is_leaf():
            return leaf(q, tier)
        return q.apply(lambda c: walk(c, tier))

    return walk(tree, tier)
