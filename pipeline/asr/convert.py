"""CTranslate2 Whisper model -> openai-whisper PyTorch checkpoint.

The packaged models are CTranslate2 directories (what faster-whisper eats);
openai-whisper wants a `.pt` with `dims` and `model_state_dict`. Converting
lets both engines run on the very same shipped weights offline, so a
comparison between them measures the engines, not two different downloads.

model.bin is read directly (CTranslate2's Python API does not expose a
model's variables). Its layout, as written by ctranslate2/specs/model_spec.py
and read by src/models/model.cc:

    u32 binary_version, str spec_name, u32 spec_revision, u32 n_variables,
    n x (str name, u8 rank, u32[rank] shape, u8 dtype_id, u32 n_bytes, bytes),
    u32 n_aliases, n x (str alias, str target)        # binary_version >= 3
    str = u16 length (incl. NUL) + bytes + NUL; little-endian throughout.

Mapping facts (checked on the packaged tiny.en and base):
  * self-attention linear_0 is q;k;v stacked, linear_1 the output;
  * cross-attention linear_0 is q, linear_1 is k;v stacked, linear_2 the output;
  * CTranslate2 stores a key bias (zero) that openai-whisper has no slot for.
    Dropping it is exact whatever its value: q.b_k adds the same constant to a
    query's logits over all keys, which softmax cancels;
  * layer norms are gamma/beta; the output projection is an alias of the token
    embedding; scalars (num_heads, activation, pre_norm) are flags, not weights;
  * openai-whisper's encoder keeps its sinusoidal positions as a buffer that
    load_state_dict requires, so it is copied over too;
  * `whisper.load_model(path)` leaves the default alignment heads (all heads
    of the upper half), which blurs word timings, so the checkpoint carries the
    config's `alignment_heads` (in whisper's own encoding) for the loader to set.
  * openai-whisper picks its tokenizer from n_vocab (51864 = English-only).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..atomic import write_text_atomic
from .cache import ModelError, build_lock, file_digest, models_dir, publish_mode

# Bump when the conversion changes, so cached checkpoints are rebuilt.
CONVERTER_VERSION = 1

# dtype ids of include/ctranslate2/types.h (DataType enum order).
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: "bfloat16"}

# CTranslate2's Activation enum; openai-whisper's MLP is exact GELU.
_GELU = 3


@dataclass
class Ct2Model:
    spec: str
    binary_version: int
    variables: dict[str, np.ndarray]  # weights dequantized to float; flags as 0-d arrays
    aliases: dict[str, str]

    def get(self, name: str) -> np.ndarray:
        return self.variables[self.aliases.get(name, name)]

    def scalar(self, name: str) -> int:
        return int(self.get(name).reshape(()))


def _read(f: BinaryIO, fmt: str) -> tuple:
    size = struct.calcsize("<" + fmt)
    data = f.read(size)
    if len(data) != size:
        raise ModelError(f"{getattr(f, 'name', 'model.bin')} is truncated")
    return struct.unpack("<" + fmt, data)


def _read_str(f: BinaryIO) -> str:
    (n,) = _read(f, "H")
    return f.read(n).rstrip(b"\0").decode("utf-8")


def read_ct2_model(model_bin: Path) -> Ct2Model:
    """Parse a CTranslate2 model.bin and dequantize int8/int16 weights with their stored scales."""
    raw = read_ct2_variables(model_bin)
    return Ct2Model(raw.spec, raw.binary_version, _dequantize(raw.variables), raw.aliases)


def read_ct2_variables(model_bin: Path) -> Ct2Model:
    """model.bin's variables exactly as stored (quantized ones still quantized, scales separate)."""
    raw: dict[str, np.ndarray] = {}
    aliases: dict[str, str] = {}
    with open(model_bin, "rb") as f:
        (version,) = _read(f, "I")
        if version < 4 or version > 6:
            raise ModelError(f"{model_bin}: unsupported CTranslate2 binary version {version}")
        spec = _read_str(f)
        _read(f, "I")  # spec revision
        (count,) = _read(f, "I")
        for _ in range(count):
            name = _read_str(f)
            (rank,) = _read(f, "B")
            shape = _read(f, "I" * rank) if rank else ()
            type_id, nbytes = _read(f, "BI")
            data = f.read(nbytes)
            if len(data) != nbytes:
                raise ModelError(f"{model_bin} is truncated (in variable {name})")
            dtype = _DTYPES.get(type_id)
            if dtype is None:
                raise ModelError(f"{model_bin}: unknown dtype id {type_id} for {name}")
            if dtype == "bfloat16":
                arr = (np.frombuffer(data, np.uint16).astype(np.uint32) << 16).view(np.float32)
            else:
                arr = np.frombuffer(data, dtype)
            raw[name] = arr.reshape(shape)
        (n_alias,) = _read(f, "I")
        for _ in range(n_alias):
            alias = _read_str(f)
            aliases[alias] = _read_str(f)
    return Ct2Model(spec, version, raw, aliases)


def _dequantize(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Undo CTranslate2's quantization (model_spec.py: int8 per output row, int16 one scale)."""
    out: dict[str, np.ndarray] = {}
    for name, arr in raw.items():
        if name.endswith("_scale"):
            continue
        scale = raw.get(name + "_scale")
        if scale is not None and arr.dtype in (np.int8, np.int16):
            values = arr.astype(np.float32)
            if arr.dtype == np.int8:  # per row; conv weights were flattened to 2-D for it
                flat = values.reshape(values.shape[0], -1) / scale.astype(np.float32).reshape(-1, 1)
                values = flat.reshape(arr.shape)
            else:
                values = values / np.float32(scale.reshape(()))
            arr = values
        out[name] = arr
    return out


def _split(arr: np.ndarray, parts: int) -> list[np.ndarray]:
    if arr.shape[0] % parts:
        raise ModelError(f"cannot split a fused projection of {arr.shape[0]} rows in {parts}")
    return np.split(arr, parts, axis=0)


def _layer_count(m: Ct2Model, prefix: str) -> int:
    pat = re.compile(rf"^{prefix}/layer_(\d+)/")
    return 1 + max(int(mt.group(1)) for n in m.variables if (mt := pat.match(n)))


def _attention(m: Ct2Model, src: str, dst: str, state: dict[str, np.ndarray], *, cross: bool) -> None:
    if cross:
        state[f"{dst}.query.weight"] = m.get(f"{src}/linear_0/weight")
        state[f"{dst}.query.bias"] = m.get(f"{src}/linear_0/bias")
        k_w, v_w = _split(m.get(f"{src}/linear_1/weight"), 2)
        _, v_b = _split(m.get(f"{src}/linear_1/bias"), 2)
        out = f"{src}/linear_2"
    else:
        q_w, k_w, v_w = _split(m.get(f"{src}/linear_0/weight"), 3)
        q_b, _, v_b = _split(m.get(f"{src}/linear_0/bias"), 3)
        state[f"{dst}.query.weight"], state[f"{dst}.query.bias"] = q_w, q_b
        out = f"{src}/linear_1"
    state[f"{dst}.key.weight"] = k_w  # the key bias is dropped: softmax cancels it
    state[f"{dst}.value.weight"], state[f"{dst}.value.bias"] = v_w, v_b
    state[f"{dst}.out.weight"] = m.get(f"{out}/weight")
    state[f"{dst}.out.bias"] = m.get(f"{out}/bias")
    _norm(m, f"{src}/layer_norm", f"{dst}_ln", state)


def _norm(m: Ct2Model, src: str, dst: str, state: dict[str, np.ndarray]) -> None:
    state[f"{dst}.weight"] = m.get(f"{src}/gamma")
    state[f"{dst}.bias"] = m.get(f"{src}/beta")


def _mlp(m: Ct2Model, src: str, dst: str, state: dict[str, np.ndarray]) -> None:
    state[f"{dst}.mlp.0.weight"] = m.get(f"{src}/ffn/linear_0/weight")
    state[f"{dst}.mlp.0.bias"] = m.get(f"{src}/ffn/linear_0/bias")
    state[f"{dst}.mlp.2.weight"] = m.get(f"{src}/ffn/linear_1/weight")
    state[f"{dst}.mlp.2.bias"] = m.get(f"{src}/ffn/linear_1/bias")
    _norm(m, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln", state)


def encode_alignment_heads(heads: list[list[int]], n_layer: int, n_head: int) -> str:
    """[[layer, head], ...] in the gzip+base85 form `Whisper.set_alignment_heads` takes."""
    mask = np.zeros((n_layer, n_head), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes(), mtime=0)).decode("ascii")


def ct2_to_openai(ct2_dir: Path) -> dict[str, Any]:
    """The openai-whisper checkpoint dict (dims, model_state_dict, alignment_heads) as numpy arrays."""
    ct2_dir = Path(ct2_dir)
    m = read_ct2_model(ct2_dir / "model.bin")
    if m.spec != "WhisperSpec":
        raise ModelError(f"{ct2_dir} holds a {m.spec}, not a Whisper model")
    for flag, want in (("encoder/activation", _GELU), ("decoder/activation", _GELU)):
        if flag in m.variables and m.scalar(flag) != want:
            raise ModelError(f"{ct2_dir}: {flag} is {m.scalar(flag)}, openai-whisper only has GELU")
    if "decoder/pre_norm" in m.variables and not m.scalar("decoder/pre_norm"):
        raise ModelError(f"{ct2_dir}: post-norm decoder; openai-whisper is pre-norm")
    proj = m.aliases.get("decoder/projection/weight")
    if proj is not None and proj != "decoder/embeddings/weight":
        raise ModelError(f"{ct2_dir}: output projection is not tied to the token embedding")
    if proj is None and "decoder/projection/weight" in m.variables:
        if not np.array_equal(m.variables["decoder/projection/weight"], m.get("decoder/embeddings/weight")):
            raise ModelError(f"{ct2_dir}: output projection differs from the token embedding")

    state: dict[str, np.ndarray] = {}
    state["encoder.positional_embedding"] = m.get("encoder/position_encodings/encodings")
    for conv in ("conv1", "conv2"):
        state[f"encoder.{conv}.weight"] = m.get(f"encoder/{conv}/weight")
        state[f"encoder.{conv}.bias"] = m.get(f"encoder/{conv}/bias")
    n_audio_layer = _layer_count(m, "encoder")
    for i in range(n_audio_layer):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        _attention(m, f"{src}/self_attention", f"{dst}.attn", state, cross=False)
        _mlp(m, src, dst, state)
    _norm(m, "encoder/layer_norm", "encoder.ln_post", state)

    state["decoder.token_embedding.weight"] = m.get("decoder/embeddings/weight")
    state["decoder.positional_embedding"] = m.get("decoder/position_encodings/encodings")
    n_text_layer = _layer_count(m, "decoder")
    for i in range(n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        _attention(m, f"{src}/self_attention", f"{dst}.attn", state, cross=False)
        _attention(m, f"{src}/attention", f"{dst}.cross_attn", state, cross=True)
        _mlp(m, src, dst, state)
    _norm(m, "decoder/layer_norm", "decoder.ln", state)

    conv1 = state["encoder.conv1.weight"]
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(state["encoder.positional_embedding"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": m.scalar("encoder/num_heads"),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(state["decoder.token_embedding.weight"].shape[0]),
        "n_text_ctx": int(state["decoder.positional_embedding"].shape[0]),
        "n_text_state": int(state["decoder.token_embedding.weight"].shape[1]),
        "n_text_head": m.scalar("decoder/num_heads"),
        "n_text_layer": n_text_layer,
    }
    config = json.loads((ct2_dir / "config.json").read_text()) if (ct2_dir / "config.json").is_file() else {}
    heads = config.get("alignment_heads")
    checkpoint: dict[str, Any] = {"dims": dims, "model_state_dict": state}
    if heads:
        checkpoint["alignment_heads"] = encode_alignment_heads(heads, n_text_layer, dims["n_text_head"])
    return checkpoint


def convert_ct2_to_openai(ct2_dir: Path, out_path: Path) -> Path:
    """Write the openai-whisper checkpoint of a CTranslate2 Whisper dir atomically; keeps the weights' precision."""
    import torch

    ckpt = ct2_to_openai(ct2_dir)
    ckpt["model_state_dict"] = {k: torch.from_numpy(np.array(v)) for k, v in ckpt["model_state_dict"].items()}
    ckpt["converted_from"] = "ctranslate2"
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    try:
        torch.save(ckpt, tmp)
        publish_mode(Path(tmp))
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_path


def local_cache_name(ct2_dir: Path) -> str:
    """A cache name for a user's model folder that can't collide with another folder of the same name."""
    import hashlib

    real = str(Path(ct2_dir).resolve())
    return f"local-{Path(real).name}-{hashlib.sha256(real.encode()).hexdigest()[:10]}"


def converted_checkpoint(ct2_dir: Path, name: str) -> Path:
    """models/<name>-openai.pt for a CTranslate2 dir, built once and rebuilt if the source or file changes.

    A sidecar JSON records the source model.bin's digest and the checkpoint's
    own, so a damaged checkpoint or an updated source is noticed (cheaply,
    thanks to the digest stamps) and the checkpoint rebuilt.
    """
    target = models_dir() / f"{name}-openai.pt"
    meta_path = target.with_suffix(".pt.json")
    source_digest = file_digest(Path(ct2_dir) / "model.bin")

    def fresh() -> bool:
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            return False
        return (
            meta.get("converter_version") == CONVERTER_VERSION
            and meta.get("source_sha256") == source_digest
            and target.is_file()
            and file_digest(target) == meta.get("sha256")
        )

    if fresh():
        return target
    with build_lock(target.name):
        if fresh():
            return target
        convert_ct2_to_openai(ct2_dir, target)
        meta = {
            "converter_version": CONVERTER_VERSION,
            "source": str(Path(ct2_dir).resolve()),
            "source_sha256": source_digest,
            "sha256": file_digest(target),
        }
        write_text_atomic(meta_path, json.dumps(meta, indent=1), mode=0o644)
    return target
