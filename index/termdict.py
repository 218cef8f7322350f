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

A term's postings (document numbers and weights) are read the same way
(`TermProbe.postings`): the term's entry in the hash table, then its blocks
from the mapped postings part, decoded as whoosh's matcher decodes them. A
sounds-alike search reads a few hundred short posting lists; whoosh looked
each term up four times (to test it, for its statistics, for its scorer and
for its postings), each through several file layers, which cost far more
than the postings themselves. `bm25` scores them as whoosh's BM25F does, to
the last bit (tests/test_index_termdict.py compares every term's scores).
`TermProbe.open` reads only a term's block headers; its blocks are decoded
when asked for, the document numbers alone first (TermPostings), so a search
decodes whole only the blocks holding segments it scores or places.

What a search read of a term (its block headers, its document numbers, the
blocks it decoded whole) is kept per index generation within one budget
(COMMON_HELD, the least recently asked for dropped first): the halves of a
name heard split are ORs of short, common sound keys, read again by each
search of the name and by names sharing them, and decoding them in Python
was most of a rare word's search.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import mmap
import pickle
import re
import struct
import threading
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable
from itertools import accumulate
from math import log
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extract
from whoosh.filedb.filetables import md5_hash
from whoosh.reading import IndexReader
from whoosh.scoring import BM25F, bm25
from whoosh.util.numeric import byte_to_length

from . import sidecar
from .schema import SOUND as SIDECAR_FIELD

_SLOT = struct.Struct("!Iq")  # (hash, item position): filetables._pointer
_LENGTHS = struct.Struct("!ii")  # (key length, value length) before an item: filetables._lengths
_TERMINFO = struct.Struct("!BfIBBfII")  # whoosh3.W3TermInfo._struct
_EXTENT = struct.Struct("!qi")  # postings offset and length after it (pack_long, pack_int)
_BLOCKLEN = struct.Struct("!i")
_MAGIC = b"W3Bl"  # whoosh3.WHOOSH3_HEADER_MAGIC
_FIELD_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
_HEADER = 64  # bytes enough for a block's pickled header (six numbers); pickle reads no further than its end
SMALL = 48  # postings scored in Python below this many, with numpy from it (the same doubles)
COMMON = 1  # postings of a term in a segment for its headers and document numbers to be kept (TermProbe.open)
COMMON_HELD = 4_000_000  # what is kept so at most (a document number counts 1), shared by the segments
DECODED = 10  # a posting decoded whole (its document, weight and positions) counts this many
SIDECARS = True  # sound keys opened from their segment's sidecar arrays (index.sidecar); off: from whoosh's files


Postings = tuple[list[int], list[float], list[bytes], int]  # ids, weights, values, document frequency


class Unreadable(Exception):
    """Postings this module does not read (inlined, another codec): whoosh reads them."""


def _mapped(structfile: Any) -> tuple[Any, int]:
    """(buffer, offset) of a whoosh StructFile: its own map, or a read-only map of the file it is part of."""
    if hasattr(structfile, "_buf"):  # whoosh mapped the compound file itself
        return structfile._buf, 0
    sub = structfile.file  # a part of the compound file (or the whole file of a segment not compounded)
    raw = getattr(sub, "_file", sub)
    return mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ), getattr(sub, "_offset", 0)


class TermProbe:
    """Answers `may_hold(fieldname, text)` for one segment without going through whoosh's file layers."""

    def __init__(self, leaf: Any):
        self._leaf = leaf
        terms = leaf._terms
        table = terms._tindex
        self._keycoder = terms._keycoder
        self._hashfn = _md5_low if table.hashfn is md5_hash else table.hashfn
        self._tables = list(table.tables)
        self._buf, self._base = _mapped(table.dbfile)
        self._postfile = terms._postfile
        self._posts: tuple[Any, int] | None = None  # the postings part, mapped on first use
        self._deleted: frozenset[int] | None = None  # a reader's deletions are fixed while it is open
        self._sound: sidecar.SoundArrays | bool | None = None  # see _sound_arrays; False: none to be had
        self._deleted_ids: np.ndarray | None = None  # _deleted as a sorted array, made when first needed
        self._table_arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # see absent
        self._schema = leaf.schema
        # common terms' block headers and document numbers, kept while the segment is (see open): key -> entry
        self._common: OrderedDict[bytes, _Common] = OrderedDict()
        self._held = 0  # what _common holds, in COMMON_HELD's units
        self.share = 1.0  # of COMMON_HELD: the segment's share of the index's documents (see probes)
        self._lock = threading.Lock()

    def may_hold(self, fieldname: str, text: str) -> bool:
        """False only when the segment certainly has no such term."""
        if fieldname not in self._schema:
            return False
        return self._find(self._keycoder(fieldname, self._schema[fieldname].to_bytes(text)), exact=False) is not None

    def _find(self, key: bytes, exact: bool = True) -> int | None:
        """Where `key`'s item starts in the hash table (filetables.HashReader.ranges_for_key), None when
        absent; `exact=False` stops at the first slot with the key's hash (a term certainly absent or
        maybe present, without reading the key)."""
        keyhash = self._hashfn(key)
        start, slots = self._tables[keyhash & 255]
        if not slots:
            return None
        end = start + slots * _SLOT.size
        pos = start + ((keyhash >> 8) % slots) * _SLOT.size
        buf, base, unpack = self._buf, self._base, _SLOT.unpack_from
        for _ in range(slots):
            slothash, itempos = unpack(buf, base + pos)
            if not itempos:
                return None
            if slothash == keyhash:
                if not exact:
                    return itempos
                keylen = _LENGTHS.unpack_from(buf, base + itempos)[0]
                at = base + itempos + _LENGTHS.size
                if keylen == len(key) and buf[at : at + keylen] == key:
                    return itempos
            pos += _SLOT.size
            if pos == end:
                pos = start
        return None

    def coding(self, fieldname: str) -> tuple[Any, bytes]:
        """What a term's hash in this segment depends on besides its text: probes answering alike share hashes."""
        return self._hashfn, self._keycoder(fieldname, b"")

    def hashes(self, fieldname: str, texts: list[str]) -> np.ndarray:
        """The hash table's hash of each of `texts` in this segment (for absent)."""
        field, code, hashfn = self._schema[fieldname], self._keycoder, self._hashfn
        return np.fromiter((hashfn(code(fieldname, field.to_bytes(t))) for t in texts), np.int64, len(texts))

    def absent(self, fieldname: str, texts: list[str], rounds: int = 8, hashes: np.ndarray | None = None) -> np.ndarray:
        """For each of `texts`, True when this segment certainly has no such term: the slots whoosh's lookup
        would read (_find) read for all of them at once, up to `rounds` slots each; False: it may be there.
        `hashes`: hashes() of `texts`, when known.

        A name's sounds-alike queries look up a few hundred keys of runs of words, most of which no segment
        holds; one at a time, each lookup cost more in Python than what it found."""
        out = np.zeros(len(texts), dtype=bool)
        if fieldname not in self._schema or not texts:
            return out
        if hashes is None:
            hashes = self.hashes(fieldname, texts)
        if self._table_arrays is None:
            starts = np.array([t[0] for t in self._tables], dtype=np.int64)
            slots = np.array([t[1] for t in self._tables], dtype=np.int64)
            self._table_arrays = (starts, slots, np.frombuffer(self._buf, dtype=np.uint8))
        starts, slots, raw = self._table_arrays
        which = hashes & 255
        n = slots[which]
        out[n == 0] = True
        live = np.flatnonzero(n > 0)
        first = starts[which[live]]
        at = (hashes[live] >> 8) % n[live]  # the slot each starts at, then the next (wrapping round)
        offsets = np.arange(_SLOT.size, dtype=np.int64)
        for _ in range(rounds):
            if not len(live):
                break
            pos = self._base + first + at * _SLOT.size
            rec = raw[pos[:, None] + offsets]
            slothash = rec[:, :4].copy().view(">u4")[:, 0].astype(np.int64)
            itempos = rec[:, 4:].copy().view(">i8")[:, 0]
            empty = itempos == 0
            out[live[empty]] = True
            going = ~empty & (slothash != hashes[live])  # another key's slot: the next one
            live, first, at = live[going], first[going], (at[going] + 1) % n[live[going]]
        return out

    def words(self, fieldname: str) -> list[str]:
        """Every term of a field in this segment, in order, read from the mapped term file: its keys are
        sorted, a field's all together (whoosh's binary search finds the first). whoosh's field_terms read
        each through its file layers, seconds for a big segment's words when the first fuzzy search of a
        generation needs them. Raises Unreadable for a table read otherwise."""
        table = self._leaf._terms._tindex
        if fieldname not in self._schema or not hasattr(table, "closest_key_pos"):
            raise Unreadable(fieldname)
        prefix = self._keycoder(fieldname, b"")
        pos = table.closest_key_pos(prefix)
        out: list[str] = []
        if pos is None:
            return out
        buf, base, end, n, unpack = self._buf, self._base, table.endofdata, len(prefix), _LENGTHS.unpack_from
        while pos < end:
            keylen, datalen = unpack(buf, base + pos)
            at = base + pos + _LENGTHS.size
            if buf[at : at + n] != prefix:
                break
            out.append(buf[at + n : at + keylen].decode("utf-8"))
            pos += _LENGTHS.size + keylen + datalen
        return out

    def _value(self, key: bytes) -> bytes | None:
        """The hash table's value for `key`, None when absent."""
        itempos = self._find(key)
        if itempos is None:
            return None
        keylen, datalen = _LENGTHS.unpack_from(self._buf, self._base + itempos)
        at = self._base + itempos + _LENGTHS.size + keylen
        return self._buf[at : at + datalen]

    def open(self, fieldname: str, text: str, within: list[int] | None = None) -> TermPostings | None:
        """A term's postings in this segment, decoded block by block as they are asked for (TermPostings);
        None when the segment has none. Only its blocks' headers are read here (a sound key's come from the
        segment's sidecar arrays, its document numbers with them). `within` as for postings().
        Raises Unreadable for postings stored another way."""
        if fieldname not in self._schema:
            return None
        key = self._keycoder(fieldname, self._schema[fieldname].to_bytes(text))
        if within is None and self._common:
            kept = self.kept(key)
            if kept is not None:
                return kept
        ids = None
        side = self._sound_arrays() if SIDECARS and within is None and fieldname == SIDECAR_FIELD else None
        if side is not None:
            row = side.rows.get(text)
            if row is None:  # the arrays hold every sound key of the segment
                return None
            if self._posts is None:
                self._posts = _mapped(self._postfile)
            blocks = side.blocks(row)
            df, maxweight = side.df[row], side.maxweight[row]
            ids = side.docs_of(row)
            count = len(ids)
        else:
            got = self._walk(key, within)
            if got is None:
                return None
            blocks, df, maxweight = got
            count = sum(b[1] for b in blocks)
        if self._deleted is None:
            self._deleted = self._leaf.deleted_docs_set if self._leaf.has_deletions() else frozenset()
        buf = self._posts[0]  # type: ignore[index]
        common = None
        if within is None and count >= COMMON:
            common = _Common(blocks, df, maxweight, count, self)
            common.key = key
            if ids is not None:  # the document numbers, deleted ones left out as ids() leaves them out
                if self._deleted:
                    if self._deleted_ids is None:
                        self._deleted_ids = np.array(sorted(self._deleted), dtype=np.int64)
                    ids = ids[~np.isin(ids, self._deleted_ids, assume_unique=True)]
                    ids.flags.writeable = False
                common.ids = ids
                common.size += len(ids)
            with self._lock:
                if key not in self._common:
                    self._common[key] = common
                    self._held += common.size
                self._trim()
        return TermPostings(buf, blocks, df, self._deleted, maxweight, common, count)

    def _walk(
        self, key: bytes, within: list[int] | None = None
    ) -> tuple[list[tuple[int, int, int, int, int, float]], int, float] | None:
        """(block headers, document frequency, greatest weight) of a term's postings, read from the term's
        entry and its blocks' headers in the mapped files; None when the segment has no such term."""
        data = self._value(key)
        if data is None:
            return None
        flags, _total, df, _mn, _mx, maxweight, _first, _last = _TERMINFO.unpack_from(data)
        if flags:  # inlined into the term dictionary
            raise Unreadable(key)
        offset, _length = _EXTENT.unpack_from(data, _TERMINFO.size)
        if self._posts is None:
            self._posts = _mapped(self._postfile)
        buf, base = self._posts
        pos = base + offset
        if buf[pos : pos + 4] != _MAGIC:
            raise Unreadable(key)
        pos += 4
        # (last document, count, compression, data start, end, greatest weight) of each block kept
        blocks: list[tuple[int, int, int, int, int, float]] = []
        after = -1  # the last document of the blocks before
        while True:
            length = _BLOCKLEN.unpack_from(buf, pos)[0]
            start, following = pos + _BLOCKLEN.size, pos + _BLOCKLEN.size + abs(length)
            info = pickle.loads(buf[start : min(start + _HEADER, following)])  # the block's header, data after it
            count, maxid, blockweight, compression, _mnlen, _mxlen = info
            keep = True
            if within is not None:  # the document frequency is still the whole segment's (BM25's idf)
                k = bisect.bisect_right(within, after)
                if k == len(within):  # nothing wanted after this
                    break
                after = maxid
                keep = within[k] <= maxid  # else no wanted document in this block
            if keep:
                size = _pickled_size(info)
                if buf[start + size - 3 : start + size] == b"q\x00.":
                    blocks.append((maxid, count, compression, start + size, following, blockweight))
                else:  # pickled otherwise: let pickle find where it ends
                    header = io.BytesIO(buf[start:following])
                    pickle.load(header)
                    blocks.append((maxid, count, compression, start + header.tell(), following, blockweight))
            if length < 0:  # the last block
                break
            pos = following
        return blocks, df, maxweight

    def _walked(self, text: str) -> tuple[list, int, float, list[int]] | None:
        """A sound key as whoosh's files hold it, for the sidecar: its block headers (data positions from the
        start of the postings part), document frequency, greatest weight and documents, deleted ones too."""
        try:
            got = self._walk(self._keycoder(SIDECAR_FIELD, self._schema[SIDECAR_FIELD].to_bytes(text)))
        except Unreadable:
            return None
        if got is None:
            return None
        blocks, df, maxweight = got
        ids = TermPostings(self._posts[0], blocks, df, frozenset(), maxweight).ids()  # type: ignore[index]
        base = self._posts[1]  # type: ignore[index]
        return [(m, c, z, s - base, e - base, w) for m, c, z, s, e, w in blocks], df, maxweight, ids

    def _sound_arrays(self) -> sidecar.SoundArrays | None:
        """The segment's sound keys as arrays: loaded from its sidecar file when that is whole and agrees
        with the segment, else built from the segment and written (once per segment, not per generation)."""
        side = self._sound
        if side is None:
            with self._lock:
                side = self._sound
                if side is None:
                    side = self._sound = self._make_sound_arrays() or False
        return side or None

    def _make_sound_arrays(self) -> sidecar.SoundArrays | None:
        if SIDECAR_FIELD not in self._schema:
            return None
        try:
            segment = self._leaf.segment().segment_id()
            doc_count = self._leaf.doc_count_all()
            path = sidecar.path_for(_folder(self._leaf), segment)
            if self._posts is None:
                self._posts = _mapped(self._postfile)
            base = self._posts[1]  # type: ignore[index]
            side = sidecar.load(path, segment, doc_count, self._walked, base)
            if side is None:
                side = sidecar.build(self._walked, sorted(self._leaf.field_terms(SIDECAR_FIELD)), base)
                if side is not None:
                    sidecar.save(path, side, segment, doc_count)
            return side
        except Exception:  # noqa: BLE001 - an optimisation: whoosh's files are read as before
            return None

    def kept(self, key: bytes) -> TermPostings | None:
        """open() of a term whose postings are kept, by its TermPostings.key; None when they are not (any more)."""
        common = self._common.get(key)
        if common is None:
            return None
        try:
            self._common.move_to_end(key)
        except KeyError:  # dropped meanwhile by another thread: it is still whole
            pass
        buf = self._posts[0]  # type: ignore[index]
        return TermPostings(buf, common.blocks, common.df, self._deleted, common.maxweight, common, common.count)  # type: ignore[arg-type]

    def _grew(self, common: _Common, size: int) -> None:
        """A kept term's document numbers or a block of it decoded: `size` more held."""
        with self._lock:
            common.size += size
            if self._common.get(common.key) is common:
                self._held += size
                self._trim()

    def _trim(self) -> None:  # (with the lock held) the least recently asked for go
        while self._held > COMMON_HELD * self.share and len(self._common) > 1:
            self._held -= self._common.popitem(last=False)[1].size

    def postings(self, fieldname: str, text: str, within: list[int] | None = None) -> Postings | None:
        """(document numbers, weights, encoded values, document frequency) of a term in this segment,
        None when it has none; what whoosh's W3LeafMatcher reads, deleted documents left out as whoosh's
        reader leaves them out. Raises Unreadable for postings stored another way.

        `within` (sorted document numbers of this segment): only the blocks that may hold one of them
        are decoded (whoosh's block headers give each block's last document), for a search filtered to
        a speaker or a video; the postings returned then hold all of `within`'s, and perhaps more."""
        got = self.open(fieldname, text, within)
        return None if got is None else got.read()

    def field_lengths(self, fieldname: str) -> bytes:
        """The segment's per-document length bytes of a field, as store.preload_lengths holds them."""
        from whoosh.codec.whoosh3 import _lenfield

        lengths = getattr(self._leaf._perdoc, "_readers", {}).get(_lenfield(fieldname))
        if not isinstance(lengths, bytes):
            raise Unreadable(fieldname)
        return lengths


class _Common:
    """A common term's block headers in one segment and, once decoded, its document numbers (TermPostings.id_array),
    kept per index generation: the halves of names heard split are ORs of short sound keys, the same few
    thousand common ones for many names, each in thousands of segments."""

    __slots__ = ("blocks", "df", "maxweight", "count", "ids", "full", "size", "owner", "key")

    def __init__(
        self, blocks: list[tuple[int, int, int, int, int, float]], df: int, maxweight: float, count: int, owner: Any
    ):
        self.blocks, self.df, self.maxweight, self.count = blocks, df, maxweight, count
        self.ids: np.ndarray | None = None
        # blocks decoded whole (their weights and positions), for the segments a search scores and places
        self.full: dict[int, tuple[list[int], Any, tuple[bytes, ...]]] = {}
        self.size = len(blocks)  # what it holds, in COMMON_HELD's units
        self.owner, self.key = owner, None


# A block's document numbers (whoosh's delta-coded tuple of ints, the first thing of its pickle, protocol 2):
# MARK, BININT1/BININT2/BININT each, TUPLE; TUPLE1-3 for up to three; EMPTY_TUPLE for none.
_IDS = re.compile(rb"\x80\x02(?:\((?:K.|M..|J....)*t|(?:K.|M..|J....){1,3}[\x85\x86\x87]|\))", re.S)


class TermPostings:
    """One term's postings in one segment, for one search: the blocks' headers read when opened, each block's
    document numbers decoded alone when first asked for (`ids`), its weights and values only when a document
    in it is (`read`).

    A sounds-alike search takes the union and intersections of a few hundred terms' documents, then scores
    and places only the few hundred segments that can match. whoosh pickles each block's values (every
    posting's positions) as calls that rebuild byte strings, most of a block's decoding; the document
    numbers come first in the pickle, so they are unpickled alone from the start of the block (most of
    the block is not even decompressed)."""

    __slots__ = (
        "_buf", "_blocks", "df", "_deleted", "_ids", "_full", "_whole", "count", "maxid", "maxweight", "_common"
    )  # fmt: skip

    def __init__(
        self,
        buf: Any,
        blocks: list[tuple[int, int, int, int, int, float]],
        df: int,
        deleted: frozenset[int],
        maxweight: float,
        common: _Common | None = None,
        count: int | None = None,
    ):
        self._buf, self._blocks, self.df, self._deleted = buf, blocks, df, deleted
        self._common = common  # where a common term's document numbers are kept (TermProbe.open)
        self.maxweight = maxweight  # the greatest weight of the term in the segment (whoosh's term info)
        self._ids: list[list[int] | None] = [None] * len(blocks)
        self._full: list[tuple[list[int], Any, tuple[bytes, ...]] | None] = [None] * len(blocks)
        self._whole: Postings | None = None  # read() of every block, once made
        # postings in the blocks kept (deleted documents included)
        self.count = sum(b[1] for b in blocks) if count is None else count
        self.maxid = blocks[-1][0] if blocks else -1

    def ids(self) -> list[int]:
        """The documents of every block kept, in order (deleted ones left out)."""
        if self._whole is not None:
            return self._whole[0]
        out: list[int] = []
        for k in range(len(self._blocks)):
            out.extend(self._block_ids(k))
        if self._deleted:
            out = [d for d in out if d not in self._deleted]
        return out

    @property
    def key(self) -> bytes | None:
        """The term's key in its segment when its postings are kept (TermProbe.kept), else None."""
        return None if self._common is None else self._common.key

    def id_array(self, whole: bool = False) -> np.ndarray:
        """ids() as a sorted array; `whole`: read()'s, every block decoded whole (kept for what follows)."""
        common = self._common
        if common is not None and common.ids is not None:
            return common.ids
        got = np.array(self.read()[0] if whole else self.ids(), dtype=np.int64)
        if common is not None:
            got.flags.writeable = False  # shared by the searches of this generation
            common.ids = got
            common.owner._grew(common, len(got))
        return got

    def _block_ids(self, k: int) -> list[int]:
        got = self._ids[k]
        if got is None:
            full = self._full[k]
            if full is not None:
                return full[0]
            maxid, count, compression, start, end, _w = self._blocks[k]
            raw = self._buf[start:end]
            data = zlib.decompressobj().decompress(raw, 5 * count + 8) if compression else raw
            m = _IDS.match(data)
            got = list(accumulate(pickle.loads(data[: m.end()] + b"."))) if m else None
            if got is None or len(got) != count or got[-1] != maxid:  # not as expected: decode it whole
                got = self._decode(k)[0]
            self._ids[k] = got
        return got

    def _decode(self, k: int) -> tuple[list[int], Any, tuple[bytes, ...]]:
        """Block `k` whole: its documents, weights (a sequence of floats) and values."""
        _maxid, count, compression, start, end, _w = self._blocks[k]
        raw = self._buf[start:end]
        bids, bweights, bvalues = pickle.loads(zlib.decompress(raw) if compression else raw)
        ids = self._ids[k] or list(accumulate(bids))  # whoosh's delta_decode
        if bweights is None:
            bweights = [1.0] * count
        elif isinstance(bweights, float):  # whoosh holds it in a float array
            bweights = array("f", [bweights]) * count
        return ids, bweights, bvalues

    def weight_at(self, doc: int) -> float:
        """weights_at of one document."""
        k = bisect.bisect_left([b[0] for b in self._blocks], doc) if len(self._blocks) > 1 else 0
        return self._blocks[min(k, len(self._blocks) - 1)][5]

    def weights_at(self, docs: np.ndarray) -> np.ndarray:
        """The greatest weight of the block each of `docs` (this segment's numbers, sorted) would be in:
        no posting of the term there weighs more (whoosh's block headers)."""
        last = np.fromiter((b[0] for b in self._blocks), dtype=np.int64, count=len(self._blocks))
        weight = np.fromiter((b[5] for b in self._blocks), dtype=np.float64, count=len(self._blocks))
        return weight[np.minimum(np.searchsorted(last, docs), len(last) - 1)]

    def read(self, docs: list[int] | None = None) -> Postings:
        """(ids, weights, values, df) of the blocks that may hold one of `docs` (sorted; None: every block),
        deleted documents left out: all of `docs`' postings, and perhaps more."""
        if self._whole is not None:  # every block decoded already: all of them is what is asked for, or more
            return self._whole
        ks: Iterable[int]
        if docs is None:
            ks = range(len(self._blocks))
        else:
            ks, k, n = [], 0, len(self._blocks)
            for d in docs:  # the first block whose last document is d or after
                while k < n and self._blocks[k][0] < d:
                    k += 1
                if k == n:
                    break
                if not ks or ks[-1] != k:
                    ks.append(k)
        ids: list[int] = []
        weights: list[float] = []
        values: list[bytes] = []
        full, common = self._full, self._common
        for k in ks:
            got = full[k]
            if got is None and common is not None:
                got = common.full.get(k)
            if got is None:
                got = self._decode(k)
                if common is not None:  # kept for the searches to come
                    common.full[k] = got
                    common.owner._grew(common, DECODED * self._blocks[k][1])
                if docs is not None:  # kept for the next reads of a few blocks
                    full[k] = got
            ids.extend(got[0])
            weights.extend(got[1])
            values.extend(got[2])
        if self._deleted:
            kept = [i for i, d in enumerate(ids) if d not in self._deleted]
            ids, weights, values = [ids[i] for i in kept], [weights[i] for i in kept], [values[i] for i in kept]
        if docs is None:
            self._whole = (ids, weights, values, self.df)
            self._full = [None] * len(self._blocks)
        return ids, weights, values, self.df


def _folder(leaf: Any) -> str | None:
    """The directory of a segment's files (its sidecar goes beside them), None for storage in memory."""
    storage = leaf.storage()
    for st in (storage, getattr(storage, "b", None)):
        folder = getattr(st, "folder", None)
        if isinstance(folder, str):
            return folder
    return None


def _md5_low(key: bytes) -> int:
    """whoosh's md5_hash (the digest's low 32 bits) without the hexadecimal round trip."""
    return int.from_bytes(hashlib.md5(key, usedforsecurity=False).digest()[12:], "big")


def _pickled_size(info: tuple) -> int:
    """Bytes of a block header as whoosh pickles it (protocol 2: a tuple of ints and a float, memoized
    once); postings() checks the end it finds."""
    size = 2 + 1 + 1 + 2 + 1  # PROTO 2, MARK, TUPLE, BINPUT 0, STOP
    for v in info:
        if isinstance(v, float):
            size += 9
        elif v is None:
            size += 1
        elif 0 <= v <= 0xFF:
            size += 2
        elif 0 <= v <= 0xFFFF:
            size += 3
        else:
            size += 5
    return size


class _Always:
    """A segment whoosh stores some other way: every term may be there (whoosh's lookup decides)."""

    def may_hold(self, fieldname: str, text: str) -> bool:
        return True

    def postings(self, fieldname: str, text: str, within: list[int] | None = None) -> Postings | None:
        raise Unreadable(fieldname, text)

    def open(self, fieldname: str, text: str, within: list[int] | None = None) -> TermPostings | None:
        raise Unreadable(fieldname, text)

    def absent(self, fieldname: str, texts: list[str], rounds: int = 8, hashes: np.ndarray | None = None) -> np.ndarray:
        return np.zeros(len(texts), dtype=bool)

    def field_lengths(self, fieldname: str) -> bytes:
        raise Unreadable(fieldname)


def _bm25_terms(searcher: Any, fieldname: str, df: int) -> tuple[float, float, float, float]:
    """(idf, average field length, B, K1) of a term as whoosh's BM25F scores it: idf from the whole
    index's document frequency `df` and count (WeightingModel.idf), the whole index's average field
    length. Raises Unreadable for another weighting, whose scores these would not be.

    The count, average length and parameters are the searcher's for as long as it is open: kept on it
    (whoosh summed every segment's field lengths for each term a search bounds or scores)."""
    fixed = getattr(searcher, "_ii_bm25", None)
    if fixed is None:
        fixed = {}
        try:
            searcher._ii_bm25 = fixed
        except AttributeError:  # a searcher that takes no attribute: worked out each time
            pass
    got = fixed.get(fieldname)
    if got is None:
        weighting = searcher.weighting
        if type(weighting) is not BM25F or not searcher.schema[fieldname].scorable:
            raise Unreadable(fieldname)
        avgfl = searcher.avg_field_length(fieldname) or 1
        got = fixed[fieldname] = (searcher.doc_count_all(), avgfl, weighting._field_B.get(fieldname, weighting.B),
                                  weighting.K1)  # fmt: skip
    count, avgfl, B, K1 = got  # noqa: N806 - BM25's names
    return log(count / (df + 1)) + 1, avgfl, B, K1


def bm25_scores(
    searcher: Any, fieldname: str, df: int, weights: list[float], lengths: bytes, ids: list[int]
) -> list[float]:
    """whoosh's BM25F score of a term in each document `ids` of one segment (its weights, the segment's
    field lengths), the same doubles as BM25FScorer.score: idf from the whole index's document
    frequency `df` and count, the whole index's average field length. Raises Unreadable for another
    weighting."""
    idf, avgfl, B, K1 = _bm25_terms(searcher, fieldname, df)  # noqa: N806 - BM25's names
    if len(ids) < SMALL:
        return [bm25(idf, w, byte_to_length(lengths[d]), avgfl, B, K1) for d, w in zip(ids, weights, strict=True)]
    tf = np.asarray(weights, dtype=np.float64)
    fl = _FIELD_LENGTHS[np.frombuffer(lengths, dtype=np.uint8)[np.asarray(ids, dtype=np.int64)]]
    return (idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))).tolist()


def bm25_bound_of(searcher: Any, fieldname: str, df: int) -> Callable[[float, int], float]:
    """bm25_bound of one document as a function of the weight and the document's field length byte."""
    idf, avgfl, B, K1 = _bm25_terms(searcher, fieldname, df)  # noqa: N806 - BM25's names
    return lambda weight, length: bm25(idf, weight, byte_to_length(length), avgfl, B, K1)


def bm25_bound(
    searcher: Any, fieldname: str, df: int, weight: float | np.ndarray, lengths: np.ndarray, ids: np.ndarray
) -> np.ndarray:
    """BM25F of a term of weight `weight` (one, or one for each document) in each document `ids` of one
    segment (`lengths`: its field length bytes as an array), as bm25_scores computes it: with the greatest
    weight the term may have there, no document's score exceeds it. Raises Unreadable for another weighting."""
    idf, avgfl, B, K1 = _bm25_terms(searcher, fieldname, df)  # noqa: N806 - BM25's names
    fl = _FIELD_LENGTHS[lengths[ids]]
    return idf * ((weight * (K1 + 1)) / (weight + K1 * ((1 - B) + B * fl / avgfl)))


def probes(reader: IndexReader, derived: dict[str, Any] | None) -> list[TermProbe | _Always]:
    """One probe per segment of `reader` (in leaf_readers order), made once per index generation."""
    cached = derived.get("term_probes") if derived is not None else None
    if cached is not None and cached[0] is reader:
        return cached[1]
    out: list[TermProbe | _Always] = []
    total = max(1, reader.doc_count_all())
    for leaf, _base in reader.leaf_readers():
        try:
            probe = TermProbe(leaf)
            probe.share = leaf.doc_count_all() / total  # an index of many segments keeps no more than of one
            out.append(probe)
        except Exception:  # noqa: BLE001 - another codec or storage: fall back to whoosh's lookups
            out.append(_Always())
    if derived is not None:
        derived["term_probes"] = (reader, out)
    return out


def write_sidecars(reader: IndexReader) -> int:
    """Write each segment's sidecar (index.sidecar) now, not in the first search that needs it: a fresh
    index of a thousand hours is two segments of millions of postings. Returns how many segments have one."""
    done = 0
    for leaf, _base in reader.leaf_readers():
        try:
            done += TermProbe(leaf)._sound_arrays() is not None
        except Exception:  # noqa: BLE001 - another codec or storage: the searches read whoosh's files
            continue
    return done


def vocabulary(reader: IndexReader, fieldname: str, derived: dict[str, Any] | None) -> list[str]:
    """Every term of a field in any segment, sorted, read once per index generation."""
    key = ("vocabulary", fieldname)
    cached = derived.get(key) if derived is not None else None
    if cached is not None and cached[0] is reader:
        return cached[1]
    words: set[str] = set()
    for (leaf, _base), probe in zip(reader.leaf_readers(), probes(reader, derived), strict=True):
        try:
            words.update(probe.words(fieldname))  # type: ignore[union-attr]
        except (Unreadable, AttributeError):  # read through whoosh
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
