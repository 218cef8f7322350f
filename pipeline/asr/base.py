"""Transcription engines behind one small interface.

Two engines run the same Whisper weights: faster-whisper (CTranslate2, int8,
the fast default) and openai-whisper (PyTorch fp32, the reference
implementation, loaded from a checkpoint converted from the same packaged
CTranslate2 model). Both are set up to give the same words for the same
audio, so an archive does not change character with the engine:

* decoding is deterministic: beam search at temperature 0, and a window
  that fails the quality checks (a repetition loop, a very unsure
  decoding) is decoded again by sampling at rising temperatures, as both
  Whisper implementations do by default, but seeded per decoding pass
  (`seeded`), so the same audio always gives the same words. Without the
  fallback a window stuck in a loop kept its loop and the compression guard
  then threw the whole segment away, real speech in it included.
* each window is conditioned on the text before it (names and spellings
  stay consistent, and noisy speech decodes better with the context), but
  the context is dropped after any window that needed a sampling
  temperature above 0.5, so a repetition loop does not carry on.
* the language, when not given, is detected on up to four 30-s windows,
  not one (a noisy first window was taken for Finnish), of the speech the
  VAD is sure of, not of all that the gate lets through (see `gate`).
* word timestamps are always on (search hits jump to the word).
* silence is gated out, because Whisper invents text ("Thank you.") in long
  silences: the Silero VAD model shipped inside faster-whisper finds the
  speech, the speech is concatenated, decoded, and word times are mapped
  back to the original timeline. This is what faster-whisper's own
  `vad_filter` does; doing it here, once, feeds both engines the very same
  samples. (openai-whisper's `clip_timestamps` was measured worse: a short
  clip is padded with mel zeros, which are not what silence looks like to
  the model, and it then invents words.) The no-speech and
  compression-ratio checks remain as a second guard, and whatever they
  leave out is returned in `TranscriptionResult.dropped` (what, where,
  why), so a drop of real speech can be seen and audited; so is what the
  gate left out where Silero heard something faintly (`Gate.left_out`).
* the glossary steers every window, not just the first (openai-whisper
  `carry_initial_prompt`, faster-whisper `hotwords`), because with
  the previous text as context an initial prompt soon scrolls out of reach.
  Steering every window also pushes the model to write glossary terms for
  words that merely start alike ("Belarusian companies" became "BelAZ
  company" with BelAZ in the glossary) and to echo the list into trailing
  silence, and it lowers accuracy elsewhere (WER 9.6 % -> 18-24 % on the
  bench interview). So the audio is decoded twice, plainly and steered, and
  the plain transcript is kept except where the steered one puts a glossary
  term in place of words that are no glossary term (see `merge_glossary`):
  "with mining" -> "Vist Mining", "nineskill Corvo" -> "join Skolkovo", but
  never "Belarusian" -> "BelAZ". It costs a second decoding.

Load an engine once and reuse it for every file: loading costs seconds.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from ..options import TranscribeOptions
from ..transcript import Dropped, Segment
from .decisions import BELOW_GATE, REPETITIVE
from .gate import Gate
from .glossary_merge import drop_glossary_echoes, merge_glossary
from .speech_bounds import bound_to_speech

log = logging.getLogger(__name__)

Progress = Callable[[float], None]


@dataclass
class TranscriptionResult:
    segments: list[Segment]  # Word.start/end in seconds of the audio passed in
    language: str
    dropped: list[Dropped] = field(default_factory=list)  # what the guards left out, same timeline


class Engine(Protocol):
    name: str  # "faster-whisper" | "openai-whisper"
    model_name: str  # "base", "tiny.en", or a path

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, progress: Progress | None = None
    ) -> TranscriptionResult: ...


# -- shared helpers --------------------------------------------------------------


def default_threads() -> int:
    """CPU cores this process may use (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def glossary_prompt(glossary: Iterable[str]) -> str | None:
    """The glossary as prompt text: Whisper reads a prompt as preceding transcript."""
    terms = [t.strip() for t in glossary if t and t.strip()]
    return ", ".join(terms) + "." if terms else None


def _as_audio(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio (1-D), got shape {audio.shape}")
    # load_audio's buffer is read-only; torch warns about (and may write to) such arrays.
    return audio if audio.flags.writeable else audio.copy()


def compression_ratio(text: str) -> float:
    """Whisper's repetition measure, as faster-whisper computes it (imported late: the
    package costs most of a CLI start, and only transcription needs it)."""
    from faster_whisper.transcribe import get_compression_ratio

    return get_compression_ratio(text)


def _guard(segments: list[Segment], options: TranscribeOptions, dropped: list[Dropped] | None = None) -> list[Segment]:
    """Drop repetition loops that even the temperature fallback did not decode away; record them in `dropped`."""
    limit = options.compression_ratio_threshold
    if limit is None:
        return segments
    kept = []
    for seg in segments:
        if compression_ratio(seg.text) > limit:
            log.warning("dropped a repetitive segment at %.1f s: %.60r", seg.start, seg.text)
            if dropped is not None:
                dropped.append(Dropped(seg.start, seg.end, REPETITIVE, seg.text))
            continue
        kept.append(seg)
    return kept


# -- the flow both engines share ----------------------------------------------------


class WhisperEngine:
    """Gate, decode (once, or plain and steered by the glossary), merge, guard.

    Subclasses only say how to decode gated audio: `_decode(gate, options,
    prompt, steer_every_window, progress, p0, p1)` returns the segments, the
    language and the windows the no-speech check skipped (as `Dropped`, on
    the original timeline).
    """

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, progress: Progress | None = None
    ) -> TranscriptionResult:
        gate = Gate(_as_audio(audio), options)
        if progress:
            progress(0.0)
        faint = [Dropped(a, b, BELOW_GATE) for a, b in gate.left_out()]
        if gate.audio.size == 0:
            if progress:
                progress(1.0)
            return TranscriptionResult([], options.language or "en", faint)
        if options.language is None:  # read from the speech the VAD is sure of (see `gate`)
            options = replace(options, language=self._detect_language(gate.sure_speech(), options))
        prompt = glossary_prompt(options.glossary)
        if prompt is None or not options.glossary_as_hotwords:  # one decoding
            segments, language, dropped = self._decode(gate, options, prompt, False, progress, 0.0, 1.0)
        else:  # plain and steered on every window, merged (see the module docstring)
            # The plain decoding is the transcript: its drops are the ones on record.
            plain, language, dropped = self._decode(gate, options, None, False, progress, 0.0, 0.5)
            # Window after window, not batched: a name the steered pass wrote stays in its context.
            steered, _, _ = self._decode(gate, replace(options, batch_size=1), prompt, True, progress, 0.5, 1.0)
            segments = merge_glossary(plain, drop_glossary_echoes(steered, options.glossary), options.glossary)
        if progress:
            progress(1.0)
        segments = _guard(drop_glossary_echoes(segments, options.glossary, dropped), options, dropped)
        if options.vad_filter:  # word times held to the speech they were heard in (see `speech_bounds`)
            segments = bound_to_speech(segments, gate.regions, gate.stretches())
        return TranscriptionResult(segments, language, sorted(dropped + faint, key=lambda d: (d.start, d.end)))

    def _decode(
        self, gate: Gate, options: TranscribeOptions, prompt: str | None, steer_every_window: bool,
        progress: Progress | None, p0: float, p1: float,
    ) -> tuple[list[Segment], str, list[Dropped]]:  # fmt: skip
        raise NotImplementedError

    def _detect_language(self, audio: np.ndarray, options: TranscribeOptions) -> str:
        """The language of `audio`, read from up to `options.language_detection_segments` 30-s windows."""
        raise NotImplementedError
