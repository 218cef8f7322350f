"""The index layer's writing side: real whoosh indexes in tmp_path, transcripts built in code.

No ASR here: words get known times (see `make_transcript`) so tests can
check times to the millisecond.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from index import normalize, store
from index.errors import IndexLockedError, IndexVersionError
from index.schema import SCHEMA_VERSION
from index.search import search
from index.writer import add_transcript, documents, pack_words, rebuild, remove_video, segment_counts, unpack_words
from pipeline.transcript import Segment, Speaker, Transcript, Word

ROOT = Path(__file__).resolve().parents[1]
WORD_STEP = 0.5  # word i of a segment starts at segment start + i * WORD_STEP
WORD_LEN = 0.4


def make_transcript(
    video_id: str,
    segments: list[tuple[float, str | None, str]],
    names: dict[str, str] | None = None,
    glossary: list[str] | None = None,
) -> Transcript:
    """A transcript from (start, speaker label, text); word i starts at start + i * 0.5 s."""
    segs = []
    for start, label, text in segments:
        words = [
            Word(w, round(start + i * WORD_STEP, 3), round(start + i * WORD_STEP + WORD_LEN, 3), speaker=label)
            for i, w in enumerate(text.split())
        ]
        segs.append(Segment(start, words[-1].end if words else start + 1, text, words, label))
    labels = list(dict.fromkeys(s[1] for s in segments if s[1]))
    speakers = [Speaker(lb, (names or {}).get(lb)) for lb in labels]
    return Transcript(
        video_id, f"/videos/{video_id}.mp4", 600.0, "en", "test", "none",
        segments=segs, speakers=speakers, glossary=glossary or [],
    )  # fmt: skip


def word_start(seg_start: float, index: int) -> float:
    return round(seg_start + index * WORD_STEP, 3)


@pytest.fixture
def ix(tmp_path: Path) -> Path:
    return tmp_path / "index"


def run_python(code: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, **kw,
    )  # fmt: skip


# -- normalisation ---------------------------------------------------------


def test_tokens_fold_case_and_accents_and_split_hyphens():
    assert normalize.tokens("Zürich's TAX-relief, U.S.") == ["zurich's", "tax", "relief", "u.s"]


def test_word_positions_map_every_token_to_its_word():
    assert normalize.word_positions(["We", "tax-relief", "...", "now."]) == [0, 1, 1, 3]


def test_glossary_split_word_gets_the_term_at_first_and_last_position():
    g = normalize.Glossary(["Kittiwake"])
    assert g.extra_tokens(["the", "kiti", "wake", "colony"]) == [(1, "kittiwake"), (2, "kittiwake")]
    assert g.extra_tokens(["the", "kittiwake"]) == []  # heard right: nothing to add
    assert g.extra_tokens(["kit", "wake"]) == []  # too far from the spelling


def test_glossary_merged_multiword_term_is_split_back():
    g = normalize.Glossary(["Vist Mining"])
    assert g.extra_tokens(["vistmining", "said"]) == [(0, "vist"), (1, "mining")]
    assert g.extra_tokens(["vist", "mining"]) == []


# -- documents and storage -------------------------------------------------


def test_times_are_integer_milliseconds_and_words_round_trip():
    t = make_transcript("v1", [(12.25, "SPEAKER_1", "tax relief now")])
    (doc,) = list(documents(t))
    assert doc["start"] == 12250 and isinstance(doc["start"], int)
    assert doc["end"] == 13650
    words = unpack_words(doc["words"], doc["start"])
    assert words == [("tax", 12250, 12650), ("relief", 12750, 13150), ("now", 13250, 13650)]
    text, times = pack_words(t.segments[0].words, 12250)
    assert len(times) == 4 * 2 * 3  # int32 start/end per word, nothing else


def test_add_indexes_every_segment_once(ix):
    t = make_transcript("v1", [(0, "SPEAKER_1", "hello there"), (5, "SPEAKER_2", "..."), (9, None, "bye")])
    add_transcript(ix, t)
    assert segment_counts(ix) == {"v1": 3}
    assert store.stored_version(ix) == SCHEMA_VERSION


def test_readd_replaces_the_video_without_duplicates(ix):
    add_transcript(ix, make_transcript("v1", [(0, "SPEAKER_1", "the old harbour"), (4, "SPEAKER_1", "more")]))
    add_transcript(ix, make_transcript("v2", [(0, "SPEAKER_1", "the harbour elsewhere")]))
    add_transcript(ix, make_transcript("v1", [(0, "SPEAKER_1", "the new harbour")]))
    assert segment_counts(ix) == {"v1": 1, "v2": 1}
    hits = search(ix, "harbour").hits
    assert sorted(h.video for h in hits) == ["v1", "v2"]
    assert search(ix, "old", exact=True).hits == []
    assert [h.video for h in search(ix, "new").hits] == ["v1"]


def test_rename_shows_after_readd(ix):
    t = make_transcript("v1", [(0, "SPEAKER_1", "harbour talk")])
    add_transcript(ix, t)
    assert search(ix, "harbour").hits[0].speaker == "SPEAKER_1"
    t.speakers[0].name = "Ada Lovelace"
    add_transcript(ix, t)
    (hit,) = search(ix, "harbour").hits
    assert (hit.speaker, hit.speaker_label) == ("Ada Lovelace", "SPEAKER_1")


def test_remove_video(ix):
    remove_video(ix, "nothing-yet")  # no index: not an error
    add_transcript(ix, make_transcript("v1", [(0, "SPEAKER_1", "harbour")]))
    add_transcript(ix, make_transcript("v2", [(0, "SPEAKER_1", "harbour")]))
    remove_video(ix, "v1")
    remove_video(ix, "unknown")
    assert segment_counts(ix) == {"v2": 1}
    assert [h.video for h in search(ix, "harbour").hits] == ["v2"]


def test_segment_without_word_times_is_found_at_segment_time(ix):
    t = make_transcript("v1", [])
    t.segments = [Segment(30.0, 34.0, "The budget vote", [], "SPEAKER_1")]
    add_transcript(ix, t)
    (hit,) = search(ix, "budget").hits
    assert (hit.start, hit.end) == (30.0, 34.0)
    assert hit.highlighted() == "The **budget** vote"


# -- rebuild ---------------------------------------------------------------


def test_rebuild_replaces_everything_and_counts_videos(ix):
    add_transcript(ix, make_transcript("gone", [(0, "SPEAKER_1", "harbour")]))
    old_name = store.read_info(ix)["name"]
    ts = [make_transcript(f"v{i}", [(0, "SPEAKER_1", f"harbour number {i}")]) for i in range(3)]
    ts.append(make_transcript("v1", [(0, "SPEAKER_1", "a second copy")]))  # given twice: indexed once
    assert rebuild(ix, ts) == 3
    assert segment_counts(ix) == {"v0": 1, "v1": 1, "v2": 1}
    assert search(ix, "copy", exact=True).hits == []
    assert not any(old_name in p.name for p in ix.iterdir())


def test_rebuild_with_two_processes(ix):
    ts = [make_transcript(f"v{i}", [(j * 10.0, "SPEAKER_1", f"harbour talk {i} {j}") for j in range(50)])
          for i in range(8)]  # fmt: skip
    assert rebuild(ix, ts, procs=2) == 8
    assert segment_counts(ix) == {f"v{i}": 50 for i in range(8)}
    hit = search(ix, '"talk 3 7"').hits[0]
    assert (hit.video, hit.start) == ("v3", word_start(70.0, 1))


def test_failed_rebuild_leaves_the_old_index(ix):
    add_transcript(ix, make_transcript("v1", [(0, "SPEAKER_1", "harbour")]))
    before = sorted(p.name for p in ix.iterdir())

    def broken():
        yield make_transcript("v2", [(0, "SPEAKER_1", "other")])
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        rebuild(ix, broken())
    assert sorted(p.name for p in ix.iterdir()) == before
    assert segment_counts(ix) == {"v1": 1}


def test_outdated_index_is_refused_until_rebuilt(ix):
    add_transcript(ix, make_transcript("v1", [(0, "SPEAKER_1", "harbour")]))
    info = json.loads((ix / store.INFO_FILE).read_text())
    (ix / store.INFO_FILE).write_text(json.dumps(dict(info, schema_version=0)))
    assert store.needs_rebuild(ix)
    with pytest.raises(IndexVersionError, match="reindex"):
        search(ix, "harbour")
    with pytest.raises(IndexVersionError):
        add_transcript(ix, make_transcript("v2", [(0, "SPEAKER_1", "x")]))
    assert rebuild(ix, [make_transcript("v1", [(0, "SPEAKER_1", "harbour")])]) == 1
    assert not store.needs_rebuild(ix)
    assert len(search(ix, "harbour").hits) == 1


def test_missing_or_empty_index_finds_nothing(tmp_path):
    assert search(tmp_path / "nope", "harbour").hits == []
    (tmp_path / "empty").mkdir()
    r = search(tmp_path / "empty", "harbour")
    assert (r.hits, r.exact_found, r.suggestions) == ([], False, [])
    assert segment_counts(tmp_path / "nope") == {}


# -- locking and concurrency -----------------------------------------------


HOLD_LOCK = """
import sys, time
from index.store import write_lock
with write_lock(sys.argv[1] if len(sys.argv) > 1 else {ix!r}):
    print("locked", flush=True)
    time.sleep({seconds})
"""


def test_writer_waits_for_the_lock_and_says_so(ix):
    add_transcript(ix, make_transcript("v1", [(0, "SPEAKER_1", "harbour")]))
    holder = run_python(HOLD_LOCK.format(ix=str(ix), seconds=1.5))
    assert holder.stdout.readline().strip() == "locked"
    messages: list[str] = []
    t = time.monotonic()
    add_transcript(ix, make_transcript("v2", [(0, "SPEAKER_1", "harbour")]), on_wait=messages.append, timeout=30)
    assert time.monotonic() - t > 0.5
    assert messages and "another process" in messages[0]
    holder.wait(10)
    assert segment_counts(ix) == {"v1": 1, "v2": 1}


def test_writer_gives_up_after_timeout(ix):
    holder = run_python(HOLD_LOCK.format(ix=str(ix), seconds=5))
    assert holder.stdout.readline().strip() == "locked"
    try:
        with pytest.raises(IndexLockedError, match="another process"):
            add_transcript(ix, make_transcript("v1", [(0, "SPEAKER_1", "x")]), timeout=0.5)
    finally:
        holder.kill()
        holder.wait(10)


@pytest.mark.slow  # a writer process and searches for seconds; the fast tier keeps the lock's own tests
def test_search_works_while_another_process_writes(ix):
    add_transcript(ix, make_transcript("v0", [(0, "SPEAKER_1", "harbour")]))
    writer = run_python(f"""
        from index.writer import add_transcript
        import sys; sys.path.insert(0, {str(ROOT / "tests")!r})
        from test_index import make_transcript
        segments = [(j, "SPEAKER_1", "harbour talk") for j in range(40)]
        for i in range(1, 16):
            add_transcript({str(ix)!r}, make_transcript(f"v{{i}}", segments))
        print("done", flush=True)
    """)
    seen = 0
    while writer.poll() is None:
        hits = search(ix, "harbour", limit=None).hits
        assert len(hits) >= 1 and len({(h.video, h.segment_start) for h in hits}) == len(hits)
        seen += 1
    assert writer.returncode == 0, writer.stderr.read()
    assert seen > 0
    assert len(segment_counts(ix)) == 16


def test_two_processes_adding_at_once_both_land(ix):
    code = """
        import sys
        sys.path.insert(0, {tests!r})
        from index.writer import add_transcript
        from test_index import make_transcript
        for i in range(5):
            add_transcript({ix!r}, make_transcript(f"{{sys.argv[1]}}{{i}}", [(0, "SPEAKER_1", "harbour")]))
    """
    procs = []
    for prefix in ("a", "b"):
        env_code = textwrap.dedent(code.format(tests=str(ROOT / "tests"), ix=str(ix)))
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        procs.append(subprocess.Popen([sys.executable, "-c", env_code, prefix], env=env, stderr=subprocess.PIPE))
    for p in procs:
        assert p.wait(120) == 0, p.stderr.read()
    assert segment_counts(ix) == {f"{p}{i}": 1 for p in "ab" for i in range(5)}


def test_lock_is_free_again_after_an_error(ix):
    with pytest.raises(ZeroDivisionError):
        with store.write_lock(ix):
            raise ZeroDivisionError
    done = threading.Event()

    def take():
        with store.write_lock(ix, timeout=2):
            done.set()

    th = threading.Thread(target=take)
    th.start()
    th.join(5)
    assert done.is_set()


def test_whoosh_index_without_version_file_needs_rebuild(ix):
    from whoosh.fields import TEXT, Schema
    from whoosh.index import create_in

    ix.mkdir()
    create_in(str(ix), Schema(body=TEXT))  # e.g. made by an early build
    assert store.stored_version(ix) == 0 and store.needs_rebuild(ix)
    with pytest.raises(IndexVersionError):
        search(ix, "harbour")
    rebuild(ix, [make_transcript("v1", [(0, "SPEAKER_1", "harbour")])])
    assert [h.video for h in search(ix, "harbour").hits] == ["v1"]


# -- the index's record of its videos (store.check) ---------------------------


@pytest.mark.slow  # every segment file removed in turn: seconds
def test_check_knows_the_videos_and_finds_lost_segment_files(ix):
    from index.errors import IndexDamagedError

    assert store.check(ix).exists is False
    add_transcript(ix, make_transcript("v1", [(0, "SPEAKER_1", "harbour"), (3, "SPEAKER_1", "more")]))
    add_transcript(ix, make_transcript("v2", [(0, "SPEAKER_1", "harbour")]))
    remove_video(ix, "v2")
    state = store.check(ix)
    assert (state.exists, state.videos, state.problem) == (True, {"v1": 2}, None)

    rebuild(ix, [make_transcript("v3", [(0, "SPEAKER_1", "harbour")])], skipped=lambda: {"v4": "not valid JSON"})
    state = store.check(ix)
    assert (state.videos, state.skipped) == ({"v3": 1}, {"v4": "not valid JSON"})
    add_transcript(ix, make_transcript("v4", [(0, "SPEAKER_1", "harbour")]))  # repaired and ingested again
    assert store.check(ix).skipped == {} and store.check(ix).videos == {"v3": 1, "v4": 1}

    for seg in ix.glob("*.seg"):
        seg.unlink()
    state = store.check(ix)
    assert state.problem and "damaged" in state.problem and "reindex" in state.problem
    with pytest.raises(IndexDamagedError, match="reindex"):
        search(ix, "harbour")
    with pytest.raises(IndexDamagedError, match="reindex"):
        add_transcript(ix, make_transcript("v5", [(0, "SPEAKER_1", "harbour")]))


def test_check_finds_an_index_that_holds_other_than_its_record(ix):
    add_transcript(ix, make_transcript("v1", [(0, "SPEAKER_1", "harbour")]))
    add_transcript(ix, make_transcript("v2", [(0, "SPEAKER_1", "harbour")]))
    info = json.loads((ix / store.INFO_FILE).read_text())
    info["videos"]["v3"] = 4  # e.g. an older generation's files put back
    (ix / store.INFO_FILE).write_text(json.dumps(info))
    assert "record says 6" in store.check(ix).problem


def test_index_from_before_records_is_counted_and_recorded_on_the_next_write(ix):
    add_transcript(ix, make_transcript("v1", [(0, "SPEAKER_1", "harbour")]))
    info = json.loads((ix / store.INFO_FILE).read_text())
    for key in ("videos", "generation", "skipped"):
        info.pop(key)
    (ix / store.INFO_FILE).write_text(json.dumps(info))
    assert store.check(ix).videos == {"v1": 1}
    add_transcript(ix, make_transcript("v2", [(0, "SPEAKER_1", "harbour")]))
    assert json.loads((ix / store.INFO_FILE).read_text())["videos"] == {"v1": 1, "v2": 1}
