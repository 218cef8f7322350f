"""faster-whisper (CTranslate2): the default engine.

Three ways to decode the gated speech, all deterministic:

* pieces, a few at a time (the default, `parallel_pieces`): the speech is
  cut into pieces of up to 30 s, each ending in the longest pause of its last
  10 s (nothing is left out, no word is cut), and a group of pieces is
  decoded at once: inside a piece the decoding is faster-whisper's
  sequential one (windows, context, seeded fallback, word alignment), each
  piece in a thread of its own, and the model calls the pieces make at the
  same step (encoder, beam search, alignment) go to CTranslate2 as one batch
  (`lockstep`). A batch of beam searches costs less CPU than the same
  searches one after another; two threads each with a worker of its own and
  half the cores (as before) only did the same work on two cores at once.
  A piece's context is the text of every piece before its group, so it
  lacks only the text of the pieces beside it; a piece ends in a pause, so
  no word is decoded twice or cut at a window's edge. Which pieces go
  together, and each piece's sampler, are fixed, so the words do not depend
  on timing.
* window after window (`parallel_pieces` 0), as faster-whisper's
  `transcribe` seeks, each window with the text before it as context.
* batched (`batch_size` > 1): pieces cut at their latest pause, decoded
  several at once by `BatchedInferencePipeline`, with no context and no
  fallback, so each piece is judged by the same checks as a window: one that
  looks silent is skipped and put on record in `dropped`, as a skipped window
  is; one that fails the quality checks (a loop, a very unsure decoding) is
  decoded again alone, the sequential way, with the seeded fallback.
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np

from media.audio import SAMPLE_RATE

from ..options import TranscribeOptions
from ..transcript import Dropped, Segment
from .base import Progress, WhisperEngine, compression_ratio, default_threads
from .decisions import NO_SPEECH, WindowLog, looks_silent, skipped_text
from .gate import Gate
from .lockstep import Lockstep
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

        def load(intra: int, inter: int = 1) -> Any:
            from faster_whisper.utils import download_model

            path = str(resolved.path) if resolved.path else download_model(resolved.name)  # cached by now
            return ctranslate2.models.Whisper(
                path, device=device, compute_type=compute_type, intra_threads=intra, inter_threads=inter
            )

        # The temperature fallback samples on an instance of its own, seeded per pass (see `seeded`).
        def sampler() -> Any:
            return load(threads)

        def piece_sampler() -> Any:
            return load(max(1, threads // PIECE_SAMPLER_SHARE))

        self._piece_sampler = piece_sampler
        self._sampling = SeededSampling(self.model.model, sampler)
        self.model.model = self._sampling

    def _detect_language(self, audio: Any, options: TranscribeOptions) -> str:
        if not self.model.model.is_multilingual:
            return "en"
        n = options.language_detection_segments
        return self.model.detect_language(audio=audio, language_detection_segments=n)[0]

    def _decode(
        self, gate: Gate, options: TranscribeOptions, prompt: str | None, hot: bool,
        progress: Progress | None, p0: float, p1: float,
    ) -> tuple[list[Segment], str, list[Dropped]]:  # fmt: skip
        # An initial prompt would be given to every piece of a batch (echo risk): that case stays sequential.
        if options.batch_size > 1 and (prompt is None or hot) and gate.audio.size:
            return self._decode_batched(gate, options, prompt if hot else None, progress, p0, p1)
        if options.parallel_pieces and gate.audio.size:
            return self._decode_pieces(gate, options, prompt, hot, progress, p0, p1)
        return self._decode_windows(gate, options, prompt, hot, progress, p0, p1)

    def _decode_pieces(
        self, gate: Gate, options: TranscribeOptions, prompt: str | None, hot: bool,
        progress: Progress | None, p0: float, p1: float,
    ) -> tuple[list[Segment], str, list[Dropped]]:  # fmt: skip
        """Pieces cut in pauses, `options.parallel_pieces` at a time, each with the text before its group."""
        pieces = speech_pieces(gate.audio, look=CUT_LOOK_S)
        n = max(1, min(options.parallel_pieces, len(pieces)))
        lanes = [self._lane(options.seed) for _ in range(n)]
        keep = self.model.max_length // 2 - 1  # the most previous text a prompt holds
        context: list[int] = []
        if prompt and not hot:  # an initial prompt: the text "before" the first piece
            context = self.model.hf_tokenizer.encode(" " + prompt.strip(), add_special_tokens=False).ids
        speech_s = gate.audio.size / SAMPLE_RATE
        out: list[Segment] = []
        dropped: list[Dropped] = []
        pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="piece") if n > 1 else None
        try:
            for g in range(0, len(pieces), n):
                group = pieces[g : g + n]
                shown = context[-keep:] if context else None
                hotwords = prompt if hot else None
                # The group's model calls made as one batch each (see `lockstep`), on the loaded model;
                # on a GPU (encoder outputs not in host memory) each piece calls the model itself.
                loaded = self._sampling._model
                step = Lockstep(loaded, len(group)) if loaded.device == "cpu" else None
                for i, (_, sampling) in enumerate(lanes[: len(group)]):
                    sampling._model = step.lane(i) if step is not None else loaded
                jobs = [(lane, gate, options, p, shown, hotwords, step) for lane, p in zip(lanes, group, strict=False)]
                if pool is None:
                    results = [self._decode_piece(*job) for job in jobs]
                else:
                    results = [f.result() for f in [pool.submit(self._decode_piece, *job) for job in jobs]]
                for segs, lost, tokens, reset in results:  # in order: the context as one decoding would carry it
                    out.extend(segs)
                    dropped.extend(lost)
                    context = tokens if reset else context + tokens
                    if not options.condition_on_previous_text:
                        context = []
                if progress:
                    progress(p0 + (p1 - p0) * min(1.0, group[-1][1] / speech_s))
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            for _, sampling in lanes:
                sampling.end()
                self._sampling.samples += sampling.samples  # one count for the engine, whichever thread sampled
        return out, options.language or "en", dropped

    def _lane(self, seed: int) -> tuple[Any, SeededSampling]:
        """A view of the model for one thread: its own decoding hooks and its own seeded sampler
        (so which piece samples what does not depend on the other threads), the same weights."""
        model = copy.copy(self.model)
        model.model = sampling = SeededSampling(self._sampling._model, self._piece_sampler)
        sampling.begin(seed)
        return model, sampling

    def _decode_piece(
        self, lane: tuple[Any, SeededSampling], gate: Gate, options: TranscribeOptions,
        piece: tuple[float, float], context: list[int] | None, hotwords: str | None, step: Lockstep | None = None,
    ) -> tuple[list[Segment], list[Dropped], list[int], bool]:  # fmt: skip
        """One piece decoded the sequential way (windows, context inside it, seeded fallback) after
        `context`; its segments and drops on the original timeline, its tokens, whether context was reset."""
        try:
            return self._decode_one_piece(lane, gate, options, piece, context, hotwords)
        finally:
            if step is not None:  # the pieces beside it no longer wait for this one's calls
                step.leave()

    def _decode_one_piece(
        self, lane: tuple[Any, SeededSampling], gate: Gate, options: TranscribeOptions,
        piece: tuple[float, float], context: list[int] | None, hotwords: str | None,
    ) -> tuple[list[Segment], list[Dropped], list[int], bool]:  # fmt: skip
        """The piece, then what its decoding left unwritten at its end, if that is speech.

        A piece is shorter than Whisper's 30-s window, so it is decoded in one
        window, padded. When the model closes its text with a timestamp alone,
        faster-whisper takes the whole window as done (as it must: it cannot
        tell a finished window from a model that stopped early) and goes on
        after it; a window ending at a fixed 30 s would have that tail again as
        the start of the next one, but a piece's end is the end. So the speech
        after the last segment was never looked at, and no check put it on
        record. Where Silero is sure there is speech there (TAIL_SPEECH_S or
        more, not a breath or a click), the rest of the piece is decoded again
        on its own, after the text before it, as the sequential decoding would
        seek to it. Repeated while each decoding writes something, so it ends.
        """
        a, b = piece
        keep = self.model.max_length // 2 - 1
        out, dropped, tokens, reset, tail = self._decode_span(lane, gate, options, piece, context, hotwords)
        for _ in range(MAX_TAILS):
            if tail is None or b - tail < TAIL_SPEECH_S or gate.sure_seconds(tail, b) < TAIL_SPEECH_S:
                break
            before = tokens if reset else (context or []) + tokens
            # From where that speech begins: Whisper puts a first word at its window's start, noise or not.
            start = gate.sure_onset(tail, b)
            segs, lost, more, again, tail = self._decode_span(
                lane, gate, options, (start, b), before[-keep:] or None, hotwords
            )
            out.extend(segs)
            dropped.extend(lost)
            tokens, reset = (more, True) if again else (tokens + more, reset)
        return out, dropped, tokens, reset

    def _decode_span(
        self, lane: tuple[Any, SeededSampling], gate: Gate, options: TranscribeOptions,
        piece: tuple[float, float], context: list[int] | None, hotwords: str | None,
    ) -> tuple[list[Segment], list[Dropped], list[int], bool, float | None]:  # fmt: skip
        """`piece` decoded the sequential way; its segments, drops, tokens, whether the context was reset,
        and where (gated seconds) its last window stopped writing when that window was kept (else None)."""
        model, _ = lane
        a, b = piece
        audio = gate.audio[round(a * SAMPLE_RATE) : round(b * SAMPLE_RATE)]
        windows = WindowLog(options)
        native = type(model).generate_with_fallback.__get__(model)

        def watched(encoder_output: Any, prompt_tokens: list[int], tokenizer: Any, opts: Any) -> Any:
            result, avg_logprob, temperature, ratio = out = native(encoder_output, prompt_tokens, tokenizer, opts)
            windows.add(result.no_speech_prob, avg_logprob, temperature, tokenizer.decode(result.sequences_ids[0]))
            return out

        model.generate_with_fallback = watched
        try:
            segments, _ = model.transcribe(
                audio,
                language=options.language,
                beam_size=options.beam_size,
                best_of=options.best_of,
                temperature=list(options.temperatures),
                condition_on_previous_text=options.condition_on_previous_text,
                initial_prompt=context,
                hotwords=hotwords,
                word_timestamps=True,
                without_timestamps=False,
                vad_filter=False,
                no_speech_threshold=options.no_speech_threshold,
                log_prob_threshold=options.log_prob_threshold,
                compression_ratio_threshold=options.compression_ratio_threshold,
                hallucination_silence_threshold=options.hallucination_silence_threshold,
            )
            frame_s = model.feature_extractor.time_per_frame
            out: list[Segment] = []
            dropped: list[Dropped] = []
            tokens: list[int] = []
            reset = False
            seen, last_end, written = 0, 0.0, 0.0
            for s in segments:
                skipped = skipped_text(windows.windows[seen:-1])
                if skipped:
                    dropped.append(Dropped(*gate.span(a + last_end, a + s.seek * frame_s), NO_SPEECH, skipped))
                seen = len(windows.windows)
                words = [replace(w, start=w.start + a, end=w.end + a) for w in s.words or []]
                seg = gate.segment(s.text, a + s.start, a + s.end, words)
                if seg is not None:
                    out.append(seg)
                tokens.extend(s.tokens)
                if s.temperature > PROMPT_RESET_TEMPERATURE:  # as the decoding loop drops its context
                    tokens, reset = [], True
                last_end = s.end
                written = s.words[-1].end if s.words else s.end
            skipped = skipped_text(windows.windows[seen:])
            if skipped:
                dropped.append(Dropped(*gate.span(a + last_end, b), NO_SPEECH, skipped))
            # Unwritten speech after the last word is left out unseen only when no window came after it.
            tail = a + written if written > 0 and seen == len(windows.windows) else None
        finally:
            del model.generate_with_fallback
        return out, dropped, tokens, reset, tail

    def _decode_batched(
        self, gate: Gate, options: TranscribeOptions, hotwords: str | None,
        progress: Progress | None, p0: float, p1: float,
    ) -> tuple[list[Segment], str, list[Dropped]]:  # fmt: skip
        from faster_whisper import BatchedInferencePipeline

        model = self.model
        language = options.language
        if language is None:
            if model.model.is_multilingual:
                language, _, _ = model.detect_language(
                    audio=gate.audio, language_detection_segments=options.language_detection_segments
                )
            else:
                language = "en"
        pieces = speech_pieces(gate.audio)
        speech_s = gate.audio.size / SAMPLE_RATE
        fps = model.frames_per_second
        decoded: dict[int, list[Any]] = {}
        model.model = self._sampling._model  # temperature 0 only: beam search on the loaded model
        try:
            segments, _ = BatchedInferencePipeline(model).transcribe(
                gate.audio,
                language=language,
                beam_size=options.beam_size,
                clip_timestamps=[{"start": a, "end": b} for a, b in pieces],
                batch_size=options.batch_size,
                hotwords=hotwords,
                word_timestamps=True,
                # With timestamps a piece's unfinished last sentence is lost (the sequential
                # decoding seeks back to it; a batch cannot): one text per piece, cut at sentences below.
                without_timestamps=True,
                vad_filter=False,
            )
            for s in segments:  # a generator: one batch of pieces decoded at a time
                decoded.setdefault(s.seek, []).append(s)
                if progress:
                    progress(p0 + (p1 - p0) * min(1.0, s.end / speech_s))
        finally:
            model.model = self._sampling
        out: list[Segment] = []
        dropped: list[Dropped] = []
        for a, b in pieces:
            segs = decoded.get(int(a * fps), [])
            if not segs:
                continue
            text = "".join(s.text for s in segs).strip()
            avg_logprob, no_speech_prob = segs[0].avg_logprob, segs[0].no_speech_prob
            if looks_silent(no_speech_prob, avg_logprob, options):
                if text:
                    dropped.append(Dropped(*gate.span(a, b), NO_SPEECH, text))
                continue
            ratio_limit, logprob_limit = options.compression_ratio_threshold, options.log_prob_threshold
            if (ratio_limit is not None and compression_ratio(text) > ratio_limit) or (
                logprob_limit is not None and avg_logprob < logprob_limit
            ):  # what the sequential decoding would have fallen back on: decode this piece that way
                again, _, lost = self._decode_windows(
                    gate, replace(options, language=language), hotwords,
                    hotwords is not None, None, 0.0, 1.0, clip=(a, b),
                )  # fmt: skip
                out.extend(again)
                dropped.extend(lost)
                continue
            for s in segs:
                for words in sentences(s.words or []):
                    seg = gate.segment("".join(w.word for w in words), words[0].start, words[-1].end, words)
                    if seg is not None:
                        out.append(seg)
        return out, language, dropped

    def _decode_windows(
        self, gate: Gate, options: TranscribeOptions, prompt: str | None, hot: bool,
        progress: Progress | None, p0: float, p1: float, clip: tuple[float, float] | None = None,
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
                clip_timestamps=list(clip) if clip else "0",
            )
            speech_s = clip[1] if clip else gate.audio.size / SAMPLE_RATE
            frame_s = model.feature_extractor.time_per_frame
            out: list[Segment] = []
            dropped: list[Dropped] = []
            # windows accounted for; end of the last kept segment (gated time)
            seen, last_end = 0, (clip[0] if clip else 0.0)
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


PIECE_S = 30.0  # Whisper's window
PIECE_SAMPLER_SHARE = 2  # a piece's seeded sampler (the fallback) gets this share of the cores
CUT_LOOK_S = 10.0  # a piece decoded with context ends in the longest pause of its last 10 s
PROMPT_RESET_TEMPERATURE = 0.5  # faster-whisper's prompt_reset_on_temperature
TAIL_SPEECH_S = 1.0  # sure speech left unwritten at a piece's end that is decoded again (see `_decode_one_piece`)
MAX_TAILS = 2  # at most this many decodings again of one piece's end
SENTENCE_PAUSE_S = 1.5  # a pause this long ends a segment even without a full stop


def speech_pieces(audio: np.ndarray, longest: float = PIECE_S, look: float | None = None) -> list[tuple[float, float]]:
    """[start, end) seconds covering all of `audio`, each at most `longest`, cut in pauses.

    The cuts are in the middle of the pauses Silero VAD finds (160 ms and
    longer, as faster-whisper's batched mode looks for them). Without `look`
    a piece ends at its latest pause, so there are as few cuts as can be.
    With `look` it ends in the longest pause of its last `look` seconds: the
    likeliest end of a sentence, where a sequential decoding would start its
    next window too (cut at the latest pause, htp_noisy decoded pieces worse
    than windows). A stretch with no pause for 30 s is cut at 30 s.
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    total = audio.size / SAMPLE_RATE
    vad = VadOptions(min_silence_duration_ms=160, max_speech_duration_s=longest)
    if look is not None:
        vad.speech_pad_ms = 0  # the pauses as long as they are, to be compared
    spans = get_speech_timestamps(audio, vad)
    pauses = [(x["end"] / SAMPLE_RATE, y["start"] / SAMPLE_RATE) for x, y in zip(spans, spans[1:], strict=False)]
    pieces, start = [], 0.0
    while total - start > longest:
        fits = [(b - a, (a + b) / 2) for a, b in pauses if start < (a + b) / 2 <= start + longest]
        if look is not None:
            fits = [f for f in fits if f[1] > start + longest - look]
            end = max(fits)[1] if fits else start + longest
        else:
            end = fits[-1][1] if fits else start + longest
        pieces.append((round(start, 3), round(end, 3)))
        start = round(end, 3)
    if total - start > 0:
        pieces.append((round(start, 3), total))  # not rounded up past the audio's end
    return pieces


def sentences(words: list[Any]) -> list[list[Any]]:
    """A piece's words cut into segments: after a full stop, question or exclamation mark, or at a
    long pause, where the sequential decoding's timestamps mostly put segment ends."""
    out: list[list[Any]] = []
    current: list[Any] = []
    for w in words:
        if current and w.start - current[-1].end >= SENTENCE_PAUSE_S:
            out.append(current)
            current = []
        current.append(w)
        if w.word.rstrip().endswith((".", "?", "!")):
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out
