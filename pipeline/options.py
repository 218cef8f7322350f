"""Every stage's options, with their defaults, in one place.

One frozen dataclass per stage, nested in `IngestOptions`; the CLI reads its
defaults and choices from here, so a default is never written twice. Frozen,
because an options object is handed to threads, to every window of a long
file and (later) to other processes: nobody may change it underway. Use
`dataclasses.replace` to derive a variant.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

ENGINES = ("faster-whisper", "openai-whisper")
DEFAULT_ENGINE = "faster-whisper"
DEFAULT_MODEL = "base"
DEFAULT_COMPUTE_TYPE = "int8"
WINDOW_ENV = "INTERVIEW_INDEX_WINDOW_S"
DEFAULT_WINDOW_S = 600.0  # files up to this long are transcribed in one window


class OptionsError(ValueError):
    """Options that contradict each other; the CLI reports it as a usage error."""


@dataclass(frozen=True)
class EngineOptions:
    """Which recognizer, and how it runs."""

    engine: str = DEFAULT_ENGINE
    model: str = DEFAULT_MODEL
    device: str = "cpu"
    compute_type: str = DEFAULT_COMPUTE_TYPE  # faster-whisper: any CTranslate2 type; openai-whisper: int8|float32
    cpu_threads: int = 0  # 0: every core this process may use

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise OptionsError(f"unknown engine {self.engine!r}; choose one of {', '.join(ENGINES)}")


@dataclass(frozen=True)
class TranscribeOptions:
    """How audio is decoded into words."""

    language: str | None = None  # None = auto-detect (English-only models always give "en")
    # Auto-detection reads up to this many 30-s windows: the first that is sure (p > 0.5)
    # decides, else the language most windows name. One window of a noisy voice can be wrong.
    language_detection_segments: int = 4
    beam_size: int = 5  # 1 = greedy
    glossary: tuple[str, ...] = ()  # names and terms to steer the recognizer
    # How the glossary steers decoding. True: every window (faster-whisper `hotwords`,
    # openai-whisper `carry_initial_prompt`), decoded a second time without it and
    # merged: twice the decoding time. False: one decoding, the glossary as a prompt.
    glossary_as_hotwords: bool = True
    vad_filter: bool = True  # gate out silence before decoding (hallucination guard)
    no_speech_threshold: float | None = 0.6  # a window this likely silent ...
    log_prob_threshold: float | None = -1.0  # ... and decoded this unsure is dropped
    compression_ratio_threshold: float | None = 2.4  # a segment this repetitive is dropped
    # Skip silences longer than this around a suspect segment (both engines support it).
    hallucination_silence_threshold: float | None = None
    # A window that fails the checks above (too repetitive, too unsure) is decoded again,
    # sampling at each next temperature; best_of samples per temperature. The sampling is
    # seeded per decoding pass, so the same audio always gives the same words.
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    # Each 30-s window is decoded with the text before it as context (names and spelling stay
    # consistent across windows); the context is dropped after a window that needed a sampling
    # temperature above 0.5, so a repetition loop does not carry over.
    condition_on_previous_text: bool = True
    best_of: int = 5
    seed: int = 0
    vad_threshold: float = 0.2  # speech probability (Silero) that opens a speech region (see asr/gate.py)
    vad_min_silence_ms: int = 2000  # a pause must last this long to split speech regions
    vad_speech_pad_ms: int = 400  # speech regions are widened by this on each side
    # faster-whisper: above 1, the gated speech is cut into pieces of up to 30 s (at pauses) and this
    # many are decoded at once (BatchedInferencePipeline); a piece that fails the checks above is
    # decoded again alone, with context and the seeded fallback. 1 (the default): no batches, see
    # parallel_pieces. Batches save CPU time but lose the previous text as context, which
    # costs words on noisy and real speech (README: "Ingest speed"), so speed is opt-in.
    batch_size: int = 1
    # faster-whisper, batch_size 1: the gated speech is cut into pieces of up to 30 s (each ending in
    # the longest pause of its last 10 s), decoded this many at a time as one CTranslate2 batch (asr/lockstep.py),
    # the sequential way inside (windows, seeded fallback) with the text before its group as context:
    # a piece lacks only the text of the one beside it. 0: window after window, as faster-whisper's
    # own transcribe seeks: more CPU, fewer words on noisy speech (README: "Pieces two at a time").
    parallel_pieces: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "glossary", tuple(self.glossary))
        object.__setattr__(self, "temperatures", tuple(float(t) for t in self.temperatures))
        if not self.temperatures or self.temperatures[0] != 0.0 or list(self.temperatures) != sorted(self.temperatures):
            raise OptionsError(f"temperatures must start at 0 and rise, got {self.temperatures}")
        if self.beam_size < 1:
            raise OptionsError(f"beam size must be at least 1, got {self.beam_size}")
        if self.batch_size < 1:
            raise OptionsError(f"batch size must be at least 1, got {self.batch_size}")
        if self.parallel_pieces < 0:
            raise OptionsError(f"parallel pieces must be 0 (windows) or more, got {self.parallel_pieces}")


MAX_SPEAKERS = 8  # the most speakers looked for when nothing is said


@dataclass(frozen=True)
class SpeakerOptions:
    """Who spoke when: whether to diarize, and what is known of the speaker count.

    The bounds are None when not given, so that a contradiction between what
    the user said (`--speakers 2 --min-speakers 3`) can be told from a default.
    """

    diarize: bool = True
    num_speakers: int | None = None  # exactly this many
    min_speakers: int | None = None  # None: 1
    max_speakers: int | None = None  # None: MAX_SPEAKERS

    def __post_init__(self) -> None:
        n, lo, hi = self.num_speakers, self.min_speakers, self.max_speakers
        for flag, value in (("--speakers", n), ("--min-speakers", lo), ("--max-speakers", hi)):
            if value is not None and value < 1:
                raise OptionsError(f"{flag} must be at least 1, got {value}")
        if lo is not None and hi is not None and hi < lo:
            raise OptionsError(f"--min-speakers {lo} is more than --max-speakers {hi}")
        if n is not None and ((lo is not None and n < lo) or (hi is not None and n > hi)):
            raise OptionsError(f"--speakers {n} contradicts --min-speakers/--max-speakers")

    @property
    def bounds(self) -> dict[str, int | None]:
        """The effective bounds, as the diarizer takes them."""
        lo = self.min_speakers or 1
        hi = self.max_speakers or max(MAX_SPEAKERS, lo, self.num_speakers or 0)
        return {"num_speakers": self.num_speakers, "min_speakers": lo, "max_speakers": hi}


def _window_s() -> float:
    return float(os.environ.get(WINDOW_ENV, DEFAULT_WINDOW_S))


@dataclass(frozen=True)
class IngestOptions:
    """A whole ingest: the stages' options and how the batch runs."""

    engine: EngineOptions = field(default_factory=EngineOptions)
    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)
    speakers: SpeakerOptions = field(default_factory=SpeakerOptions)
    force: bool = False  # ingest again even when the same bytes are done
    jobs: int = 1  # files prepared at once (hash, probe, decode) while one is transcribed
    window_s: float = field(default_factory=_window_s)  # long files are transcribed in windows this long
    # Diarize a file in a thread while it is transcribed (diarization needs the audio, not the words).
    overlap_speakers: bool = True
