"""A recognizer that hears the fixtures' true words, for the fast test tier.

Loading and running Whisper costs seconds to minutes per test; tests of the
CLI, batches, search and export need words at the right times, not a real
recognizer. `FakeEngine` recognises which fixture a window of audio holds by
matching its loudness envelope against each fixture's (decoded with the real
ffmpeg, once per process) and emits that fixture's true words at the place
they were found. So everything around the recognizer stays real: probing,
decoding, the audio timeline (a late audio track shifts the words), windows
of long files, diarization, the index. Audio that matches no fixture
(silence, a tone) gives no words, as the real gate does.

Words as the truth files spell them, punctuation from the turn text; a
word's end is the next word's start (or the turn's end, or a pause's
start). `mishear` replaces words the way Whisper misspells them, unless the
glossary names the word (the steered decoding would write it right).

In process: the `fake_engine` pytest fixture (conftest). In a subprocess:
`python tests/fake_engine.py ingest ...` runs the CLI with this engine;
INTERVIEW_INDEX_FAKE_DELAY_S makes each window take that long, so a test can
interrupt a file while it is being transcribed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DELAY_ENV = "INTERVIEW_INDEX_FAKE_DELAY_S"
SAMPLE_RATE = 16000
FRAME = 160  # 10 ms frames for the envelope
MIN_CORRELATION = 0.9
MIN_OVERLAP_S = 2.0


@dataclass
class _Reference:
    name: str
    envelope: np.ndarray  # log-energy per 10 ms frame, on the playback timeline
    words: list[dict]  # {"word", "start", "end", "turn"} in seconds of the reference's playback time


_references: list[_Reference] | None = None


def _envelope(audio: np.ndarray) -> np.ndarray:
    n = audio.size // FRAME
    if n == 0:
        return np.zeros(0)
    frames = audio[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    return np.log10(np.mean(frames**2, axis=1) + 1e-8)


def _truth_words(truth: dict) -> list[dict]:
    """True words with punctuation from the turn text and ends from the next start."""
    offset = truth.get("audio_offset", 0.0)
    pauses = [tuple(p) for p in truth.get("pauses", [])]
    out: list[dict] = []
    for turn in truth["turns"]:
        words = [w for w in truth["words"] if w["turn"] == turn["index"]]
        tokens = turn["text"].split()
        if len(tokens) != len(words):
            tokens = [w["word"] for w in words]
        for i, (w, token) in enumerate(zip(words, tokens, strict=True)):
            end = words[i + 1]["start"] if i + 1 < len(words) else turn["end"]
            for a, _ in pauses:
                if w["start"] < a < end:
                    end = a
            out.append({"word": token, "start": w["start"] + offset, "end": end + offset, "turn": turn["index"]})
    return out


def references() -> list[_Reference]:
    """Every fixture with a truth file, decoded by the real ffmpeg (once per process)."""
    global _references
    if _references is None:
        from media.audio import load_audio

        refs = []
        for path in sorted(FIXTURES.glob("*.truth.json")):
            truth = json.loads(path.read_text())
            media = ROOT / truth["media"]
            if not media.is_file():
                continue
            # Each CLI process of a batch test would decode every fixture again: keep the envelopes.
            st = media.stat()
            key = hashlib.sha256(f"{media}:{st.st_size}:{st.st_mtime_ns}:{FRAME}".encode()).hexdigest()[:16]
            cached = Path(tempfile.gettempdir()) / f"interview-index-fake-{key}.npy"
            try:
                env = np.load(cached)
            except (OSError, ValueError):
                env = _envelope(load_audio(media))
                tmp = cached.with_suffix(f".{os.getpid()}.npy")
                np.save(tmp, env)
                os.replace(tmp, cached)
            refs.append(_Reference(truth["name"], env, _truth_words(truth)))
        _references = refs
    return _references


def _correlations(w: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pearson correlation of w and f over their overlap, for every lag k
    (f's frame j lies at w's frame j + k); returns (lags, r, overlap frames)."""
    n, m = w.size, f.size
    lags = np.arange(-(m - 1), n)
    sxy = np.correlate(w, f, mode="full")  # index t <-> lag t - (m - 1)
    cw, cw2 = np.concatenate([[0], np.cumsum(w)]), np.concatenate([[0], np.cumsum(w * w)])
    cf, cf2 = np.concatenate([[0], np.cumsum(f)]), np.concatenate([[0], np.cumsum(f * f)])
    i0, i1 = np.maximum(0, lags), np.minimum(n, m + lags)
    j0, j1 = i0 - lags, i1 - lags
    count = (i1 - i0).astype(np.float64)
    sx, sxx = cw[i1] - cw[i0], cw2[i1] - cw2[i0]
    sy, syy = cf[j1] - cf[j0], cf2[j1] - cf2[j0]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (count * sxy - sx * sy) / np.sqrt((count * sxx - sx * sx) * (count * syy - sy * sy))
    return lags, np.nan_to_num(r), count


def locate(audio: np.ndarray) -> list[tuple[_Reference, float]]:
    """(fixture, its time 0 in seconds of `audio`) for each fixture heard in it, not overlapping."""
    w = _envelope(np.asarray(audio, dtype=np.float32))
    if w.size == 0 or np.ptp(w) < 1.0:  # silence or a constant tone
        return []
    found = []
    for ref in references():
        lags, r, count = _correlations(w, ref.envelope)
        need = min(MIN_OVERLAP_S * 100, 0.8 * min(w.size, ref.envelope.size))
        ok = (count >= need) & (r >= MIN_CORRELATION)
        for k in np.flatnonzero(ok):
            lo, hi = max(0, k - 50), min(r.size, k + 51)
            if r[k] == r[lo:hi][ok[lo:hi]].max():  # the best lag within half a second
                found.append((float(r[k]), ref, int(lags[k])))
    chosen: list[tuple[_Reference, int]] = []
    for _, ref, lag in sorted(found, key=lambda x: -x[0]):
        span = (lag, lag + ref.envelope.size)
        if all(span[1] <= lg or span[0] >= lg + rf.envelope.size for rf, lg in chosen):
            chosen.append((ref, lag))
    return [(ref, lag * FRAME / SAMPLE_RATE) for ref, lag in sorted(chosen, key=lambda x: x[1])]


@dataclass
class FakeEngine:
    """Stands in for the engine the options asked for (name and model are reported as asked)."""

    name: str = "faster-whisper"
    model_name: str = "base"
    mishear: dict[str, str] = field(default_factory=dict)
    delay_s: float = field(default_factory=lambda: float(os.environ.get(DELAY_ENV, "0")))
    fault: type[BaseException] | None = None  # raised by transcribe, e.g. KeyboardInterrupt for a Ctrl-C there
    calls: int = 0

    def transcribe(self, audio, options, progress=None):
        from pipeline.asr import TranscriptionResult
        from pipeline.transcript import Segment, Word

        self.calls += 1
        if progress:
            progress(0.0)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fault is not None:
            raise self.fault()
        length = np.asarray(audio).size / SAMPLE_RATE
        glossary = {t.casefold() for t in options.glossary}
        segments = []
        for ref, at in locate(audio):
            turns: dict[int, list[Word]] = {}
            for w in ref.words:
                start, end = round(w["start"] + at, 3), round(min(w["end"] + at, length), 3)
                if 0 <= start < length:
                    turns.setdefault(w["turn"], []).append(Word(self._heard(w["word"], glossary), start, end, 0.9))
            for words in turns.values():  # one segment per turn, as Whisper mostly gives
                segments.append(Segment(words[0].start, words[-1].end, " ".join(x.word for x in words), words))
        if progress:
            progress(1.0)
        return TranscriptionResult(segments, options.language or "en")

    def _heard(self, token: str, glossary: set[str]) -> str:
        core = token.strip(".,?!;:")
        wrong = self.mishear.get(core)
        if wrong is None or core.casefold() in glossary:
            return token
        return token.replace(core, wrong)


def install(monkeypatch=None, **kwargs) -> list[FakeEngine]:
    """Make `pipeline.asr.load_engine` (what Ingestor calls) return FakeEngines; returns those made."""
    import pipeline.asr

    made: list[FakeEngine] = []

    def load_engine(engine=None, model=None, *, options=None, **overrides):
        from pipeline.options import EngineOptions

        opts = options or EngineOptions()
        fake = FakeEngine(name=engine or opts.engine, model_name=model or opts.model, **kwargs)
        made.append(fake)
        return fake

    if monkeypatch is not None:
        monkeypatch.setattr(pipeline.asr, "load_engine", load_engine)
    else:
        pipeline.asr.load_engine = load_engine
    return made


if __name__ == "__main__":  # the CLI with this engine, for tests that need a real process
    import sys

    sys.path.insert(0, str(ROOT))
    install()
    from pipeline.cli import main

    main()
