"""Seeded sampling: the temperature fallback gives the same words for the same audio.

The fallback re-decodes a window that failed the quality checks by sampling,
and sampling draws random numbers. Seeding once is not enough:

* CTranslate2 keeps one random generator per worker thread, seeded from
  `ctranslate2.set_random_seed` only when that thread first samples, and a
  model's worker threads live as long as the model. Setting the seed again
  before the next file changes nothing: the file would get the generator's
  state left by the files before it (and a resumed ingest, other words than
  an uninterrupted one). So sampling runs on a model instance of its own,
  created (seed set first) when a decoding pass first needs it and released
  when the pass ends; the loaded model only ever runs beam search or greedy.
  Creating it costs a model load, paid only by passes that fall back.
* whisper samples from torch's global generator; each pass runs inside
  `torch.random.fork_rng` with the seed set, which leaves the caller's
  generator as it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any


class SeededSampling:
    """Stands in for a CTranslate2 Whisper model: sampling goes to a fresh, seeded instance.

    faster-whisper asks for sampling by passing `sampling_temperature` to
    `generate` (temperature 0 is beam search or greedy, without it).
    Everything else is the loaded model's.
    """

    def __init__(self, model: Any, make_model: Callable[[], Any]) -> None:
        self._model = model
        self._make_model = make_model
        self._sampler: Any = None
        self._seed = 0
        self.samples = 0  # sampling calls so far (all passes): tells whether the fallback ran

    def begin(self, seed: int) -> None:
        """A decoding pass starts: its sampling starts from `seed`."""
        self._sampler, self._seed = None, seed

    def end(self) -> None:
        """The pass is over: release the sampling instance (its memory and its spent generator)."""
        self._sampler = None

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        if "sampling_temperature" not in kwargs:
            return self._model.generate(*args, **kwargs)
        if self._sampler is None:
            import ctranslate2

            ctranslate2.set_random_seed(self._seed)  # read by the new instance's thread when it first samples
            self._sampler = self._make_model()
        self.samples += 1
        return self._sampler.generate(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


@contextlib.contextmanager
def torch_seeded(seed: int) -> Iterator[None]:
    """torch's global generator seeded for the block, and restored after it."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
