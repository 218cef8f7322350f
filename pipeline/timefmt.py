"""Time formatting: the one place that turns seconds into text."""

from __future__ import annotations


def _split(t: float) -> tuple[int, int, int, int]:
    ms = max(0, round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return h, m, s, ms


def clock(t: float) -> str:
    """Human output: 00:12:34.5 (tenths are enough to seek a player)."""
    ms = max(0, round(t * 1000))
    tenths = round(ms / 100)
    h, rest = divmod(tenths, 36000)
    m, rest = divmod(rest, 600)
    s, d = divmod(rest, 10)
    return f"{h:02d}:{m:02d}:{s:02d}.{d}"


def srt_time(t: float) -> str:
    h, m, s, ms = _split(t)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def vtt_time(t: float) -> str:
    h, m, s, ms = _split(t)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def parse_time(text: str) -> float:
    """Inverse of the formats above (and plain seconds), for tests and options."""
    text = text.strip().replace(",", ".")
    parts = text.split(":")
    value = 0.0
    for p in parts:
        value = value * 60 + float(p)
    return value
