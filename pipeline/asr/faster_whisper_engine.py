"""faster-whisper (CTranslate2): the default engine."""

from __future__ import annotations

from typing import Any

from media.audio import SAMPLE_RATE

from ..options import TranscribeOptions
from ..transcript import Dropped, Segment
from .base import Progress, WhisperEngine, default_threads
from .decisions import NO_SPEECH, WindowLog, skipped_text
from .gate import Gate
from .seeded import SeededSampling
from .weights import ResolvedModel


class FasterWhisperEngine(WhisperEngine):
    """CTranslate2 Whisper; int8 on CPU is ~4x faster than fp32 PyTorch at equal accuracy."""

    name = "faster-whisper"

    def __init__(
        self, resolved: ResolvedModel, device: str = "cpu", compute_type: str = "int8", cpu_threads: int = 0
    ) -> None:
        import ctranslate2
        from faster_whisper import WhisperModel

        self.resolved = resolved
        self.model_name = resolved.name
        self.compute_type = compute_type
        threads = cpu_threads or default_threads()
        self.model = WhisperModel(
            str(resolved.path) if resolved.path else resolved.name, device=device, compute_type=compute_type,
            cpu_threads=threads,
        )  # fmt: skip

        # The temperature fallback samples on an instance of its own, seeded per pass (see `seeded`).
        def sampler() -> Any:
            from faster_whisper.utils import download_model

            path = str(resolved.path) if resolved.path else download_model(resolved.name)  # cached by now
            return ctranslate2.models.Whisper(path, device=device, compute_type=compute_type, intra_threads=threads)

        self._sampling = SeededSampling(self.model.model, sampler)
        self.model.model = self._sampling

    def _decode(
        self, gate: Gate, options: TranscribeOptions, prompt: str | None, hot: bool,
        progress: Progress | None, p0: float, p1: float,
    ) -> tuple[list[Segment], str, list[Dropped]]:  # fmt: skip
        model = self.model
        windows = WindowLog(options)
        native = model.generate_with_fallback

        def watched(encoder_output: Any, prompt_tokens: list[int], tokenizer: Any, opts: Any) -> Any:
            result, avg_logprob, temperature, ratio = out = native(encoder_output, prompt_tokens, tokenizer, opts)
            windows.add(result.no_speech_prob, avg_logprob, temperature, tokenizer.decode(result.sequences_ids[0]))
            return out

        model.generate_with_fallback = watched  # this instance only, for this pass
        self._sampling.begin(options.seed)
        try:
            segments, info = model.transcribe(
                gate.audio,
                language=options.language,
                language_detection_segments=options.language_detection_segments,
                beam_size=options.beam_size,
                best_of=options.best_of,
                temperature=list(options.temperatures),
                condition_on_previous_text=options.condition_on_previous_text,
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
            frame_s = model.feature_extractor.time_per_frame
            out: list[Segment] = []
            dropped: list[Dropped] = []
            seen, last_end = 0, 0.0  # windows accounted for; end of the last kept segment (gated time)
            for s in segments:  # a generator: each window is decoded, then its segments are yielded
                # Windows decoded since the last segment and yielding none were skipped (or empty).
                skipped = skipped_text(windows.windows[seen:-1])
                if skipped:
                    dropped.append(Dropped(*gate.span(last_end, s.seek * frame_s), NO_SPEECH, skipped))
                seen = len(windows.windows)
                seg = gate.segment(s.text, s.start, s.end, s.words or [])
                if seg is not None:
                    out.append(seg)
                last_end = s.end
                if progress:
                    progress(p0 + (p1 - p0) * min(1.0, s.end / speech_s))
            skipped = skipped_text(windows.windows[seen:])
            if skipped:
                dropped.append(Dropped(*gate.span(last_end, speech_s), NO_SPEECH, skipped))
        finally:
            del model.generate_with_fallback
            self._sampling.end()
        return out, info.language, dropped
