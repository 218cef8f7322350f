"""The whoosh analyzers of the text fields.

Each reads either a prepared stream (index time, positions fixed by
`normalize.prepare`) or plain query text (search time). Keeping both paths in
one place is what guarantees a query term is spelled the way the index
spells it.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from whoosh.analysis import Analyzer, Token
from whoosh.lang.porter2 import stem as _porter2

from . import normalize, phonetic

KINDS = ("exact", "stem", "sound", "gram", "near")
# Kinds whose terms come from runs of words, not from one word at a time.
RUN_KINDS = ("gram", "near")


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """Porter2: unlike whoosh's default Porter it takes "running" to "run"."""
    return _porter2(token)


def terms_for(kind: str, token: str) -> tuple[str, ...]:
    """The index terms a folded token becomes in a field of this kind."""
    if kind == "exact":
        return (token,)
    if kind == "stem":
        return (stem(token),)
    return phonetic.keys(token)


def run_terms(kind: str, stream: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """(position, term) of a run kind for a segment's tokens.

    "gram": the key of each run of 2-3 words joined (phonetic.gram_keys),
    at every position of the run, so a hit on it covers all the words heard.
    "near": the start and end (phonetic.ends) of every word's and every
    run's long key, at the same positions, and every word's key with its
    first letters (phonetic.headed).
    Glossary aliases (extra tokens at a
    position already taken) are left out: runs are of the words heard.
    """
    heard: dict[int, str] = {}
    for pos, tok in stream:
        heard.setdefault(pos, tok)
    positions = sorted(heard)
    toks = [heard[p] for p in positions]
    runs: list[tuple[int, int, str]] = list(phonetic.gram_keys(toks))
    out: list[tuple[int, str]] = []
    if kind == "gram":
        for i, j, key in runs:
            out.extend((positions[k], key) for k in range(i, j + 1))
        return out
    for i, j, key in runs:
        out.extend((positions[k], form) for form in phonetic.ends(key) for k in range(i, j + 1))
    for i, tok in enumerate(toks):
        for key in phonetic.keys(tok):
            out.append((positions[i], phonetic.headed(key, tok)))
            out.extend((positions[i], form) for form in phonetic.ends(key))
    return out


class PreparedAnalyzer(Analyzer):
    """Turns a prepared stream or query text into terms of one kind."""

    def __init__(self, kind: str):
        if kind not in KINDS:
            raise ValueError(f"unknown analyzer kind {kind!r}")
        self.kind = kind

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.kind!r})"

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs,
    ) -> Iterator[Token]:
        if normalize.is_prepared(value):
            stream = normalize.decode(value)
        elif tokenize:
            stream = list(enumerate(normalize.tokens(value)))
        else:  # prefix / wildcard text: one term, folded but not stemmed
            stream = [(0, normalize.fold(value))]
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            terms = stream
        elif self.kind in RUN_KINDS:
            terms = run_terms(self.kind, stream)
        else:
            terms = [(pos, text) for pos, tok in stream for text in terms_for(self.kind, tok)]
        for pos, text in terms:
            t.text = text
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = text
            if positions:
                t.pos = start_pos + pos
            if chars:  # not used for search; whoosh only needs them to exist
                t.startchar = t.endchar = start_char
            yield t
