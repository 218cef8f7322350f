"""Time formatting: the one place that turns seconds into text."""

from __future__ import annotations

from datetime import timedelta


def clock(t: float) -> str:
    """Human output: 00:12:34.5 (tenths are enough to seek a player)."""
    ms = max(0, round(t * 1000))
    tenths = round(ms / 100)
    h, rest = divmod(tenths, 36000)
    m, rest = divmod(rest, 600)
    s, d = divmod(rest, 10)
    return f"{h:02d}:{m:02d}:{s:02d}.{d}"


def srt_time(t: float) -> str:
    """SubRip's 01:02:03,500, as the `srt` package writes it (rounded to the millisecond)."""
    import srt

    return srt.timedelta_to_srt_timestamp(timedelta(milliseconds=max(0, round(t * 1000))))


def vtt_time(t: float) -> str:
    """WebVTT's 01:02:03.500, as `webvtt-py` writes it (rounded to the millisecond)."""
    from webvtt.models import Timestamp

    return str(Timestamp.from_seconds(max(0.0, float(t))))


def parse_time(text: str) -> float:
    """Inverse of the formats above (and plain seconds), for tests and options."""
    text = text.strip().replace(",", ".")
    parts = text.split(":")
    value = 0.0
    for p in parts:
        value = value * 60 + float(p)
    return value
