"""Speaker embeddings over short windows of speech, by one of two encoders.

`ENCODER` names the one the diarizer uses, and `get_encoder` is the only
place that builds one; everything downstream sees unit vectors of
`encoder.dim` numbers and the encoder's `name` (kept with voiceprints, so
vectors of two encoders are never compared).

- "campplus" (the default): 3D-Speaker's CAM++ (see `campplus`) on Kaldi
  fbank (see `fbank`). Trained on ~200k speakers, it tells far-field and
  quiet voices apart where resemblyzer's d-vectors could not. Its
  convolutional trunk runs once per speech region (in chunks of at most
  CHUNK_FRAMES) and every window pools its own stretch of the trunk's output:
  the trunk is translation-equivariant but for its edges and the
  context-aware masks' whole-input mean, so a window embeds almost as if run
  alone, at a fraction of the cost of running every overlapping window
  through the whole network.
- "resemblyzer": resemblyzer's GE2E LSTM (256 numbers), each window run
  alone. Its weights come from the resemblyzer wheel, but neither
  resemblyzer nor librosa is imported: librosa's first import compiles a
  numba cache (15 s, and it fails or repeats on a read-only site-packages).
  The mel filterbank below reproduces `librosa.feature.melspectrogram(n_fft=400,
  hop_length=160, n_mels=40)` to float32 precision, which is what the encoder
  was trained on. Kept to compare speed against; the clustering thresholds
  are measured for CAM++.
"""

from __future__ import annotations

import functools
import importlib.util
from array import array
from pathlib import Path

import numpy as np

from media.audio import SAMPLE_RATE

from .inference import one_thread

N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
WINDOW_FRAMES = 160  # 1.6 s windows (10 ms frames): resemblyzer's training length, and long enough for CAM++
ENCODER = "campplus"  # the encoder the diarizer uses: "campplus" or "resemblyzer"
CHUNK_FRAMES = 3000  # CAM++'s trunk runs over at most 30 s of a region at once (memory)
TARGET_DBFS = -30.0  # every region is brought to this loudness (resemblyzer's training level)
MIN_PIECE_S = 0.25  # a stretch between two pauses shorter than this joins its neighbour
FIND, LABEL = 1, 2  # window roles: speakers are found on FIND windows, turns placed with LABEL ones


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    logstep = np.log(6.4) / 27.0
    linear = f / f_sp
    log = min_log_hz / f_sp + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep
    return np.where(f >= min_log_hz, log, linear)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@functools.cache
def _filterbank() -> np.ndarray:
    """Slaney-style mel filters, as librosa builds them by default."""
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    edges = _mel_to_hz(np.linspace(0.0, float(_hz_to_mel(np.array(SAMPLE_RATE / 2.0))), N_MELS + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


@functools.cache
def _hann() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def mel_frames(samples: np.ndarray) -> np.ndarray:
    """(n_frames, 40) power mel spectrogram, frame i centred on sample i*160."""
    padded = np.pad(np.asarray(samples, np.float32), (N_FFT // 2, N_FFT // 2))
    n = 1 + len(samples) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:n] * _hann()
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return (power.astype(np.float32) @ _filterbank().T).astype(np.float32)


def normalize_volume(samples: np.ndarray) -> np.ndarray:
    """Bring a region to the encoder's training loudness, up or down.

    Resemblyzer itself only raises quiet audio; lowering loud audio too makes
    the embedding independent of recording level, so two people recorded at
    different levels (a phone call, two microphones) are told apart by voice,
    and one person at two levels is not taken for two.
    """
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    if rms <= 1e-6:
        return samples
    return samples * np.float32(10 ** (TARGET_DBFS / 20) / rms)


def stretches(n_frames: int, start_s: float, pauses: list[tuple[float, float]]) -> list[tuple[int, int]]:
    """(first, end) mel frames of the stretches of a region between its pauses; short ones join a neighbour."""
    cuts = [0]
    for a, b in pauses:
        mid = int(round(((a + b) / 2 - start_s) * SAMPLE_RATE / HOP))
        if 0 < mid < n_frames:
            cuts.append(mid)
    cuts.append(n_frames)
    cuts = sorted(set(cuts))
    min_frames = MIN_PIECE_S * SAMPLE_RATE / HOP
    out: list[list[int]] = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        if out and (b - a < min_frames or out[-1][1] - out[-1][0] < min_frames):
            out[-1][1] = b
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


Windows = list[tuple[int, int]]  # [first, end) feature frames of each window of a region


class ResemblyzerEncoder:
    """Resemblyzer's 3-layer LSTM, one window at a time; one instance per process (see `get_encoder`)."""

    name = "resemblyzer"
    dim = 256

    def __init__(self, weights: Path | None = None):
        import torch
        from torch import nn

        if weights is None:
            spec = importlib.util.find_spec("resemblyzer")
            if spec is None or not spec.submodule_search_locations:
                raise RuntimeError("resemblyzer is not installed")
            weights = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
        state = torch.load(weights, map_location="cpu", weights_only=True)["model_state"]
        self._torch = torch
        self.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, self.dim)
        self.lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
        self.linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
        self.lstm.eval()
        self.linear.eval()

    def features(self, samples: np.ndarray) -> np.ndarray:
        """(frames, 40) power mel spectrogram of the region brought to the training loudness."""
        return mel_frames(normalize_volume(samples))

    def embed(self, regions: list[tuple[np.ndarray, Windows]]) -> list[np.ndarray]:
        """Per region (features, windows), the (n_windows, 256) unit embeddings; equal-length windows share a call."""
        flat = [(r, feats[a:b]) for r, (feats, windows) in enumerate(regions) for a, b in windows]
        by_len: dict[int, list[int]] = {}
        for k, (_r, m) in enumerate(flat):
            by_len.setdefault(len(m), []).append(k)
        out = np.zeros((len(flat), self.dim), np.float32)
        for idx in by_len.values():
            for at in range(0, len(idx), 64):
                part = idx[at : at + 64]
                out[part] = self(np.stack([flat[k][1] for k in part]))
        bounds = np.cumsum([0] + [len(w) for _f, w in regions])
        return [out[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def __call__(self, mels: np.ndarray) -> np.ndarray:
        """(batch, frames, 40) -> (batch, 256) L2-normalised embeddings."""
        torch = self._torch
        with one_thread():
            _, (hidden, _) = self.lstm(torch.from_numpy(np.ascontiguousarray(mels, np.float32)))
            raw = torch.relu(self.linear(hidden[-1]))
            out = raw / torch.clamp(torch.norm(raw, dim=1, keepdim=True), min=1e-8)
        return out.numpy()


class CampplusEncoder:
    """CAM++ on Kaldi fbank: the trunk once per region chunk, pooled per window; one instance per process."""

    name = "campplus"
    dim = 192

    def __init__(self, backend: str = "onnx"):
        import torch

        from . import campplus

        self._torch = torch
        self.model = campplus.load()
        self._onnx = campplus.onnx_trunk() if backend == "onnx" else None
        self.backend = "onnx" if self._onnx is not None else "torch"

    def features(self, samples: np.ndarray) -> np.ndarray:
        """(frames, 80) log mel fbank; frame i starts at sample 160 i. Loudness needs no care: the mean goes."""
        from .fbank import FRAME, fbank

        samples = np.asarray(samples, np.float32)
        if len(samples) < FRAME:  # a region shorter than one 25 ms frame still gets one
            samples = np.pad(samples, (0, FRAME - len(samples)))
        return fbank(samples)

    def embed(self, regions: list[tuple[np.ndarray, Windows]]) -> list[np.ndarray]:
        """Per region (features, windows), the (n_windows, 192) unit embeddings."""
        with one_thread():
            return [self._region(feats, windows) for feats, windows in regions]

    def _region(self, feats: np.ndarray, windows: Windows) -> np.ndarray:
        torch, model = self._torch, self.model
        vectors = np.zeros((len(windows), self.dim), np.float32)
        n = len(feats)
        step = CHUNK_FRAMES - WINDOW_FRAMES  # chunks overlap by a window, so every window fits in one
        starts = [0] if n <= CHUNK_FRAMES else list(range(0, n - WINDOW_FRAMES, step))
        for c0 in starts:
            c1 = min(n, c0 + CHUNK_FRAMES)
            mine = [k for k, (a, b) in enumerate(windows) if a >= c0 and b <= c1 and (a < c0 + step or c1 == n)]
            if not mine:
                continue
            chunk = feats[c0:c1] - feats[c0:c1].mean(axis=0)  # per-utterance mean subtraction, as in training
            if self._onnx is not None:
                trunk = torch.from_numpy(self._onnx(chunk))
            else:
                trunk = model.trunk(torch.from_numpy(np.ascontiguousarray(chunk, np.float32))[None])[0]
            t = trunk.shape[-1]  # half the frames: the TDNN has stride 2
            pooled = []
            for k in mine:
                a, b = windows[k]
                lo = min((a - c0) // 2, t - 1)
                hi = max(lo + 2, min(t, (b - c0 + 1) // 2))
                seg = trunk[:, lo:hi]
                pooled.append(torch.cat([seg.mean(-1), seg.std(-1, unbiased=True)]))
            emb = model.xvector.dense(torch.stack(pooled)).numpy()
            vectors[mine] = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-8)
        return vectors


_ENCODERS = {"campplus": CampplusEncoder, "resemblyzer": ResemblyzerEncoder}


@functools.cache
def get_encoder(name: str = ENCODER) -> CampplusEncoder | ResemblyzerEncoder:
    """The named encoder, built once per process."""
    return _ENCODERS[name]()


class WindowEmbedder:
    """Embeds speech regions as overlapping 1.6 s windows, batched across regions.

    A window never crosses a region's edges, so it never hears the next
    speaker across a pause; a region shorter than a window is embedded whole.
    A region with short pauses inside (see `VadOptions.min_pause_s`) is
    embedded twice: whole, to find the speakers (FIND windows: long windows
    embed a voice best), and stretch by stretch between its pauses, to place
    the turns (LABEL windows: "Really?" / "Yes." heard apart). A region
    without pauses gives windows that do both.
    Per window it keeps its span, region, role, stretch and its embedding as
    float16 (~400-530 bytes, ~12-20 MB for 3 hours of speech): the only state that
    grows with length. Half precision costs ~1e-3 in a cosine; speakers differ by 0.1.
    """

    def __init__(self, hop_s: float = 0.4, batch: int = 64, encoder: str = ENCODER):
        self.encoder = get_encoder(encoder)
        self.dim = self.encoder.dim
        self.hop = max(1, round(hop_s * SAMPLE_RATE / HOP))
        self.batch = batch
        self._pending: list[tuple[np.ndarray, Windows, list[tuple[float, float, int, int, int]]]] = []
        self._queued = 0
        self._vectors: list[np.ndarray] = []
        self._spans = array("d")  # start, end, start, end, ...
        self._regions = array("l")
        self._roles = array("b")
        self._pieces = array("l")
        self.piece_spans: list[tuple[float, float]] = []  # (start, end) s of every stretch, indexed by `pieces`

    def add_region(
        self, samples: np.ndarray, start_s: float, region: int, pauses: list[tuple[float, float]] = ()
    ) -> None:
        feats = self.encoder.features(samples)
        n = len(feats)
        parts = stretches(n, start_s, list(pauses))
        end_s = start_s + len(samples) / SAMPLE_RATE
        windows: Windows = []
        meta: list[tuple[float, float, int, int, int]] = []
        if len(parts) == 1:
            self._windows(windows, meta, 0, n, start_s, region, FIND | LABEL, (start_s, end_s))
        else:
            self._windows(windows, meta, 0, n, start_s, region, FIND, None)
            for a, b in parts:
                t0 = start_s + a * HOP / SAMPLE_RATE if a else start_s
                t1 = start_s + b * HOP / SAMPLE_RATE if b < n else end_s
                self._windows(windows, meta, a, b, start_s, region, LABEL, (t0, t1))
        self._pending.append((feats, windows, meta))
        self._queued += len(windows)
        if self._queued >= self.batch:
            self._run()

    def _windows(self, windows: Windows, meta: list, a: int, b: int, start_s: float, region: int, role: int,
                 span) -> None:  # fmt: skip
        """Queue the windows of feature frames [a, b); `span` names a new stretch (LABEL windows only)."""
        piece = -1
        if span is not None:
            piece = len(self.piece_spans)
            self.piece_spans.append((round(span[0], 3), round(span[1], 3)))
        n = b - a
        if n <= WINDOW_FRAMES:
            starts = [a]
        else:
            starts = list(range(a, b - WINDOW_FRAMES + 1, self.hop))
            if starts[-1] != b - WINDOW_FRAMES:
                starts.append(b - WINDOW_FRAMES)
        for s in starts:
            e = min(b, s + WINDOW_FRAMES)
            t0, t1 = start_s + s * HOP / SAMPLE_RATE, start_s + e * HOP / SAMPLE_RATE
            windows.append((s, e))
            meta.append((t0, t1, region, role, piece))

    def finish(self) -> np.ndarray:
        """All window embeddings as one (n, dim) float16 array, in the order regions came."""
        self._run()
        out = np.concatenate(self._vectors) if self._vectors else np.zeros((0, self.dim), np.float16)
        self._vectors = [out]  # one copy, not the parts and the whole
        return out

    @property
    def spans(self) -> np.ndarray:
        """(n, 2) start and end of every window, seconds."""
        return np.frombuffer(self._spans, np.float64).reshape(-1, 2)

    @property
    def regions(self) -> np.ndarray:
        """(n,) index of the speech region each window belongs to."""
        return np.asarray(self._regions, np.int64)

    @property
    def roles(self) -> np.ndarray:
        """(n,) FIND and/or LABEL bits of every window."""
        return np.asarray(self._roles, np.int8)

    @property
    def pieces(self) -> np.ndarray:
        """(n,) index into `piece_spans` of a LABEL window's stretch; -1 for FIND-only windows."""
        return np.asarray(self._pieces, np.int64)

    def _run(self) -> None:
        if not self._pending:
            return
        vectors = self.encoder.embed([(feats, windows) for feats, windows, _meta in self._pending])
        for (_f, _w, meta), v in zip(self._pending, vectors, strict=True):
            for a, b, r, role, piece in meta:
                self._spans.extend((a, b))
                self._regions.append(r)
                self._roles.append(role)
                self._pieces.append(piece)
            if len(v):
                self._vectors.append(v.astype(np.float16))
        self._pending = []
        self._queued = 0
