"""faster-whisper (CTranslate2): the default engine."""

from __future__ import annotations

from media.audio import SAMPLE_RATE

from ..options import TranscribeOptions
from ..transcript import Segment
from .base import Progress, WhisperEngine, default_threads
from .gate import Gate
from .weights import ResolvedModel


class FasterWhisperEngine(WhisperEngine):
    """CTranslate2 Whisper; int8 on CPU is ~4x faster than fp32 PyTorch at equal accuracy."""

    name = "faster-whisper"

    def __init__(
        self, resolved: ResolvedModel, device: str = "cpu", compute_type: str = "int8", cpu_threads: int = 0
    ) -> None:
        from faster_whisper import WhisperModel

        self.resolved = resolved
        self.model_name = resolved.name
        self.compute_type = compute_type
        self.model = WhisperModel(
            str(resolved.path) if resolved.path else resolved.name,
            device=device,
            compute_type=compute_type,
            cpu_threads=cpu_threads or default_threads(),
        )

    def _decode(
        self, gate: Gate, options: TranscribeOptions, prompt: str | None, hot: bool,
        progress: Progress | None, p0: float, p1: float,
    ) -> tuple[list[Segment], str]:  # fmt: skip
        segments, info = self.model.transcribe(
            gate.audio,
            language=options.language,
            beam_size=max(1, options.beam_size),
            best_of=1,
            temperature=0.0,
            condition_on_previous_text=False,
            initial_prompt=None if hot else prompt,
            hotwords=prompt if hot else None,
            word_timestamps=True,
            without_timestamps=False,
            vad_filter=False,  # done by Gate, identically for both engines
            no_speech_threshold=options.no_speech_threshold,
            log_prob_threshold=options.log_prob_threshold,
            compression_ratio_threshold=options.compression_ratio_threshold,
            hallucination_silence_threshold=options.hallucination_silence_threshold,
        )
        speech_s = gate.audio.size / SAMPLE_RATE
        out: list[Segment] = []
        for s in segments:  # a generator: decoding happens as we iterate
            seg = gate.segment(s.text, s.start, s.end, s.words or [])
            if seg is not None:
                out.append(seg)
            if progress:
                progress(p0 + (p1 - p0) * min(1.0, s.end / speech_s))
        return out, info.language
