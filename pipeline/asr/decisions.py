"""The no-speech decision on each 30-s decoding window, watched so a dropped window is on record.

Both Whisper implementations skip a window whose decoding looks like
silence: no-speech probability above `no_speech_threshold` and average log
probability below `log_prob_threshold`. The skip happens inside their
decoding loop and leaves no trace, so a window of real speech decoded
badly would vanish unseen. `WindowLog` sees every window's final decoding
(the engines call it from a wrapper around their per-window decode) and
`skipped_spans` places the skipped ones between the segments that were kept,
to be recorded in `Transcript.dropped` with the text the model wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from media.audio import SAMPLE_RATE

from ..options import TranscribeOptions
from ..transcript import Dropped
from .gate import Gate

NO_SPEECH = "no speech"
REPETITIVE = "repetitive"
BELOW_GATE = "below the speech gate"  # heard faintly, left out by the gate, never decoded (Gate.left_out)


@dataclass
class Window:
    """One decoding window's final decoding (after any fallback)."""

    no_speech_prob: float
    avg_logprob: float
    temperature: float
    text: str
    skipped: bool


def looks_silent(no_speech_prob: float, avg_logprob: float, options: TranscribeOptions) -> bool:
    """The engines' own skip rule, written once so the record matches what they did."""
    if options.no_speech_threshold is None or no_speech_prob <= options.no_speech_threshold:
        return False
    return options.log_prob_threshold is None or avg_logprob <= options.log_prob_threshold


@dataclass
class WindowLog:
    options: TranscribeOptions
    windows: list[Window] = field(default_factory=list)

    def add(self, no_speech_prob: float, avg_logprob: float, temperature: float, text: str) -> Window:
        skipped = looks_silent(no_speech_prob, avg_logprob, self.options)
        w = Window(float(no_speech_prob), float(avg_logprob), float(temperature), text.strip(), skipped)
        self.windows.append(w)
        return w

    def attempt(self, first: bool, no_speech_prob: float, avg_logprob: float, temperature: float, text: str) -> None:
        """One decoding attempt; an attempt that is not a window's first replaces the one before."""
        if not first and self.windows:
            self.windows.pop()
        self.add(no_speech_prob, avg_logprob, temperature, text)


def skipped_text(windows: list[Window]) -> str:
    """What the model wrote for the skipped windows among `windows`."""
    return " ".join(w.text for w in windows if w.skipped and w.text).strip()


def skipped_windows(windows: list[Window], kept: list[tuple[float, float]], gate: Gate) -> list[Dropped]:
    """The skipped windows as `Dropped`, each placed between the kept windows around it.

    `kept` is (start, end of the last segment) of each window that yielded
    segments, in gated seconds and in order; the windows that were not
    skipped yield them in that order.
    """
    out: list[Dropped] = []
    k, last_end, speech_s = 0, 0.0, gate.audio.size / SAMPLE_RATE
    for w in windows:
        if not w.skipped:
            if k < len(kept):
                last_end = kept[k][1]
                k += 1
            continue
        next_start = kept[k][0] if k < len(kept) else speech_s
        out.append(Dropped(*gate.span(last_end, max(last_end, next_start)), NO_SPEECH, w.text))
    return out


def pick_language(per_window: list[list[tuple[str, float]]], sure: float = 0.5) -> str:
    """faster-whisper's rule: the first window sure of its language (p > `sure`) decides,
    else the language that most windows put first. Each window's list is best first."""
    votes: dict[str, int] = {}
    for probs in per_window:
        lang, p = probs[0]
        if p > sure:
            return lang
        votes[lang] = votes.get(lang, 0) + 1
    return max(votes, key=lambda lang: votes[lang]) if votes else "en"
