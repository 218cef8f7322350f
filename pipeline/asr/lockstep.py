"""Pieces decoded side by side as one CTranslate2 batch.

Each piece is decoded by faster-whisper's own sequential loop (windows,
context, seeded fallback, word alignment), each in a thread of its own; the
threads are only there to run those loops side by side. The model calls they
make (the encoder, the beam search, the word alignment) do not go to the
model one by one: a `Lockstep` holds each call until every piece still being
decoded has made one, then makes the calls of a kind as one batched call and
hands each thread its part. A batch of beam searches costs much less than the
same searches one after another, and so does a batch of alignments, because
CTranslate2 multiplies the decoder's matrices for every hypothesis of every
piece at once. Two threads each with its own worker and half the cores did
the same work as one piece after another, only on two cores at once.

Deterministic: a batched call is made only when every piece still being
decoded waits on one, so which calls go together depends only on what each
piece decoded, never on which thread ran first; the calls go in piece order.
Sampling (the temperature fallback) never comes here: each piece samples on
its own seeded instance (`seeded`), unbatched.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

BATCHED = ("encode", "generate", "align")


class Lockstep:
    """Stands in for one CTranslate2 Whisper model shared by `lanes` threads; see the module docstring."""

    def __init__(self, model: Any, lanes: int) -> None:
        self._model = model
        self._cond = threading.Condition()
        self._live = lanes
        self._waiting: dict[int, tuple[str, tuple, dict]] = {}
        self._done: dict[int, tuple[bool, Any]] = {}
        self.batches: list[tuple[str, int]] = []  # (kind, how many calls went together), in order

    def lane(self, index: int) -> LaneModel:
        return LaneModel(self, index)

    def call(self, lane: int, kind: str, args: tuple, kwargs: dict) -> Any:
        with self._cond:
            self._waiting[lane] = (kind, args, kwargs)
            self._run_if_all_wait()
            while lane not in self._done:
                self._cond.wait()
            ok, value = self._done.pop(lane)
        if not ok:
            raise value
        return value

    def leave(self) -> None:
        """A lane has finished (or failed): the others no longer wait for it."""
        with self._cond:
            self._live -= 1
            self._run_if_all_wait()

    def _run_if_all_wait(self) -> None:
        if not self._waiting or len(self._waiting) < self._live:
            return
        waiting, self._waiting = self._waiting, {}
        groups: dict[tuple, list[int]] = {}
        for lane in sorted(waiting):  # piece order
            kind, args, kwargs = waiting[lane]
            groups.setdefault(_key(kind, args, kwargs), []).append(lane)
        for lanes in groups.values():
            calls = [waiting[lane] for lane in lanes]
            try:
                results = getattr(self, "_" + calls[0][0])(calls)
                for lane, result in zip(lanes, results, strict=True):
                    self._done[lane] = (True, result)
            except BaseException as e:  # every lane of the batch gets the error, none hangs
                for lane in lanes:
                    self._done[lane] = (False, e)
            self.batches.append((calls[0][0], len(lanes)))
        self._cond.notify_all()

    def _encode(self, calls: list[tuple[str, tuple, dict]]) -> list[Any]:
        features = np.concatenate([np.asarray(args[0]) for _, args, _ in calls])
        out = np.array(self._model.encode(_storage(features), to_cpu=False))  # a copy: ours, not the model's
        # Each piece's part as the model's own type: a piece that falls back samples on it, unbatched.
        return [_storage(out[i : i + 1]) for i in range(len(calls))]

    def _generate(self, calls: list[tuple[str, tuple, dict]]) -> list[list[Any]]:
        encoded = np.concatenate([np.asarray(args[0]) for _, args, _ in calls])
        prompts = [p for _, args, _ in calls for p in args[1]]
        results = self._model.generate(_storage(encoded), prompts, **calls[0][2])
        return _split(results, [len(args[1]) for _, args, _ in calls])

    def _align(self, calls: list[tuple[str, tuple, dict]]) -> list[list[Any]]:
        encoded = np.concatenate([np.asarray(args[0]) for _, args, _ in calls])
        tokens = [t for _, args, _ in calls for t in args[2]]
        frames = [f for _, args, _ in calls for f in _per_item(args[3], len(args[2]))]
        results = self._model.align(_storage(encoded), calls[0][1][1], tokens, frames, **calls[0][2])
        return _split(results, [len(args[2]) for _, args, _ in calls])


class LaneModel:
    """What one lane's faster-whisper sees as its CTranslate2 model."""

    def __init__(self, lockstep: Lockstep, index: int) -> None:
        self._lockstep, self._index = lockstep, index

    def encode(self, features: Any, to_cpu: bool = False) -> Any:
        return self._lockstep.call(self._index, "encode", (features,), {})

    def generate(self, features: Any, prompts: list[list[int]], **kwargs: Any) -> Any:
        return self._lockstep.call(self._index, "generate", (features, prompts), kwargs)

    def align(self, features: Any, start_sequence: list[int], text_tokens: list[list[int]], num_frames: Any,
              **kwargs: Any) -> Any:  # fmt: skip
        return self._lockstep.call(self._index, "align", (features, start_sequence, text_tokens, num_frames), kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lockstep._model, name)


def _key(kind: str, args: tuple, kwargs: dict) -> tuple:
    """Calls that can be made as one: the same kind, the same options, alignment's start sequence, and
    prompts of one length (CTranslate2 wants <|startoftranscript|> at one position in a batch: a piece's
    second window has its first one's text as context, the piece beside it another text)."""
    shape = np.asarray(args[0]).shape[1:]
    extra = tuple(args[1]) if kind == "align" else tuple(len(p) for p in args[1]) if kind == "generate" else ()
    return kind, shape, extra, repr(sorted(kwargs.items()))


def _storage(array: np.ndarray) -> Any:
    import ctranslate2

    return ctranslate2.StorageView.from_array(np.ascontiguousarray(array))


def _per_item(value: Any, n: int) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value] * n


def _split(results: list[Any], sizes: list[int]) -> list[list[Any]]:
    out, at = [], 0
    for n in sizes:
        out.append(list(results[at : at + n]))
        at += n
    return out
