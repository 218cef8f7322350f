"""Kaldi-style log mel filterbank, the features CAM++ was trained on.

3D-Speaker computes them with `torchaudio.compliance.kaldi.fbank(wav,
num_mel_bins=80, sample_frequency=16000, dither=0)` on float audio in [-1, 1]
and subtracts the mean over time. torchaudio is not a dependency here (a
second large torch wheel for one function), so this module reproduces those
defaults: 25 ms frames every 10 ms from the first sample with no padding
(snip_edges), DC offset removed per frame, pre-emphasis 0.97 (the first sample
repeated before the frame), Povey window (Hann to the power 0.85), FFT padded
to 512, power spectrum, 80 triangular filters evenly spaced on Kaldi's mel
scale 1127 ln(1 + f/700) from 20 Hz to the Nyquist frequency, natural log
floored at float32 epsilon. The scale of the input only shifts every log
energy by one constant, which the mean subtraction removes.
"""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 16000
FRAME = 400  # 25 ms
SHIFT = 160  # 10 ms
N_FFT = 512  # the frame rounded up to a power of two
N_MELS = 80
LOW_HZ = 20.0
PREEMPH = 0.97
EPS = float(np.finfo(np.float32).eps)


def _mel(f: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log(1.0 + np.asarray(f, np.float64) / 700.0)


@functools.cache
def mel_banks() -> np.ndarray:
    """(257, 80) triangular filters over the FFT bins, as Kaldi's MelBanks builds them (the Nyquist bin unused)."""
    lo, hi = _mel(LOW_HZ), _mel(SAMPLE_RATE / 2)
    delta = (hi - lo) / (N_MELS + 1)
    left = lo + delta * np.arange(N_MELS)[:, None]
    centre, right = left + delta, left + 2 * delta
    mel = _mel(np.arange(N_FFT // 2) * SAMPLE_RATE / N_FFT)[None, :]
    banks = np.maximum(0.0, np.minimum((mel - left) / (centre - left), (right - mel) / (right - centre)))
    return np.pad(banks, ((0, 0), (0, 1))).T.astype(np.float32)


@functools.cache
def povey_window() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / (FRAME - 1))) ** 0.85


def n_frames(n_samples: int) -> int:
    return 0 if n_samples < FRAME else 1 + (n_samples - FRAME) // SHIFT


def fbank(samples: np.ndarray) -> np.ndarray:
    """(frames, 80) float32 log mel energies; frame i covers samples [160 i, 160 i + 400). Not mean-subtracted."""
    x = np.asarray(samples, np.float32).reshape(-1)
    n = n_frames(len(x))
    if n == 0:
        return np.zeros((0, N_MELS), np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::SHIFT][:n].astype(np.float64)
    frames = frames - frames.mean(axis=1, keepdims=True)
    previous = np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
    frames = (frames - PREEMPH * previous) * povey_window()
    power = np.abs(np.fft.rfft(frames, n=N_FFT, axis=1)) ** 2
    energies = power.astype(np.float32) @ mel_banks()
    return np.log(np.maximum(energies, EPS)).astype(np.float32)
