"""Speech to words: Whisper engines, their weights, and the windows long files are cut into.

One module per backend (`faster_whisper_engine`, `openai_whisper_engine`) over
one shared flow (`base`): gate out silence (`gate`), decode, merge a
glossary-steered pass (`glossary_merge`), guard against repetition loops.
Weights are resolved and verified in `weights`, derived files cached in
`cache`, converted for openai-whisper in `convert`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..options import EngineOptions, TranscribeOptions
from .base import Engine, TranscriptionResult, default_threads
from .weights import resolve_model

__all__ = ["Engine", "EngineOptions", "TranscribeOptions", "TranscriptionResult", "default_threads", "load_engine"]


def load_engine(
    engine: str | None = None, model: str | None = None, *, options: EngineOptions | None = None, **overrides: Any
) -> Engine:
    """Resolve and verify the model, then load it once; reuse the engine for every file.

    `load_engine("openai-whisper", "tiny.en", compute_type="float32")` is short
    for `load_engine(options=EngineOptions(engine=..., model=..., compute_type=...))`.
    """
    given = {"engine": engine, "model": model, **overrides}
    opts = replace(options or EngineOptions(), **{k: v for k, v in given.items() if v is not None})
    resolved = resolve_model(opts.engine, opts.model)
    kwargs = {"device": opts.device, "compute_type": opts.compute_type, "cpu_threads": opts.cpu_threads}
    if opts.engine == "faster-whisper":
        from .faster_whisper_engine import FasterWhisperEngine

        return FasterWhisperEngine(resolved, **kwargs)
    from .openai_whisper_engine import OpenAIWhisperEngine

    return OpenAIWhisperEngine(resolved, **kwargs)
