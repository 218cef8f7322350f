"""Pieces decoded side by side as one CTranslate2 batch (`pipeline.asr.lockstep`): which calls go
together depends only on what each piece asks, not on thread timing; an error reaches every piece of
its batch; and, with the real recognizer, the batched pieces give the same words run after run and
lose no piece."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from media.audio import load_audio
from pipeline.asr import lockstep as lockstep_module
from pipeline.asr.faster_whisper_engine import CUT_LOOK_S, speech_pieces
from pipeline.asr.lockstep import Lockstep
from pipeline.options import TranscribeOptions

from conftest import fixture, timed_words

SR = 16000


class Recorder:
    """A stand-in for a CTranslate2 model that records the batches it is given."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[tuple[str, int]] = []
        self.fail_on = fail_on
        self.lock = threading.Lock()

    def _record(self, kind: str, n: int) -> None:
        with self.lock:
            self.calls.append((kind, n))

    def encode(self, features, to_cpu=False):
        x = np.asarray(features)
        self._record("encode", len(x))
        return x[:, :2, :3] * 1.0

    def generate(self, features, prompts, **kwargs):
        self._record("generate", len(prompts))
        if self.fail_on is not None and any(p[0] == self.fail_on for p in prompts):
            raise RuntimeError("model error")
        return [(p[0], float(np.asarray(features)[i].sum())) for i, p in enumerate(prompts)]


def lane_work(step: Lockstep, i: int, windows: int) -> list:
    """What a piece's decoding loop does: per window an encode, then a beam search (prompt length = window)."""
    out = []
    try:
        for w in range(windows):
            time.sleep(random.random() / 200)  # threads reach the model in any order
            enc = step.lane(i).encode(np.full((1, 4, 6), float(i), np.float32))
            out.append(step.lane(i).generate(enc, [[i] + [0] * w], beam_size=5)[0])
    finally:
        step.leave()
    return out


def run(windows: list[int], fail_on: int | None = None) -> tuple[list, list, list]:
    model = Recorder(fail_on)
    step = Lockstep(model, len(windows))
    with ThreadPoolExecutor(len(windows)) as pool:
        futures = [pool.submit(lane_work, step, i, n) for i, n in enumerate(windows)]
        results = []
        for f in futures:
            try:
                results.append(f.result(timeout=30))
            except RuntimeError as e:
                results.append(str(e))
    return results, step.batches, model.calls


def test_calls_are_batched_the_same_way_whatever_the_thread_timing():
    first = run([2, 1, 3, 2])
    for _ in range(5):
        assert run([2, 1, 3, 2]) == first
    results, batches, calls = first
    assert calls == [("encode", 4), ("generate", 4), ("encode", 3), ("generate", 3), ("encode", 1), ("generate", 1)]
    assert batches == calls
    assert [len(r) for r in results] == [2, 1, 3, 2]
    assert results[3][0] == (3, 3.0 * 6)  # each lane gets its own part of the batch back


def test_prompts_of_another_length_are_not_batched_together():
    model = Recorder()
    step = Lockstep(model, 2)
    enc = np.zeros((1, 2, 3), np.float32)
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(step.lane(0).generate, enc, [[0, 1, 2]], beam_size=5)
        b = pool.submit(step.lane(1).generate, enc, [[1, 1]], beam_size=5)
        assert a.result(timeout=10) == [(0, 0.0)] and b.result(timeout=10) == [(1, 0.0)]
    assert sorted(model.calls) == [("generate", 1), ("generate", 1)]  # <|startoftranscript|> at one place


def test_an_error_reaches_every_piece_of_its_batch_and_none_hangs():
    results, _, _ = run([2, 2, 2], fail_on=1)
    assert results == ["model error"] * 3


# -- the real recognizer ---------------------------------------------------------------


@pytest.mark.slow
def test_batched_pieces_give_the_same_words_every_run_and_lose_no_piece(fw, monkeypatch):
    one = load_audio(fixture("real_two_voices.mp4"))
    audio = np.concatenate([one, load_audio(fixture("three_voices.mp4")), one])  # 109 s: 4+ pieces
    pieces = speech_pieces(audio, look=CUT_LOOK_S)
    assert len(pieces) >= 4
    steps: list[Lockstep] = []
    made = Lockstep.__init__

    def keep(self, *args, **kwargs):
        made(self, *args, **kwargs)
        steps.append(self)

    monkeypatch.setattr(lockstep_module.Lockstep, "__init__", keep)
    options = TranscribeOptions(language="en", parallel_pieces=4)
    first, again = fw.transcribe(audio, options), fw.transcribe(audio, options)
    assert timed_words(first) == timed_words(again)  # deterministic, whatever thread ran first
    assert [s.text for s in first.segments] == [s.text for s in again.segments]
    assert first.dropped == again.dropped
    assert any(kind == "generate" and n >= 2 for s in steps for kind, n in s.batches)  # really batched
    # No piece lost: the speech of every piece has words, or is on record in `dropped`.
    starts = [w.start for s in first.segments for w in s.words]
    for a, b in pieces:  # the fixture's speech has no silence long enough to gate (gated time = file time)
        assert any(a - 0.5 <= t < b for t in starts) or any(d.start < b and d.end > a for d in first.dropped), (a, b)
