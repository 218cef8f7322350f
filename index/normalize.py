"""From recognised words to the token stream the index stores.

Positions are ours, not whoosh's: every field of a segment (exact, stemmed,
phonetic) is fed the same prepared stream, so position N means the same word
in all of them. That is what lets a tolerant phrase mix fields word by word
and lets a hit be mapped back to the time of the word that matched.

A prepared stream is a plain string (it has to survive whoosh's multiprocess
writer, which pickles documents) that starts with PREPARED_MARK; query text
never does, so the analyzers can tell the two apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

PREPARED_MARK = "\x02"
_ENTRY_SEP = "\x1f"
_POS_SEP = "\x1e"

# A token is a run of word characters, optionally joined by an apostrophe or
# a dot ("don't", "U.S", "3.5"). Hyphens split: "tax-relief" is two tokens,
# so the phrase "tax relief" finds it.
TOKEN_RE = re.compile(r"\w+(?:['.]\w+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})

# How many recognised tokens a glossary term may have been split into.
MAX_GLOSSARY_SPLIT = 4
# A single heard word is indexed as a glossary term it sounds like ("Skilkovo"
# for Skolkovo) only if the term has at least this many letters: shorter terms
# sound and look like too many ordinary words ("Vist" ~ "visit").
MIN_ALIAS_LETTERS = 6
# ... and the spelling may differ by one edit per this many letters of the term.
ALIAS_LETTERS_PER_EDIT = 4


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """Case- and accent-insensitive form: "Zürich" and "zurich" must be one term."""
    text = text.translate(_APOSTROPHES)
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def tokens(text: str) -> list[str]:
    """The folded tokens of a word or of query text, in order."""
    return TOKEN_RE.findall(fold(text))


def word_positions(words: Sequence[str]) -> list[int]:
    """For each token position of a segment, the index of the word it came from.

    Recomputed at search time from the stored words, so it needs no storage;
    it must stay in step with `prepare` (a change here is a schema change).
    """
    owner: list[int] = []
    for i, word in enumerate(words):
        owner.extend([i] * len(tokens(word)))
    return owner


class Glossary:
    """Glossary terms in the shape the matcher needs (built once per transcript)."""

    def __init__(self, terms: Iterable[str]):
        self.terms: dict[str, list[str]] = {}  # compact form -> the term's tokens
        for term in terms:
            toks = tokens(term)
            compact = "".join(toks)
            if compact:
                self.terms[compact] = toks
        self.max_len = max((len(c) for c in self.terms), default=0)
        # Single-word terms long enough to be matched by sound: compact form -> sound keys
        self.sounds: dict[str, tuple[str, ...]] = {}
        for compact, toks in self.terms.items():
            if len(toks) == 1 and len(compact) >= MIN_ALIAS_LETTERS and compact.isalpha():
                from . import phonetic

                if phonetic.keys(compact):
                    self.sounds[compact] = phonetic.keys(compact)

    def __bool__(self) -> bool:
        return bool(self.terms)

    def match(self, heard: str, n_tokens: int) -> str | None:
        """The glossary term (compact form) that `heard` stands for, if any.

        One recognised token must spell the term exactly (a merged multi-word
        term, "VistMining"); a split ("Kiti Wake" for "Kittiwake") is allowed
        one edit per 8 letters, since the recognizer split it because it did
        not know the spelling. The first letter must agree.
        """
        if heard in self.terms:
            return heard
        if n_tokens < 2:
            return None
        for compact in self.terms:
            budget = max(1, len(compact) // 8)
            if compact[0] == heard[0] and abs(len(compact) - len(heard)) <= budget:
                if edit_distance(compact, heard, budget) <= budget:
                    return compact
        return None

    def sounds_like(self, heard: str) -> str | None:
        """The single-word term (compact form) a capitalised heard word stands for, if any.

        The recognizer writes a name it does not know the way it heard it
        ("Skilkovo", "Melarussian"): the word must sound like the term (same
        Double Metaphone key, or one key edit for keys of phonetic.MIN_NEAR_KEY
        or more) and be spelled like it (one edit per ALIAS_LETTERS_PER_EDIT
        letters). Terms shorter than MIN_ALIAS_LETTERS and the common words of
        phonetic.COMMON_WORDS never match.
        """
        from . import phonetic

        if not self.sounds or heard in self.terms or heard in phonetic.COMMON_WORDS:
            return None
        heard_keys = phonetic.keys(heard)
        if not heard_keys:
            return None
        for compact, term_keys in self.sounds.items():
            budget = len(compact) // ALIAS_LETTERS_PER_EDIT
            if abs(len(compact) - len(heard)) > budget or edit_distance(compact, heard, budget) > budget:
                continue
            for a in heard_keys:
                for b in term_keys:
                    near = min(len(a), len(b)) >= phonetic.MIN_NEAR_KEY and edit_distance(a, b, 1) <= 1
                    if a == b or near:
                        return compact
        return None

    def extra_tokens(
        self, seg_tokens: Sequence[str], capitalized: Sequence[bool] | None = None
    ) -> list[tuple[int, str]]:
        """(position, token) pairs to add where a glossary term was heard split, merged or misspelled.

        "Kiti Wake" for "Kittiwake" gets "kittiwake" at the first and at the
        last position of the split, so both "the Kittiwake" and "Kittiwake
        colony" still match as phrases. A term heard as-is adds nothing.
        A capitalised word (`capitalized[i]`, how the recognizer writes a name)
        that sounds like a term (`sounds_like`) gets the term at its position:
        "Skilkovo" is then an exact hit for Skolkovo. Lower-case words never
        do, so ordinary words do not turn into names.
        """
        extra: list[tuple[int, str]] = []
        if capitalized is not None:
            for pos, (tok, cap) in enumerate(zip(seg_tokens, capitalized, strict=True)):
                compact = self.sounds_like(tok) if cap else None
                if compact is not None:
                    extra.append((pos, compact))
        for start in range(len(seg_tokens)):
            acc = ""
            for n in range(1, MAX_GLOSSARY_SPLIT + 1):
                if start + n > len(seg_tokens):
                    break
                acc += seg_tokens[start + n - 1]
                if len(acc) > self.max_len + 2:
                    break
                compact = self.match(acc, n)
                if compact is None:
                    continue
                term = self.terms[compact]
                if list(seg_tokens[start : start + n]) == term or self._spelled_by_part(seg_tokens[start : start + n]):
                    continue
                last = start + n - 1
                k = len(term)
                at = {(start + t, term[t]) for t in range(k)}
                if n >= k:  # also aligned to the end of the split
                    at.update((last - k + 1 + t, term[t]) for t in range(k))
                extra.extend(sorted(at))
        return extra

    def _spelled_by_part(self, toks: Sequence[str]) -> bool:
        """Whether fewer of these tokens already spell a term: "Skolkovo a" is the
        term heard right next to "a", not a split of it (one edit from "skolkovoa")."""
        n = len(toks)
        return any("".join(toks[i:j]) in self.terms for i in range(n) for j in range(i + 1, n + 1) if j - i < n)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, giving up (returning limit + 1) once it exceeds `limit`."""
    if a == b:
        return 0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


def prepare(words: Sequence[str], glossary: Glossary | None = None) -> str:
    """Encode a segment's words as the prepared stream all text fields index."""
    seg_tokens: list[str] = []
    capitalized: list[bool] = []  # per token: its word starts with a capital ("Skilkovo,")
    for w in words:
        toks = tokens(w)
        first = next((c for c in w if c.isalnum()), "")
        seg_tokens.extend(toks)
        capitalized.extend([first.isupper()] * len(toks))
    entries = [f"{pos}{_POS_SEP}{tok}" for pos, tok in enumerate(seg_tokens)]
    if glossary:
        entries.extend(f"{pos}{_POS_SEP}{tok}" for pos, tok in glossary.extra_tokens(seg_tokens, capitalized))
    return PREPARED_MARK + _ENTRY_SEP.join(entries)


def is_prepared(value: str) -> bool:
    return value.startswith(PREPARED_MARK)


def decode(value: str) -> list[tuple[int, str]]:
    """(position, folded token) pairs of a prepared stream."""
    body = value[len(PREPARED_MARK) :]
    if not body:
        return []
    out = []
    for entry in body.split(_ENTRY_SEP):
        pos, tok = entry.split(_POS_SEP, 1)
        out.append((int(pos), tok))
    return out
