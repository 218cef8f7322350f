"""openai-whisper (PyTorch): the reference implementation, on the same weights."""

from __future__ import annotations

import importlib
import itertools
import logging
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..options import TranscribeOptions
from ..transcript import Dropped, Segment
from .base import Progress, WhisperEngine
from .decisions import WindowLog, pick_language, skipped_windows
from .gate import Gate
from .seeded import torch_seeded
from .weights import ResolvedModel

log = logging.getLogger(__name__)

# whisper.transcribe reports progress only through a tqdm bar; it is swapped for
# a callback while a transcription runs, one at a time.
_TQDM_LOCK = threading.Lock()


def _tqdm_callback(total_frames: int, progress: Progress | None):
    class _Bar:
        def __init__(self, *args: Any, total: int | None = None, **kwargs: Any) -> None:
            self.done = 0

        def __enter__(self) -> _Bar:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def update(self, n: int) -> None:
            self.done += n
            if progress and total_frames > 0:
                progress(min(1.0, self.done / total_frames))

    return SimpleNamespace(tqdm=_Bar)


OPENAI_COMPUTE_TYPES = ("int8", "float32")


class OpenAIWhisperEngine(WhisperEngine):
    """The reference implementation in PyTorch on CPU.

    compute_type "int8" (the default, like faster-whisper's) runs every Linear
    projection with int8 weights (torch dynamic quantization, one scale per
    output row as CTranslate2 does; activations quantized on the fly);
    convolutions, layer norms, embeddings, the vocabulary projection and the
    attention itself (so the cross-attention weights that word timestamps are
    aligned with) stay float32. "float32" runs the checkpoint as is (fp16 is
    GPU-only in PyTorch). int8 is CPU-only; on another device float32 is used.
    """

    name = "openai-whisper"

    def __init__(
        self, resolved: ResolvedModel, device: str = "cpu", compute_type: str = "int8", cpu_threads: int = 0
    ) -> None:
        import torch
        import whisper

        if compute_type not in OPENAI_COMPUTE_TYPES:
            raise ValueError(f"openai-whisper compute_type must be one of {OPENAI_COMPUTE_TYPES}, got {compute_type!r}")
        if compute_type == "int8" and device != "cpu":
            log.warning("openai-whisper int8 runs on CPU only; using float32 on %s", device)
            compute_type = "float32"
        self.resolved = resolved
        self.model_name = resolved.name
        self.device = device
        self.compute_type = compute_type
        if cpu_threads:
            torch.set_num_threads(cpu_threads)
        if resolved.path is None:
            self.model = whisper.load_model(resolved.name, device=device)  # downloads; sets its heads
        else:
            self.model = load_openai_checkpoint(resolved.path, device)
        self.model.float().eval()
        if compute_type == "int8":
            quantize_linears_int8(self.model)

    def _decode(
        self, gate: Gate, options: TranscribeOptions, prompt: str | None, steer_every_window: bool,
        progress: Progress | None, p0: float, p1: float,
    ) -> tuple[list[Segment], str, list[Dropped]]:  # fmt: skip
        import whisper

        module = importlib.import_module("whisper.transcribe")
        scaled = (lambda f: progress(p0 + (p1 - p0) * f)) if progress else None
        windows = WindowLog(options)
        native = self.model.decode

        def watched(mel: Any, opts: Any) -> Any:  # every attempt; the last one of a window is its decoding
            result = native(mel, opts)
            windows.attempt(opts.temperature == options.temperatures[0], result.no_speech_prob,
                            result.avg_logprob, opts.temperature, result.text)  # fmt: skip
            return result

        with _TQDM_LOCK:
            saved = module.tqdm
            module.tqdm = _tqdm_callback(gate.audio.size // whisper.audio.HOP_LENGTH, scaled)
            self.model.decode = watched  # this instance only, for this pass
            try:
                with torch_seeded(options.seed):
                    result = whisper.transcribe(
                        self.model,
                        gate.audio,
                        verbose=None,
                        language=options.language or self._detect_language(gate.audio, options),
                        temperature=options.temperatures,
                        best_of=options.best_of,
                        beam_size=options.beam_size if options.beam_size > 1 else None,
                        fp16=False,
                        condition_on_previous_text=options.condition_on_previous_text,
                        initial_prompt=prompt,
                        carry_initial_prompt=prompt is not None,
                        word_timestamps=True,
                        no_speech_threshold=options.no_speech_threshold,
                        logprob_threshold=options.log_prob_threshold,
                        compression_ratio_threshold=options.compression_ratio_threshold,
                        hallucination_silence_threshold=options.hallucination_silence_threshold,
                    )
            finally:
                del self.model.decode
                module.tqdm = saved
        out = []
        for s in result["segments"]:
            seg = gate.segment(s["text"], s["start"], s["end"], s.get("words", []))
            if seg is not None:
                out.append(seg)
        frame_s = whisper.audio.HOP_LENGTH / whisper.audio.SAMPLE_RATE
        kept = [(seek * frame_s, list(group)[-1]["end"])
                for seek, group in itertools.groupby(result["segments"], key=lambda s: s["seek"])]  # fmt: skip
        return out, result["language"], skipped_windows(windows.windows, kept, gate)

    def _detect_language(self, audio: Any, options: TranscribeOptions) -> str:
        """As faster-whisper does: up to N windows, the first sure one decides, else the most named."""
        import whisper

        if not self.model.is_multilingual:
            return "en"
        n = whisper.audio.N_SAMPLES
        per_window = []
        for k in range(max(1, options.language_detection_segments)):
            piece = audio[k * n : (k + 1) * n]
            if k and piece.size < whisper.audio.SAMPLE_RATE:
                break
            mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(piece), self.model.dims.n_mels)
            _, probs = self.model.detect_language(mel)
            per_window.append(sorted(probs.items(), key=lambda kv: -kv[1]))
        return pick_language(per_window)


def quantize_linears_int8(model: Any) -> Any:
    """Swap every nn.Linear in `model` (in place) for a dynamically quantized int8 one.

    torch's quantize_dynamic maps exact types only and whisper.model.Linear is
    a subclass (it casts its weight in forward), so the swap is done here. The
    modules stay where they were: whisper's kv-cache hooks and the cross-
    attention hooks of word alignment find them under the same names. Weights
    get one symmetric scale per output row.
    """
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as QLinear
    from torch.ao.quantization import per_channel_dynamic_qconfig

    with warnings.catch_warnings():  # torch 2.13 flags quantized tensors as deprecated; they still work
        warnings.simplefilter("ignore", UserWarning)
        for parent in list(model.modules()):
            for child_name, child in list(parent.named_children()):
                if isinstance(child, torch.nn.Linear):
                    plain = torch.nn.Linear(child.in_features, child.out_features, bias=child.bias is not None)
                    plain.weight = child.weight
                    plain.bias = child.bias
                    plain.qconfig = per_channel_dynamic_qconfig
                    setattr(parent, child_name, QLinear.from_float(plain))
    return model


def load_openai_checkpoint(path: Path, device: str = "cpu"):
    """Load a .pt like `whisper.load_model(path)` does, then set its word-alignment heads.

    whisper.load_model leaves the default heads for a path; converted
    checkpoints carry the model's real ones, and official checkpoints are
    recognised by file name.
    """
    import torch
    import whisper
    from whisper.model import ModelDimensions, Whisper

    ckpt = torch.load(path, map_location=device, weights_only=True)
    model = Whisper(ModelDimensions(**ckpt["dims"]))
    model.load_state_dict(ckpt["model_state_dict"])
    heads = ckpt.get("alignment_heads") or whisper._ALIGNMENT_HEADS.get(Path(path).stem)
    if heads:
        model.set_alignment_heads(heads.encode() if isinstance(heads, str) else heads)
    else:
        log.warning("%s has no alignment heads; word timings may be less accurate", path)
    return model.to(device)
