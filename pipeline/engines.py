"""Transcription engines behind one small interface.

Two engines run the same Whisper weights: faster-whisper (CTranslate2, int8,
the fast default) and openai-whisper (PyTorch fp32, the reference
implementation, loaded from a checkpoint converted from the same packaged
CTranslate2 model). Both are set up to give the same words for the same
audio, so an archive does not change character with the engine:

* decoding is deterministic: temperature 0 only. The usual fallback to
  sampling at higher temperatures made results differ from run to run and
  made the run time swing; a window that fails the quality checks keeps its
  greedy/beam result instead.
* no conditioning on the previous window's text: it is what lets a
  repetition loop or a hallucination carry on from window to window.
* word timestamps are always on (search hits jump to the word).
* silence is gated out, because Whisper invents text ("Thank you.") in long
  silences: the Silero VAD model shipped inside faster-whisper finds the
  speech, the speech is concatenated, decoded, and word times are mapped
  back to the original timeline. This is what faster-whisper's own
  `vad_filter` does; doing it here, once, feeds both engines the very same
  samples. (openai-whisper's `clip_timestamps` was measured worse: a short
  clip is padded with mel zeros, which are not what silence looks like to
  the model, and it then invents words.) The no-speech and
  compression-ratio checks remain as a second guard.
* the glossary steers every window, not just the first (openai-whisper
  `carry_initial_prompt`, faster-whisper `hotwords`), because with
  conditioning off an initial prompt would only reach the first 30 s.
  Steering every window also pushes the model to write glossary terms for
  words that merely start alike ("Belarusian companies" became "BelAZ
  company" with BelAZ in the glossary) and to echo the list into trailing
  silence, and it lowers accuracy elsewhere (WER 9.6 % -> 18-24 % on the
  bench interview). So the audio is decoded twice, plainly and steered, and
  the plain transcript is kept except where the steered one puts a glossary
  term in place of words that are no glossary term (see `merge_glossary`):
  "with mining" -> "Vist Mining", "nineskill Corvo" -> "join Skolkovo", but
  never "Belarusian" -> "BelAZ". It costs a second decoding.

Load an engine once and reuse it for every file: loading costs seconds.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import warnings
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

import numpy as np

from .models import ResolvedModel, resolve_model
from .transcript import Segment, Word

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
DEFAULT_ENGINE = "faster-whisper"
DEFAULT_MODEL = "base"

Progress = Callable[[float], None]


@dataclass
class TranscribeOptions:
    language: str | None = None  # None = auto-detect (English-only models always give "en")
    beam_size: int = 5  # 1 = greedy
    glossary: list[str] = field(default_factory=list)  # names and terms to steer the recognizer
    vad_filter: bool = True  # gate out silence before decoding (hallucination guard)
    # How the glossary steers decoding. True: every window (faster-whisper `hotwords`,
    # openai-whisper `carry_initial_prompt`), decoded a second time without it and
    # merged (merge_glossary): twice the decoding time. False: one decoding;
    # faster-whisper puts it in `initial_prompt` (first 30-s window only),
    # openai-whisper carries the prompt into every window.
    glossary_as_hotwords: bool = True
    no_speech_threshold: float | None = 0.6  # a window this likely silent ...
    log_prob_threshold: float | None = -1.0  # ... and decoded this unsure is dropped
    compression_ratio_threshold: float | None = 2.4  # a segment this repetitive is dropped
    # openai-whisper/faster-whisper: skip silences longer than this around a suspect segment.
    hallucination_silence_threshold: float | None = None
    vad_min_silence_ms: int = 2000  # a pause must last this long to split speech regions
    vad_speech_pad_ms: int = 400  # speech regions are widened by this on each side


@dataclass
class TranscriptionResult:
    segments: list[Segment]  # Word.start/end in seconds of the audio passed in
    language: str


class Engine(Protocol):
    name: str  # "faster-whisper" | "openai-whisper"
    model_name: str  # "base", "tiny.en", or a path

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, progress: Progress | None = None
    ) -> TranscriptionResult: ...


# -- shared helpers --------------------------------------------------------------


def default_threads() -> int:
    """CPU cores this process may use (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def glossary_prompt(glossary: Iterable[str]) -> str | None:
    """The glossary as prompt text: Whisper reads a prompt as preceding transcript."""
    terms = [t.strip() for t in glossary if t and t.strip()]
    return ", ".join(terms) + "." if terms else None


# -- glossary: echoes and the verified steered pass ------------------------------

# A steered block replaces at most this many words, and with at most this many:
# longer disagreements are the two decodings going different ways, not a name.
MAX_GLOSSARY_BLOCK = 4


def _word_key(word: str) -> str:
    from index.normalize import tokens

    return "".join(tokens(word))


def _glossary_marks(words: list[str], glossary: Iterable[str]) -> list[bool]:
    """For each word, whether it is part of a glossary term as written (case folded).

    A multi-word term counts where its words follow each other ("Vist Mining")
    or are written together ("VistMining").
    """
    from index.normalize import tokens

    keys = [_word_key(w) for w in words]
    marks = [False] * len(words)
    for term in glossary:
        toks = tokens(term)
        if not toks:
            continue
        compact, n = "".join(toks), len(toks)
        for i in range(len(keys)):
            if keys[i] == compact:
                marks[i] = True
            elif n > 1 and keys[i : i + n] == toks:
                marks[i : i + n] = [True] * n
    return marks


def drop_glossary_echoes(segments: list[Segment], glossary: Iterable[str]) -> list[Segment]:
    """Drop the glossary read back as text: a run of two or more glossary terms
    with nothing but list punctuation between them that is a whole segment or
    ends one ("... on our channel. Belarusian, BelAZ, Minsk,").

    A prompt is read by Whisper as preceding transcript; in a quiet stretch the
    model may continue it. Speech lists names with "and" and other words
    between them, so a bare list of two terms or more is taken for an echo.
    """
    glossary = [t for t in glossary if t and t.strip()]
    if not glossary:
        return segments
    out = []
    for seg in segments:
        words = seg.words
        marks = _glossary_marks([w.word for w in words], glossary)
        cut = len(words)
        while cut > 0 and marks[cut - 1]:
            cut -= 1
        if len(words) - cut >= 2 and (cut == 0 or words[cut - 1].word.rstrip()[-1:] in ".?!"):
            log.warning(
                "dropped a glossary echo at %.1f s: %r", words[cut].start, " ".join(w.word for w in words[cut:])
            )
            if cut == 0:
                continue
            kept = words[:cut]
            seg = Segment(start=seg.start, end=kept[-1].end, text=" ".join(w.word for w in kept), words=kept,
                          speaker=seg.speaker)  # fmt: skip
        out.append(seg)
    return out


def merge_glossary(plain: list[Segment], steered: list[Segment], glossary: Iterable[str]) -> list[Segment]:
    """The plain decoding, with the steered one's glossary terms where it had other words.

    The two word sequences are aligned (difflib, on folded words). Where they
    differ, the steered words are taken when they contain a glossary term and
    the plain words do not: the model wrote the name once told about it
    ("with" -> "Vist", "melee metal and" -> "BelAZ on a"). Not taken: a block
    where the plain decoding heard a glossary term itself (steering turned
    "Belarusian" into "BelAZ"), words the plain decoding did not have at all
    (an echo of the list in silence), and blocks longer than
    MAX_GLOSSARY_BLOCK words. Everything else stays as the plain decoding
    heard it, so steering cannot cost accuracy away from the names.
    """
    import difflib

    glossary = [t for t in glossary if t and t.strip()]
    pw = [w for s in plain for w in s.words]
    sw = [w for s in steered for w in s.words]
    if not glossary or not pw or not sw:
        return plain
    p_marks = _glossary_marks([w.word for w in pw], glossary)
    s_marks = _glossary_marks([w.word for w in sw], glossary)
    matcher = difflib.SequenceMatcher(a=[_word_key(w.word) for w in pw], b=[_word_key(w.word) for w in sw],
                                      autojunk=False)  # fmt: skip
    take: dict[int, tuple[int, list[Word]]] = {}  # first plain word -> (end, steered words instead)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "replace" or max(i2 - i1, j2 - j1) > MAX_GLOSSARY_BLOCK:
            continue
        if any(s_marks[j1:j2]) and not any(p_marks[i1:i2]):
            take[i1] = (i2, sw[j1:j2])
    if not take:
        return plain
    owner = [k for k, seg in enumerate(plain) for _ in seg.words]  # plain word -> its segment
    merged: list[list[Word]] = [[] for _ in plain]
    changed: set[int] = set()
    i = 0
    while i < len(pw):
        if i in take:  # a block running into the next segment stays in the one it starts in
            end, new = take[i]
            merged[owner[i]].extend(new)
            changed.update(owner[i:end])
            i = end
        else:
            merged[owner[i]].append(pw[i])
            i += 1
    out: list[Segment] = []
    for k, seg in enumerate(plain):
        words = merged[k]
        if k not in changed:
            out.append(seg)
        elif words:
            out.append(Segment(start=words[0].start, end=words[-1].end,
                               text=" ".join(w.word for w in words), words=words, speaker=seg.speaker))  # fmt: skip
    return out


def compression_ratio(text: str) -> float:
    """Whisper's repetition measure: how well the text gzips."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


class Gate:
    """Speech cut out of the audio, with the map back to the original timeline."""

    def __init__(self, audio: np.ndarray, options: TranscribeOptions) -> None:
        self.duration = audio.size / SAMPLE_RATE
        self.map = None
        self.regions = [(0.0, self.duration)]
        if not options.vad_filter:
            self.audio = audio
            return
        from faster_whisper.vad import SpeechTimestampsMap, VadOptions, get_speech_timestamps

        vad = VadOptions(min_silence_duration_ms=options.vad_min_silence_ms, speech_pad_ms=options.vad_speech_pad_ms)
        chunks = get_speech_timestamps(audio, vad, sampling_rate=SAMPLE_RATE)
        self.regions = [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in chunks]
        if chunks:
            self.audio = np.concatenate([audio[c["start"] : c["end"]] for c in chunks])
            self.map = SpeechTimestampsMap(chunks, SAMPLE_RATE)
        else:
            self.audio = np.zeros(0, np.float32)

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
            if self.map is not None:  # both ends in the chunk of the word's middle, as faster-whisper does
                chunk = self.map.get_chunk_index((ws + we) / 2)
                ws, we = self.map.get_original_time(ws, chunk), self.map.get_original_time(we, chunk)
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

    def _clamp(self, t: float) -> float:
        return float(min(max(t, 0.0), self.duration))


def _as_audio(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio (1-D), got shape {audio.shape}")
    # load_audio's buffer is read-only; torch warns about (and may write to) such arrays.
    return audio if audio.flags.writeable else audio.copy()


def _guard(segments: list[Segment], options: TranscribeOptions) -> list[Segment]:
    """Drop repetition loops that temperature-0 decoding can no longer retry away."""
    limit = options.compression_ratio_threshold
    if limit is None:
        return segments
    kept = []
    for seg in segments:
        if compression_ratio(seg.text) > limit:
            log.warning("dropped a repetitive segment at %.1f s: %.60r", seg.start, seg.text)
            continue
        kept.append(seg)
    return kept


# -- the flow both engines share ----------------------------------------------------


class _WhisperEngine:
    """Gate, decode (once, or plain and steered by the glossary), merge, guard.

    Subclasses only say how to decode gated audio: `_decode(gate, options,
    prompt, steer_every_window, progress, p0, p1)`.
    """

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, progress: Progress | None = None
    ) -> TranscriptionResult:
        gate = Gate(_as_audio(audio), options)
        if progress:
            progress(0.0)
        if gate.audio.size == 0:
            if progress:
                progress(1.0)
            return TranscriptionResult([], options.language or "en")
        prompt = glossary_prompt(options.glossary)
        if prompt is None or not options.glossary_as_hotwords:  # one decoding
            segments, language = self._decode(gate, options, prompt, False, progress, 0.0, 1.0)
        else:  # plain and steered on every window, merged (see the module docstring)
            plain, language = self._decode(gate, options, None, False, progress, 0.0, 0.5)
            steered, _ = self._decode(gate, options, prompt, True, progress, 0.5, 1.0)
            segments = merge_glossary(plain, drop_glossary_echoes(steered, options.glossary), options.glossary)
        if progress:
            progress(1.0)
        return TranscriptionResult(_guard(drop_glossary_echoes(segments, options.glossary), options), language)

    def _decode(
        self, gate: Gate, options: TranscribeOptions, prompt: str | None, steer_every_window: bool,
        progress: Progress | None, p0: float, p1: float,
    ) -> tuple[list[Segment], str]:  # fmt: skip
        raise NotImplementedError


# -- faster-whisper ----------------------------------------------------------------


class FasterWhisperEngine(_WhisperEngine):
    """CTranslate2 Whisper; int8 on CPU is ~4x faster than fp32 PyTorch at equal accuracy."""

    name = "faster-whisper"

    def __init__(
        self, resolved: ResolvedModel, device: str = "cpu", compute_type: str = "int8", cpu_threads: int = 0
    ) -> None:
        from faster_whisper import WhisperModel

        self.resolved = resolved
        self.model_name = resolved.name
        self.compute_type = compute_type
        self.model = WhisperModel(
            str(resolved.path) if resolved.path else resolved.name,
            device=device,
            compute_type=compute_type,
            cpu_threads=cpu_threads or default_threads(),
        )

    def _decode(
        self, gate: Gate, options: TranscribeOptions, prompt: str | None, hot: bool,
        progress: Progress | None, p0: float, p1: float,
    ) -> tuple[list[Segment], str]:  # fmt: skip
        segments, info = self.model.transcribe(
            gate.audio,
            language=options.language,
            beam_size=max(1, options.beam_size),
            best_of=1,
            temperature=0.0,
            condition_on_previous_text=False,
            initial_prompt=None if hot else prompt,
            hotwords=prompt if hot else None,
            word_timestamps=True,
            without_timestamps=False,
            vad_filter=False,  # done by Gate, identically for both engines
            no_speech_threshold=options.no_speech_threshold,
            log_prob_threshold=options.log_prob_threshold,
            compression_ratio_threshold=options.compression_ratio_threshold,
            hallucination_silence_threshold=options.hallucination_silence_threshold,
        )
        speech_s = gate.audio.size / SAMPLE_RATE
        out: list[Segment] = []
        for s in segments:  # a generator: decoding happens as we iterate
            seg = gate.segment(s.text, s.start, s.end, s.words or [])
            if seg is not None:
                out.append(seg)
            if progress:
                progress(p0 + (p1 - p0) * min(1.0, s.end / speech_s))
        return out, info.language


# -- openai-whisper ------------------------------------------------------------------

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


class OpenAIWhisperEngine(_WhisperEngine):
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
    ) -> tuple[list[Segment], str]:  # fmt: skip
        import whisper

        module = importlib.import_module("whisper.transcribe")
        scaled = (lambda f: progress(p0 + (p1 - p0) * f)) if progress else None
        with _TQDM_LOCK:
            saved = module.tqdm
            module.tqdm = _tqdm_callback(gate.audio.size // whisper.audio.HOP_LENGTH, scaled)
            try:
                result = whisper.transcribe(
                    self.model,
                    gate.audio,
                    verbose=None,
                    language=options.language,
                    temperature=0.0,
                    beam_size=options.beam_size if options.beam_size > 1 else None,
                    fp16=False,
                    condition_on_previous_text=False,
                    initial_prompt=prompt,
                    carry_initial_prompt=prompt is not None,
                    word_timestamps=True,
                    no_speech_threshold=options.no_speech_threshold,
                    logprob_threshold=options.log_prob_threshold,
                    compression_ratio_threshold=options.compression_ratio_threshold,
                    hallucination_silence_threshold=options.hallucination_silence_threshold,
                )
            finally:
                module.tqdm = saved
        out = []
        for s in result["segments"]:
            seg = gate.segment(s["text"], s["start"], s["end"], s.get("words", []))
            if seg is not None:
                out.append(seg)
        return out, result["language"]


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


# -- factory -------------------------------------------------------------------------


def load_engine(
    engine: str = DEFAULT_ENGINE,
    model: str = DEFAULT_MODEL,
    device: str = "cpu",
    compute_type: str = "int8",
    cpu_threads: int = 0,
) -> Engine:
    """Resolve and verify the model, then load it once; reuse the engine for every file.

    compute_type: faster-whisper takes any CTranslate2 type; openai-whisper
    "int8" (Linear layers quantized, CPU) or "float32".
    cpu_threads 0 means all cores this process may use.
    """
    resolved = resolve_model(engine, model)
    if engine == "faster-whisper":
        return FasterWhisperEngine(resolved, device=device, compute_type=compute_type, cpu_threads=cpu_threads)
    return OpenAIWhisperEngine(resolved, device=device, compute_type=compute_type, cpu_threads=cpu_threads)
