"""Speech regions from silero-vad, fed in blocks so memory stays flat with length.

The sequence export of silero-vad (shipped in the silero-vad wheel) scores a
block of 32 ms frames in one onnxruntime call while carrying the LSTM state
between calls, so a 3-hour file costs the same memory as a 3-minute one and
runs at ~1000x realtime on one core. The per-frame loop of the stock model
(`get_speech_timestamps`) is ~6x slower.

The model file is located without importing the `silero_vad` package: its
`__init__` calls `torch.set_num_threads(1)`, which would silently slow every
other torch model in the process.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media.audio import SAMPLE_RATE

FRAME = 512  # samples per VAD frame (32 ms), fixed by the model
CONTEXT = 64  # samples of the previous frame the model sees, fixed by the model
FRAME_S = FRAME / SAMPLE_RATE
BLOCK_FRAMES = 512  # frames per onnxruntime call (16 s): bounds the transient memory


@dataclass(frozen=True)
class VadOptions:
    """Hysteresis thresholds as silero recommends them (enter at 0.5, leave at 0.35).

    `min_silence_s` is short on purpose: a speaker change usually happens at a
    pause, and a region that ends at every pause never spans two speakers.
    `max_region_s` bounds how much audio the caller must buffer per region.
    `min_pause_s`: a shorter dip inside a region is still noted as a pause,
    because in a quick exchange ("Really?" / "Yes.") the other speaker
    starts sooner than `min_silence_s`; such pauses do not end the region
    (shorter regions embed worse and split voices) but a turn may change there.
    """

    threshold: float = 0.5
    neg_threshold: float = 0.35
    min_silence_s: float = 0.15
    min_speech_s: float = 0.25
    pad_s: float = 0.03
    max_region_s: float = 30.0
    min_pause_s: float = 0.09


@functools.cache
def _session():
    """One onnxruntime session per process: a batch of files loads it once."""
    import onnxruntime as ort

    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("silero-vad is not installed")
    model = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad_16k_sequence.onnx"
    options = ort.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])


class SpeechDetector:
    """Turns a stream of 16 kHz samples into closed speech regions (start_s, end_s).

    `feed` returns the regions that are final so far; a region is final once
    `min_silence_s` of silence follows it, so a caller needs to keep only the
    audio since `pending_from()` to cut out the regions still to come.
    """

    def __init__(self, options: VadOptions | None = None):
        self.opt = options or VadOptions()
        self._session = _session()
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)
        self._rest = np.zeros(0, np.float32)  # samples short of a whole frame
        self._frame = 0  # index of the next frame to score
        self._start: int | None = None  # first frame of the open region
        self._last_voiced = 0  # last frame of the open region above neg_threshold
        self._min_silence = max(1, round(self.opt.min_silence_s / FRAME_S))
        self._min_pause = max(1, round(self.opt.min_pause_s / FRAME_S))
        self._open_pauses: list[tuple[int, int]] = []  # (first, end) frames of the open region's pauses
        self._pauses: list[list[tuple[float, float]]] = []  # per region emitted and not yet taken
        self._min_speech = max(1, round(self.opt.min_speech_s / FRAME_S))
        self._max_region = max(self._min_speech, round(self.opt.max_region_s / FRAME_S))
        self._last_end = 0.0  # end of the last emitted region: padding must not overlap it
        self.total_samples = 0

    # -- public ---------------------------------------------------------------
    def feed(self, samples: np.ndarray) -> list[tuple[float, float]]:
        samples = np.asarray(samples, np.float32).reshape(-1)
        self.total_samples += samples.size
        if self._rest.size:
            samples = np.concatenate([self._rest, samples])
        whole = samples.size // FRAME * FRAME
        self._rest = samples[whole:].copy()
        regions: list[tuple[float, float]] = []
        for at in range(0, whole, BLOCK_FRAMES * FRAME):
            block = samples[at : min(whole, at + BLOCK_FRAMES * FRAME)]
            regions += self._step(self._score(block))
        return regions

    def flush(self) -> list[tuple[float, float]]:
        """Score the last partial frame (zero-padded) and close any open region."""
        regions: list[tuple[float, float]] = []
        if self._rest.size:
            frame = np.zeros(FRAME, np.float32)
            frame[: self._rest.size] = self._rest
            self._rest = np.zeros(0, np.float32)
            regions += self._step(self._score(frame))
        if self._start is not None:
            regions += self._close(self._last_voiced + 1)
        return regions

    def pending_from(self) -> float:
        """Time before which no future region can start (minus padding)."""
        first = self._start if self._start is not None else self._frame
        return max(0.0, first * FRAME_S - self.opt.pad_s)

    # -- internals --------------------------------------------------------------
    def _score(self, block: np.ndarray) -> np.ndarray:
        frames = block.reshape(-1, FRAME)
        contexts = np.empty((len(frames), CONTEXT), np.float32)
        contexts[0] = self._context
        contexts[1:] = frames[:-1, -CONTEXT:]
        self._context = frames[-1, -CONTEXT:].copy()
        probs, self._h, self._c = self._session.run(
            ["speech_probs", "hn", "cn"],
            {"input": np.concatenate([contexts, frames], axis=1), "h": self._h, "c": self._c},
        )
        return np.asarray(probs, np.float32).reshape(-1)

    def _step(self, probs: np.ndarray) -> list[tuple[float, float]]:
        opt, out = self.opt, []
        for p in probs.tolist():
            i = self._frame
            self._frame += 1
            if self._start is None:
                if p >= opt.threshold:
                    self._start, self._last_voiced = i, i
                continue
            if p >= opt.neg_threshold:
                if i - self._last_voiced - 1 >= self._min_pause:
                    self._open_pauses.append((self._last_voiced + 1, i))
                self._last_voiced = i
            if i - self._last_voiced >= self._min_silence:
                out += self._close(self._last_voiced + 1)
            elif i + 1 - self._start >= self._max_region:
                out += self._close(i + 1)
        return out

    def take_pauses(self) -> list[list[tuple[float, float]]]:
        """The pauses inside each region returned since the last call, in the same order."""
        out, self._pauses = self._pauses, []
        return out

    def _close(self, end_frame: int) -> list[tuple[float, float]]:
        start_frame, self._start = self._start, None
        pauses, self._open_pauses = self._open_pauses, []
        assert start_frame is not None
        if end_frame - start_frame < self._min_speech:
            return []
        total = self.total_samples / SAMPLE_RATE
        start = max(self._last_end, start_frame * FRAME_S - self.opt.pad_s)
        end = min(total, end_frame * FRAME_S + self.opt.pad_s)
        if end <= start:
            return []
        self._last_end = end
        self._pauses.append([(round(a * FRAME_S, 3), round(b * FRAME_S, 3)) for a, b in pauses if b < end_frame])
        return [(round(start, 3), round(end, 3))]


def speech_regions(audio: np.ndarray, options: VadOptions | None = None) -> list[tuple[float, float]]:
    """All speech regions of a whole array (convenience for tests and tools)."""
    det = SpeechDetector(options)
    step = 30 * SAMPLE_RATE
    regions: list[tuple[float, float]] = []
    for at in range(0, len(audio), step):
        regions += det.feed(audio[at : at + step])
    return regions + det.flush()
