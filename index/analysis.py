"""The whoosh analyzers of the three text fields.

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

KINDS = ("exact", "stem", "sound")


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
        for pos, tok in stream:
            found = (tok,) if not tokenize else terms_for(self.kind, tok)
            for text in found:
                t.text = text
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = tok
                if positions:
                    t.pos = start_pos + pos
                if chars:  # not used for search; whoosh only needs them to exist
                    t.startchar = t.endchar = start_char
                yield t
