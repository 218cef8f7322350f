"""Term-dictionary lookups that tolerant searches repeat, made once per index generation.

A name heard glued to the word before it is searched as "any sound key
ending in SKL" (`*SKL`), and a misspelling as the words within an edit or two.
whoosh answers the first by reading every sound key of the index, and the
second, over an index of several segments, by a pure-Python edit distance to
every term. Here the first becomes a lookup in a map from key endings to keys,
built once per index generation (kept with the searcher, see
store.searching), and the second runs whoosh's edit automaton on each
segment and joins the words, so the result is the same whatever the number of
segments.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from whoosh.reading import IndexReader

from . import schema, termdict

MIN_ENDING = 1  # "*K": endings of any length are mapped; a key ending is matched exactly


def keys_ending_with(reader: IndexReader, ending: str, derived: dict[str, Any] | None) -> list[str]:
    """Sound keys of the index that end with `ending` (the key itself included), sorted."""
    endings = derived.get("sound_endings") if derived is not None else None
    if endings is None:
        endings = _endings(termdict.vocabulary(reader, schema.SOUND, derived))
        if derived is not None:
            derived["sound_endings"] = endings
    return endings.get(ending, [])


def keys_within_one(reader: IndexReader, text: str, prefix: int, derived: dict[str, Any] | None) -> list[str]:
    """Sound keys of the index within one Levenshtein edit of `text` sharing its first `prefix` letters,
    sorted: what terms_within(reader, SOUND, text, 1, prefix) finds (whoosh's automaton counts no
    transposition), from the index's keys held in memory instead of a walk of each segment's
    key list on disk, which cost more than the rest of a misspelled name's search."""
    keys, letters = _keys(reader, derived)
    head, tail = text[:prefix], text[prefix:]
    near = {tail}
    for i in range(len(tail) + 1):
        near.update(tail[:i] + c + tail[i:] for c in letters)
        if i < len(tail):
            near.add(tail[:i] + tail[i + 1 :])
            near.update(tail[:i] + c + tail[i + 1 :] for c in letters)
    return sorted(k for k in (head + t for t in near) if k in keys)


def known_keys(reader: IndexReader, derived: dict[str, Any] | None) -> frozenset[str]:
    """Every sound key of the index, held per index generation: most of the few hundred keys a name is
    looked up as are in no segment, and a set answers that before any segment's term dictionary is probed."""
    return _keys(reader, derived)[0]


def _keys(reader: IndexReader, derived: dict[str, Any] | None) -> tuple[frozenset[str], list[str]]:
    """(the index's sound keys, the sounds they are made of), once per index generation."""
    cached = derived.get("sound_keys") if derived is not None else None
    if cached is None:
        keys = frozenset(termdict.vocabulary(reader, schema.SOUND, derived))
        cached = (keys, sorted({c for k in keys for c in k}))
        if derived is not None:
            derived["sound_keys"] = cached
    return cached


def _endings(keys: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        for i in range(len(key) - MIN_ENDING + 1):
            out[key[i:]].append(key)
    return {k: sorted(v) for k, v in out.items()}


def terms_within(reader: IndexReader, fieldname: str, text: str, maxdist: int, prefix: int = 0) -> list[str]:
    """Words of a field within `maxdist` Damerau-Levenshtein edits of `text` (sharing its first
    `prefix` letters), sorted: whoosh's automaton on every segment, the same for one segment or many."""
    found: set[str] = set()
    for leaf, _base in reader.leaf_readers():
        for t in leaf.terms_within(fieldname, text, maxdist, prefix=prefix):
            found.add(t.decode() if isinstance(t, bytes) else t)
    return sorted(found)
