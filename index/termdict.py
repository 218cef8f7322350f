"""Whether a whoosh segment may hold a term, answered in memory from its term dictionary's hash table.

A sounds-alike search asks for a few hundred keys one sound away from the
word's, and no segment holds most of them. whoosh answers each absent term
with several seeks and reads through its compound-file layers, which cost
more than the rest of a rare word's search. Here a segment's file is mapped
once per index generation (`probes`, kept with the searcher) and the hash
table's slots are read from the map as whoosh's own lookup reads them
(filetables.HashReader.ranges_for_key): an empty slot means the term is
certainly absent; a slot holding the term's hash means it may be there, and
whoosh's lookup, which compares the term itself, decides. Nothing is read
into memory but the slots probed, whatever the size of the archive.

Words within an edit distance (a word typed `word~`, the fuzzy tier, "did you
mean") come from the field's vocabulary held in memory per generation
(`terms_within`): whoosh's edit automaton walked each segment's term list on
disk, a quarter of a misspelled name's search.
"""

from __future__ import annotations

import bisect
import mmap
import struct
from typing import Any

from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extract
from whoosh.reading import IndexReader

_SLOT = struct.Struct("!Iq")  # (hash, item position): filetables._pointer


class TermProbe:
    """Answers `may_hold(fieldname, text)` for one segment without going through whoosh's file layers."""

    def __init__(self, leaf: Any):
        self._leaf = leaf
        terms = leaf._terms
        table = terms._tindex
        self._keycoder = terms._keycoder
        self._hashfn = table.hashfn
        self._tables = list(table.tables)
        dbfile = table.dbfile
        if hasattr(dbfile, "_buf"):  # whoosh mapped the compound file itself
            self._buf, self._base = dbfile._buf, 0
        else:
            sub = dbfile.file  # a part of the compound file (or the whole file of a segment not compounded)
            raw = getattr(sub, "_file", sub)
            self._base = getattr(sub, "_offset", 0)
            self._buf = mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ)
        self._schema = leaf.schema

    def may_hold(self, fieldname: str, text: str) -> bool:
        """False only when the segment certainly has no such term."""
        if fieldname not in self._schema:
            return False
        key = self._keycoder(fieldname, self._schema[fieldname].to_bytes(text))
        keyhash = self._hashfn(key)
        start, slots = self._tables[keyhash & 255]
        if not slots:
            return False
        end = start + slots * _SLOT.size
        pos = start + ((keyhash >> 8) % slots) * _SLOT.size
        buf, base, unpack = self._buf, self._base, _SLOT.unpack_from
        for _ in range(slots):
            slothash, itempos = unpack(buf, base + pos)
            if not itempos:
                return False
            if slothash == keyhash:
                return True
            pos += _SLOT.size
            if pos == end:
                pos = start
        return False


class _Always:
    """A segment whoosh stores some other way: every term may be there (whoosh's lookup decides)."""

    def may_hold(self, fieldname: str, text: str) -> bool:
        return True


def probes(reader: IndexReader, derived: dict[str, Any] | None) -> list[TermProbe | _Always]:
    """One probe per segment of `reader` (in leaf_readers order), made once per index generation."""
    cached = derived.get("term_probes") if derived is not None else None
    if cached is not None and cached[0] is reader:
        return cached[1]
    out: list[TermProbe | _Always] = []
    for leaf, _base in reader.leaf_readers():
        try:
            out.append(TermProbe(leaf))
        except Exception:  # noqa: BLE001 - another codec or storage: fall back to whoosh's lookups
            out.append(_Always())
    if derived is not None:
        derived["term_probes"] = (reader, out)
    return out


def vocabulary(reader: IndexReader, fieldname: str, derived: dict[str, Any] | None) -> list[str]:
    """Every term of a field in any segment, sorted, read once per index generation."""
    key = ("vocabulary", fieldname)
    cached = derived.get(key) if derived is not None else None
    if cached is not None and cached[0] is reader:
        return cached[1]
    words: set[str] = set()
    for leaf, _base in reader.leaf_readers():
        words.update(leaf.field_terms(fieldname))
    out = sorted(words)
    if derived is not None:
        derived[key] = (reader, out)
    return out


def terms_within(
    reader: IndexReader, fieldname: str, text: str, maxdist: int, prefix: int, derived: dict[str, Any] | None
) -> list[str]:
    """Terms of a field within `maxdist` Levenshtein edits of `text` that start with its first `prefix`
    letters, sorted: what whoosh's automaton finds on each segment (soundkeys.terms_within; it counts no
    transposition), from the vocabulary in memory. A shared start changes no edit distance."""
    words = vocabulary(reader, fieldname, derived)
    head = text[:prefix]
    lo = bisect.bisect_left(words, head)
    hi = bisect.bisect_left(words, head + "\U0010ffff") if head else len(words)
    found = extract(text, words[lo:hi], scorer=Levenshtein.distance, score_cutoff=maxdist, limit=None)
    return sorted(w for w, _dist, _i in found)
