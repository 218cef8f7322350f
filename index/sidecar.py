"""A segment's sound-key postings as arrays, kept in a file beside the segment (`<segment id>.snd1`).

A rare word's sounds-alike tier opens a few hundred sound keys it has not
opened before (its keys one sound off, each half of the word heard split,
the keys ending with a half); each opening walked the key's block headers in
Python and unpickled its blocks' document numbers, most of a new word's
search on a big archive. whoosh segments never change once written (their
deletions are kept apart, in the table of contents), so every key's block
headers and document numbers are read once per segment, written here, and a
key is then opened by a dictionary lookup and two array slices.

The file is checked before it is used: its own checksum, the segment's id and
document count, and a few keys walked in whoosh's file and compared, so a
file cut, damaged or left from another segment is written again, never
trusted. It holds every document of the segment, deleted ones too (those
depend on the generation, and termdict leaves them out as it reads). A file
that cannot be written (a read-only index) is built in memory for the
generation instead. whoosh's own clean-up deletes the file with its segment
(its name has the segment's form), and `store` leaves it out of the
directory signature, so writing it never reopens the searcher.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

SUFFIX = ".snd1"
MAGIC = b"IISND1\n"
_LEN = struct.Struct("<I")
# (name, dtype) of the arrays after the header, in file order
_ARRAYS = (
    ("df", "<i8"),  # the key's document frequency (whoosh's term info)
    ("maxweight", "<f8"),  # its greatest weight in the segment (term info)
    ("bstart", "<i8"),  # key k's blocks are rows bstart[k]:bstart[k + 1]
    ("bmax", "<i8"),  # a block's last document
    ("bcount", "<i8"),  # its postings
    ("bcomp", "<i8"),  # its compression level
    ("bdata", "<i8"),  # where its data starts, from the start of the postings part
    ("bend", "<i8"),  # where it ends
    ("bweight", "<f8"),  # its greatest weight
    ("dstart", "<i8"),  # key k's documents are docs[dstart[k]:dstart[k + 1]]
    ("docs", "<i4"),  # every key's documents, deleted ones included
)
CHECKED = 3  # keys walked in whoosh's file and compared with the file's when it is loaded


class SoundArrays:
    """One segment's sound keys: `rows` (key -> row) and the arrays of _ARRAYS."""

    def __init__(self, keys: list[str], arrays: dict[str, np.ndarray], base: int = 0):
        self.keys = keys
        self.rows = {k: i for i, k in enumerate(keys)}
        self.arrays = arrays
        # as Python numbers, once: a key is opened with a few list lookups, no numpy scalar made
        self.df = arrays["df"].tolist()
        self.maxweight = arrays["maxweight"].tolist()
        self.bstart, self.dstart = arrays["bstart"].tolist(), arrays["dstart"].tolist()
        self.base = base  # where the postings part starts in the map termdict reads blocks from
        cols = [arrays[c].tolist() for c in ("bmax", "bcount", "bcomp")]
        cols += [(arrays[c] + base).tolist() for c in ("bdata", "bend")] + [arrays["bweight"].tolist()]
        self._blocks = list(zip(*cols, strict=True))
        self.docs = arrays["docs"].astype(np.int64)  # what termdict's arrays of documents are
        self.docs.flags.writeable = False  # its slices are shared by the searches of a generation

    def blocks(self, row: int) -> list[tuple[int, int, int, int, int, float]]:
        """Key `row`'s block headers as termdict.TermProbe.open lists them (data positions in the map)."""
        return self._blocks[self.bstart[row] : self.bstart[row + 1]]

    def docs_of(self, row: int) -> np.ndarray:
        """Key `row`'s documents in the segment, deleted ones included (read-only)."""
        return self.docs[self.dstart[row] : self.dstart[row + 1]]


def build(walk: Any, keys: list[str], base: int) -> SoundArrays | None:
    """The arrays of `keys` (sorted) from `walk(key) -> (blocks, df, maxweight, raw ids) | None` (the blocks'
    data positions from the start of the postings part, at `base` in the map), None when a key is stored
    in a way termdict does not read."""
    cols: dict[str, list] = {name: [] for name, _dtype in _ARRAYS}
    bstart, dstart = [0], [0]
    docs: list[np.ndarray] = []
    nblocks = ndocs = 0
    kept = []
    for key in keys:
        got = walk(key)
        if got is None:
            return None
        blocks, df, maxweight, ids = got
        kept.append(key)
        cols["df"].append(df)
        cols["maxweight"].append(maxweight)
        for maxid, count, comp, start, end, weight in blocks:
            cols["bmax"].append(maxid)
            cols["bcount"].append(count)
            cols["bcomp"].append(comp)
            cols["bdata"].append(start)
            cols["bend"].append(end)
            cols["bweight"].append(weight)
        nblocks += len(blocks)
        ndocs += len(ids)
        bstart.append(nblocks)
        dstart.append(ndocs)
        docs.append(np.asarray(ids, dtype=np.int32))
    cols["bstart"], cols["dstart"] = bstart, dstart
    arrays = {name: np.asarray(cols[name], dtype=dtype) for name, dtype in _ARRAYS if name != "docs"}
    arrays["docs"] = np.concatenate(docs) if docs else np.empty(0, dtype=np.int32)
    return SoundArrays(kept, arrays, base)


def encode(side: SoundArrays, segment: str, doc_count: int) -> bytes:
    body = ["\n".join(side.keys).encode()]
    body += [np.ascontiguousarray(side.arrays[name], dtype=dtype).tobytes() for name, dtype in _ARRAYS]
    head = {
        "segment": segment,
        "doc_count": doc_count,
        "keys": len(side.keys),
        "sizes": [len(b) for b in body],
        "crc": zlib.crc32(b"".join(body)),
    }
    raw = json.dumps(head, sort_keys=True).encode()
    return MAGIC + _LEN.pack(len(raw)) + raw + b"".join(body)


def decode(data: bytes, segment: str, doc_count: int, base: int = 0) -> SoundArrays | None:
    """The arrays of a file's bytes, None when they are not whole, not consistent or of another segment."""
    try:
        if not data.startswith(MAGIC):
            return None
        at = len(MAGIC)
        (n,) = _LEN.unpack_from(data, at)
        at += _LEN.size
        head = json.loads(data[at : at + n])
        at += n
        if head["segment"] != segment or head["doc_count"] != doc_count:
            return None
        sizes = head["sizes"]
        if len(sizes) != len(_ARRAYS) + 1 or at + sum(sizes) != len(data):
            return None
        view = memoryview(data)[at:]
        if zlib.crc32(view) != head["crc"]:
            return None
        parts, pos = [], 0
        for size in sizes:
            parts.append(view[pos : pos + size])
            pos += size
        keys = bytes(parts[0]).decode().split("\n") if sizes[0] else []
        arrays = {}
        for (name, dtype), part in zip(_ARRAYS, parts[1:], strict=True):
            arrays[name] = np.frombuffer(part, dtype=dtype)
        k = len(keys)
        if k != head["keys"] or len(arrays["df"]) != k or len(arrays["maxweight"]) != k:
            return None
        nb, nd = len(arrays["bmax"]), len(arrays["docs"])
        if len(arrays["bstart"]) != k + 1 or len(arrays["dstart"]) != k + 1:
            return None
        if any(len(arrays[c]) != nb for c in ("bcount", "bcomp", "bdata", "bend", "bweight")):
            return None
        if int(arrays["bstart"][-1]) != nb or int(arrays["dstart"][-1]) != nd:
            return None
        if nd and (int(arrays["docs"].min()) < 0 or int(arrays["docs"].max()) >= doc_count):
            return None
        if keys != sorted(keys):
            return None
        return SoundArrays(keys, arrays, base)
    except (ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError):
        return None


def agrees(side: SoundArrays, walk: Any) -> bool:
    """Whether a few keys (first, middle, last) read as whoosh's file holds them match the arrays."""
    if not side.keys:
        return True
    for row in sorted({0, len(side.keys) // 2, len(side.keys) - 1})[:CHECKED]:
        got = walk(side.keys[row])
        if got is None:
            return False
        blocks, df, maxweight, ids = got
        if df != side.df[row] or maxweight != side.maxweight[row]:
            return False
        theirs = [(m, c, z, s - side.base, e - side.base, w) for m, c, z, s, e, w in side.blocks(row)]
        if blocks != theirs or list(ids) != side.docs_of(row).tolist():
            return False
    return True


def path_for(folder: str | os.PathLike | None, segment: str) -> Path | None:
    return None if folder is None else Path(folder) / (segment + SUFFIX)


def load(path: Path | None, segment: str, doc_count: int, walk: Any, base: int = 0) -> SoundArrays | None:
    """The file's arrays when they are whole, of this segment and agree with whoosh's file (`walk` as for
    build, `base` too); else None."""
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    side = decode(data, segment, doc_count, base)
    if side is None or not agrees(side, walk):
        return None
    return side


def save(path: Path | None, side: SoundArrays, segment: str, doc_count: int) -> bool:
    """Write the file (atomically: a reader sees all of it or none); False when it cannot be written."""
    if path is None:
        return False
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(encode(side, segment, doc_count))
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        return False


def is_sidecar(name: str) -> bool:
    """Whether a file of the index directory is one of these (or one being written)."""
    return name.endswith(SUFFIX) or (name.endswith(".tmp") and SUFFIX + "." in name)
