"""A segment's sound keys read from its sidecar file (index.sidecar) are whoosh's postings, and a sidecar
that is damaged, cut, of another segment or inconsistent with its segment is written again, never trusted.

Real whoosh indexes of test_search_segments (one whoosh segment per video, and merged).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_search_segments import QUERIES, TRANSCRIPTS, _answer, _one_segment_per_video

from index import schema, sidecar, store, termdict
from index.search import search


@pytest.fixture
def index_dir(tmp_path) -> Path:
    d = tmp_path / "index"
    _one_segment_per_video(d)
    return d


def _sidecars(index_dir: Path) -> list[Path]:
    return sorted(p for p in index_dir.iterdir() if p.name.endswith(sidecar.SUFFIX))


def _probes(index_dir: Path) -> list:
    with store.searching(index_dir) as cached:
        return termdict.probes(cached.searcher.reader(), cached.derived)


def _whooshs(leaf, text: str) -> list:
    m = leaf.postings(schema.SOUND, text)
    out = []
    while m.is_active():
        out.append((m.id(), m.weight(), m.value()))
        m.next()
    return out


def _compare_with_whoosh(index_dir: Path) -> int:
    """Every sound key of every segment opened from the sidecar: whoosh's documents, weights and values."""
    compared = 0
    with store.searching(index_dir) as cached:
        reader = cached.searcher.reader()
        for (leaf, _base), probe in zip(reader.leaf_readers(), termdict.probes(reader, cached.derived), strict=True):
            side = probe._sound_arrays()
            assert side is not None
            assert side.keys == sorted(leaf.field_terms(schema.SOUND))
            for t in side.keys:
                got = probe.open(schema.SOUND, t)
                ids, weights, values, df = got.read()
                assert list(zip(ids, weights, values, strict=True)) == _whooshs(leaf, t), t
                assert got.id_array().tolist() == list(leaf.postings(schema.SOUND, t).all_ids()), t
                assert df == leaf.doc_frequency(schema.SOUND, t)
                compared += 1
            assert probe.open(schema.SOUND, "QQQQQ") is None
    return compared


def test_sidecar_postings_are_whooshs_and_written_once(index_dir):
    searcher = None
    with store.searching(index_dir) as cached:
        searcher = cached.searcher
    assert _compare_with_whoosh(index_dir) > 30
    files = _sidecars(index_dir)
    assert len(files) == len(TRANSCRIPTS)  # one per whoosh segment
    with store.searching(index_dir) as cached:
        assert cached.searcher is searcher  # writing them did not reopen the searcher
    store.forget(index_dir)
    stamps = [p.stat().st_mtime_ns for p in files]
    assert _compare_with_whoosh(index_dir) > 30  # loaded, not written again
    assert [p.stat().st_mtime_ns for p in files] == stamps


def _damage(path: Path, how: str, other: Path) -> None:
    data = path.read_bytes()
    if how == "cut":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flipped":
        k = len(data) - 5
        path.write_bytes(data[:k] + bytes([data[k] ^ 0xFF]) + data[k + 1 :])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "another segment's":
        shutil.copyfile(other, path)
    elif how == "inconsistent":  # whole and checksummed, but its middle key's counts are not the segment's
        segment = path.name[: -len(sidecar.SUFFIX)]
        side = sidecar.decode(data, segment, _doc_count(path))
        df = side.arrays["df"].copy()
        df[len(df) // 2] += 1
        arrays = {**side.arrays, "df": df}
        path.write_bytes(sidecar.encode(sidecar.SoundArrays(side.keys, arrays), segment, _doc_count(path)))


def _doc_count(path: Path) -> int:
    with store.searching(path.parent) as cached:
        for leaf, _base in cached.searcher.reader().leaf_readers():
            if leaf.segment().segment_id() + sidecar.SUFFIX == path.name:
                return leaf.doc_count_all()
    raise AssertionError(path)


@pytest.mark.parametrize("how", ["cut", "flipped", "empty", "another segment's", "inconsistent"])
def test_a_damaged_sidecar_is_written_again_never_trusted(index_dir, how):
    expected = [_answer(index_dir, q, kw) for q, kw in QUERIES]
    files = _sidecars(index_dir)
    assert files
    good = files[0].read_bytes()
    _damage(files[0], how, files[1])
    store.forget(index_dir)  # a new generation of searches: the sidecar is loaded again
    assert files[0].read_bytes() != good
    assert [_answer(index_dir, q, kw) for q, kw in QUERIES] == expected
    assert files[0].read_bytes() == good  # written again, whole
    assert _compare_with_whoosh(index_dir) > 30


def test_answers_with_sidecars_are_answers_without(index_dir, monkeypatch):
    with_them = [_answer(index_dir, q, kw) for q, kw in QUERIES]
    full = _every_hit(index_dir)
    assert _sidecars(index_dir)
    monkeypatch.setattr(termdict, "SIDECARS", False)
    store.forget(index_dir)
    assert [_answer(index_dir, q, kw) for q, kw in QUERIES] == with_them
    assert _every_hit(index_dir) == full


def _every_hit(index_dir: Path) -> list:
    return [(h.video, h.start, h.score, h.match, h.matched) for h in search(index_dir, "Skolkavo", limit=None).hits]


def test_a_sidecar_made_before_deletions_leaves_the_deleted_out(index_dir):
    assert _compare_with_whoosh(index_dir) > 30
    before = [p.read_bytes() for p in _sidecars(index_dir)]
    ix = store.open_named(index_dir, store.read_info(index_dir)["name"])
    w = ix.writer()
    w.delete_by_term(schema.VIDEO, TRANSCRIPTS[1].video_id)
    w.delete_by_term(schema.VIDEO, TRANSCRIPTS[3].video_id)
    w.commit(merge=False)
    with store.searching(index_dir) as cached:
        assert cached.searcher.reader().has_deletions()
    assert _compare_with_whoosh(index_dir) > 20  # whoosh's postings leave the deleted documents out too
    assert [p.read_bytes() for p in _sidecars(index_dir)] == before  # the same segments: the same files
    assert search(index_dir, "Skilcovo").hits == []


def test_a_merge_leaves_no_sidecar_of_a_segment_gone(index_dir):
    assert _compare_with_whoosh(index_dir) > 30
    assert len(_sidecars(index_dir)) == len(TRANSCRIPTS)
    ix = store.open_named(index_dir, store.read_info(index_dir)["name"])
    ix.optimize()
    store.forget(index_dir)
    assert _compare_with_whoosh(index_dir) > 30
    assert len(_sidecars(index_dir)) == 1


def test_an_index_that_cannot_be_written_has_its_arrays_in_memory(index_dir, monkeypatch):
    """A sidecar that cannot be written (here: its place is in /proc, read-only even to root) is built for
    the generation and kept in memory; the answers are the same."""
    expected = [_answer(index_dir, q, kw) for q, kw in QUERIES]
    for p in _sidecars(index_dir):
        p.unlink()
    monkeypatch.setattr(sidecar, "path_for", lambda folder, segment: Path("/proc/no-such-dir") / segment)
    store.forget(index_dir)
    assert [_answer(index_dir, q, kw) for q, kw in QUERIES] == expected
    assert _compare_with_whoosh(index_dir) > 30
    assert not _sidecars(index_dir)


def test_a_rebuild_writes_the_sidecars_before_the_first_search(tmp_path):
    from index.writer import rebuild

    index_dir = tmp_path / "index"
    rebuild(index_dir, TRANSCRIPTS)
    files = _sidecars(index_dir)
    assert files and all(sidecar.is_sidecar(p.name) for p in files)
    stamps = [p.stat().st_mtime_ns for p in files]
    assert _compare_with_whoosh(index_dir) > 30
    assert [p.stat().st_mtime_ns for p in files] == stamps  # loaded and checked, not written again
