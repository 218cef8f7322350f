"""Silence cut out before decoding, and word times mapped back to the original timeline.

Whisper invents text ("Thank you.") in long silences. The Silero VAD model
shipped inside faster-whisper finds the speech; the speech is concatenated,
decoded, and word times are mapped back. Done here, once, so both engines
decode the very same samples.

The gate opens at a low speech probability (`TranscribeOptions.vad_threshold`):
far-field meeting speech (a table microphone, people across the room) scores
0.01-0.3 on Silero for whole utterances that Whisper transcribes, and a gate at
Silero's usual 0.5 threw them away unseen. Silence still scores ~0, so long
silences stay out. The language, though, is read only from the speech Silero is
sure of (`sure_speech`): quiet murmur let in by the low gate was taken for Welsh.

Those three readings of the audio (the gate, the sure speech, the stretches word
times are held to) are one Silero pass: the model's speech probabilities depend
only on the audio, so they are computed once per gate and faster-whisper's own
`get_speech_timestamps` turns them into spans at each threshold (`_OnceVad`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from media.audio import SAMPLE_RATE

from ..options import TranscribeOptions
from ..transcript import Segment, Word

SURE_THRESHOLD = 0.5  # Silero's usual threshold: speech it is sure of, for language detection
GOES_ON_S = 0.5  # sure speech past a word's end longer than its alignment error and Silero's hangover
STRETCH_SILENCE_MS = 200  # a pause this long ends a stretch of speech (see `stretches`)
FAINT_THRESHOLD = 0.05  # a sound Silero scores this high, if the gate leaves it out, is put on record (`left_out`)
FAINT_MIN_S = 0.25  # ... when at least this long (Silero's shortest speech)


class Gate:
    """Speech cut out of the audio, with the map back to the original timeline."""

    def __init__(self, audio: np.ndarray, options: TranscribeOptions) -> None:
        self.duration = audio.size / SAMPLE_RATE
        self.map = None
        self.regions = [(0.0, self.duration)]
        self._source, self._options = audio, options
        self._vad: _OnceVad | None = None  # Silero's probabilities of `audio`, computed on first use
        self._sure: list[tuple[float, float]] | None = None  # `sure_seconds`' spans, on first use
        self._sure_lock = threading.Lock()
        if not options.vad_filter:
            self.audio = audio
            return
        from faster_whisper.vad import SpeechTimestampsMap

        spans = self._spans(options.vad_threshold)  # faster-whisper's "chunks"
        self.regions = [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in spans]
        if spans:
            self.audio = np.concatenate([audio[c["start"] : c["end"]] for c in spans])
            self.map = SpeechTimestampsMap(spans, SAMPLE_RATE)
        else:
            self.audio = np.zeros(0, np.float32)

    def _spans(self, threshold: float, min_silence_ms: int | None = None, pad_ms: int | None = None) -> list[dict]:
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        o = self._options
        silence = o.vad_min_silence_ms if min_silence_ms is None else min_silence_ms
        pad = o.vad_speech_pad_ms if pad_ms is None else pad_ms
        vad = VadOptions(threshold=threshold, min_silence_duration_ms=silence, speech_pad_ms=pad)
        if self._vad is None:
            self._vad = _OnceVad()
        with self._vad.in_use():
            return get_speech_timestamps(self._source, vad, sampling_rate=SAMPLE_RATE)

    def stretches(self) -> list[tuple[float, float]]:
        """Stretches of speech, seconds on the original timeline: the gate's threshold and padding,
        but cut at pauses of STRETCH_SILENCE_MS, so word times can be held off the silences between
        turns (`speech_bounds`); the whole audio when the gate is off."""
        if not self._options.vad_filter:
            return [(0.0, self.duration)]
        spans = self._spans(self._options.vad_threshold, STRETCH_SILENCE_MS)
        return [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in spans]

    def left_out(self) -> list[tuple[float, float]]:
        """Stretches (original seconds) where Silero heard something like speech, below the gate's
        threshold, that the gate left out: never decoded, so in no transcript and no other record.

        Far-field speech can score under the gate (a word across the room, 0.1-0.2), and Whisper
        on the whole audio writes words there; noise can score as much. Which it was is for a
        person to check, as a window the no-speech check skipped is: so it goes on record in
        `Transcript.dropped` rather than vanishing unseen. Empty when the gate is off."""
        if not self._options.vad_filter:
            return []
        heard = [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in self._spans(FAINT_THRESHOLD, pad_ms=0)]
        out: list[tuple[float, float]] = []
        for a, b in heard:
            for x, y in self.regions:  # sorted, apart: what of [a, b) lies outside every region
                if y <= a or x >= b:
                    continue
                if x - a >= FAINT_MIN_S:
                    out.append((round(a, 3), round(x, 3)))
                a = max(a, y)
            if b - a >= FAINT_MIN_S:
                out.append((round(a, 3), round(b, 3)))
        return out

    def sure_onset(self, start: float, end: float) -> float:
        """Where (gated seconds) the next speech Silero is sure of begins after `start` (before `end`),
        widened by the gate's padding, as the gate widens a region; `start` when the speech under way
        at `start` goes on, or none is sure."""
        if self.sure_seconds(start, end) == 0.0:
            return start
        a, b = self.span(start, end)
        if any(x <= a < y and y - a >= GOES_ON_S for x, y in self._sure):
            return start  # more than a last word's end is heard right after `start`: decode from there
        onsets = [x for x, _ in self._sure if a < x < b]
        if not onsets:
            return start
        onset = min(onsets) - self._options.vad_speech_pad_ms / 1000
        if onset <= a:
            return start
        lo, hi = start, end  # the gated time whose original time is `onset`: the map is monotonic
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self.span(mid, mid)[0] < onset else (lo, mid)
        return lo

    def sure_seconds(self, start: float, end: float) -> float:
        """Seconds of speech Silero is sure of (p >= SURE_THRESHOLD, unpadded) in [start, end) of the
        gated audio: how much a decoding that wrote nothing there has left out (see
        `faster_whisper_engine`); none when the gate is off (Silero was not asked)."""
        if not self._options.vad_filter:
            return 0.0
        with self._sure_lock:  # pieces decoded side by side ask at once; Silero's spans found once
            if self._sure is None:
                spans = self._spans(SURE_THRESHOLD, STRETCH_SILENCE_MS, pad_ms=0)
                self._sure = [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in spans]
        a, b = self.span(start, end)  # the original timeline, where the spans are
        if b <= a:
            return 0.0
        return sum(max(0.0, min(b, y) - max(a, x)) for x, y in self._sure)

    def sure_speech(self) -> np.ndarray:
        """The speech Silero is sure of (p >= SURE_THRESHOLD), to read the language from;
        the gated audio when that is all there is or nothing is sure."""
        if not self._options.vad_filter or self._options.vad_threshold >= SURE_THRESHOLD:
            return self.audio
        spans = self._spans(SURE_THRESHOLD)
        if not spans:
            return self.audio
        return np.concatenate([self._source[c["start"] : c["end"]] for c in spans])

    def segment(self, text: str, start: float, end: float, words: Iterable[Any]) -> Segment | None:
        """One engine segment as ours: words stripped, times on the original timeline."""
        text = text.strip()
        if not text:
            return None
        out: list[Word] = []
        for w in words:
            get = w.get if isinstance(w, dict) else lambda k, w=w: getattr(w, k)
            token = get("word").strip()
            if not token:
                continue
            ws, we = float(get("start")), float(get("end"))
            if self.map is not None:  # both ends in the span of the word's middle, as faster-whisper does
                span = self.map.get_chunk_index((ws + we) / 2)
                ws, we = self.map.get_original_time(ws, span), self.map.get_original_time(we, span)
            ws, we = self._clamp(ws), self._clamp(we)
            out.append(Word(word=token, start=ws, end=max(ws, we), probability=round(float(get("probability")), 4)))
        if out:
            s, e = out[0].start, out[-1].end
        elif self.map is not None:
            s, e = self.map.get_original_time(start), self.map.get_original_time(end, is_end=True)
        else:
            s, e = start, end
        s, e = self._clamp(s), self._clamp(e)
        return Segment(start=s, end=max(s, e), text=text, words=out)

    def span(self, start: float, end: float) -> tuple[float, float]:
        """A stretch of the gated audio, on the original timeline."""
        if self.map is not None:
            start, end = self.map.get_original_time(start), self.map.get_original_time(end, is_end=True)
        start, end = self._clamp(start), self._clamp(end)
        return start, max(start, end)

    def _clamp(self, t: float) -> float:
        return float(min(max(t, 0.0), self.duration))


_local = threading.local()  # the _OnceVad in use on this thread, if any
_silero: list[Any] = []  # faster-whisper's own get_vad_model, once it is replaced
_install_lock = threading.Lock()


class _OnceVad:
    """Silero run once on one audio, however many times its spans are asked for.

    faster-whisper's `get_speech_timestamps` runs the model (`get_vad_model()`)
    on the whole audio and then thresholds the probabilities. While `in_use`,
    this thread's calls get this object as the model: the first call computes
    the probabilities, the next ones return them. Other threads, and calls
    outside `in_use`, get faster-whisper's model as before.
    """

    def __init__(self) -> None:
        _install()
        self._probs: np.ndarray | None = None
        self._size = -1
        self.runs = 0  # how many times Silero really ran

    @contextlib.contextmanager
    def in_use(self) -> Iterator[None]:
        before = getattr(_local, "vad", None)
        _local.vad = self
        try:
            yield
        finally:
            _local.vad = before

    def __call__(self, padded: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        if self._probs is None or padded.size != self._size:  # one gate, one audio; the size tells a misuse
            self._probs, self._size = _silero[0]()(padded, *args, **kwargs), padded.size
            self.runs += 1
        return self._probs


def _install() -> None:
    """faster-whisper's `get_vad_model` replaced, once, by one that answers the `_OnceVad` in use, if any."""
    import faster_whisper.vad as fw_vad

    with _install_lock:
        if _silero:
            return
        real = fw_vad.get_vad_model
        _silero.append(real)

        def get_vad_model() -> Any:
            return getattr(_local, "vad", None) or real()

        fw_vad.get_vad_model = get_vad_model
