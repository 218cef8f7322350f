"""CAM++ on ONNX Runtime gives the embeddings torch gives, run after run.

The speaker stage runs CAM++'s trunk as an ONNX graph exported from the
packaged weights (see `speakers.campplus`); torch's module stays the
reference. Both encoders embed the same windows of real voices (a committed
fixture), over a whole region and in the chunks a long region is cut into.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def encoders():
    from pipeline.speakers.embed import CampplusEncoder

    onnx, ref = CampplusEncoder("onnx"), CampplusEncoder("torch")
    assert (onnx.backend, ref.backend) == ("onnx", "torch")
    return onnx, ref


def _regions(encoder, seconds: float) -> list[tuple[np.ndarray, list[tuple[int, int]]]]:
    from media.audio import load_audio

    audio = load_audio(FIXTURES / "real_two_voices.mp4")[: int(seconds * 16000)]
    out = []
    for a, b in ((0.0, seconds), (1.0, 1.1), (2.0, 3.3)):  # the whole, a region of 10 frames, a short one
        feats = encoder.features(audio[int(a * 16000) : int(b * 16000)])
        n = len(feats)
        windows = [(s, min(n, s + 160)) for s in range(0, max(1, n - 160 + 1), 40)]
        out.append((feats, windows))
    return out


def test_onnx_embeddings_equal_torch_ones(encoders):
    onnx, ref = encoders
    regions = _regions(ref, 40.0)  # 40 s: more than one 30-s chunk of the trunk
    got, want = onnx.embed(regions), ref.embed(regions)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and len(g)
        assert np.abs(g - w).max() < 1e-4
        assert (g * w).sum(axis=1).min() > 1 - 1e-6  # unit vectors: the same direction


def test_onnx_embeddings_are_deterministic(encoders):
    onnx, _ = encoders
    regions = _regions(onnx, 12.0)
    first, again = onnx.embed(regions), onnx.embed(regions)
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a, b)


def test_the_exported_graph_is_cached_by_the_weights_digest():
    from pipeline.speakers import campplus

    path = campplus.trunk_onnx()
    assert path.is_file() and campplus.WEIGHTS_SHA256[:16] in path.name
    assert campplus.trunk_onnx() == path  # found, not exported again
