"""Clips as an editor's timeline: CMX 3600 EDL, Final Cut Pro 7 XML (what Premiere imports), OTIO.

All three are written by OpenTimelineIO (and its cmx_3600 / fcp_xml
adapters) from one Timeline: a video track (and an audio track linked to it)
of the clips end to end from 01:00:00:00, each clip's source range in frames
of its video's own rate, so the source timecodes an editor sees are those of
the file (drop-frame at 29.97 and 59.94). A clip is named "speaker: words"
and references its media by path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from .clips import Clip

FORMATS = ("edl", "xml", "otio")
RECORD_START = "01:00:00:00"


def _reel(path: str) -> str:
    """An EDL reel name: 8 characters of the file name (the full path is in the clip comments)."""
    return (re.sub(r"[^A-Za-z0-9]", "", Path(path).stem).upper() or "AX")[:8]


def is_drop_frame(rate: float) -> bool:
    """29.97 and 59.94 are counted in drop-frame timecode, as NTSC cameras and editors do."""
    return any(abs(rate - r) < 1e-6 for r in (30000 / 1001, 60000 / 1001))


def record_start(rate: float) -> RationalTime:
    """01:00:00:00 (01:00:00;00 in drop-frame: an hour of wall-clock time, not 108000 frames)."""
    return otio.opentime.from_timecode(
        RECORD_START.replace(":00:00:", ":00:00;") if is_drop_frame(rate) else RECORD_START, rate
    )


def build_timeline(clips: Sequence[Clip], name: str) -> otio.schema.Timeline:
    if not clips:
        raise ValueError("no clips for a timeline")
    rate = clips[0].rate
    timeline = otio.schema.Timeline(name=name)
    timeline.global_start_time = record_start(rate)
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    for c in clips:
        for track in (video, audio):
            frames = max(c.out_frame, round(c.media_duration * c.rate))
            ref = otio.schema.ExternalReference(
                target_url=Path(c.path).absolute().as_uri(),
                available_range=TimeRange(RationalTime(0, c.rate), RationalTime(frames, c.rate)),  # FCP XML needs it
            )
            ref.name = Path(c.path).name
            clip = otio.schema.Clip(
                name=c.name,
                media_reference=ref,
                source_range=TimeRange(
                    RationalTime(c.in_frame, c.rate), RationalTime(c.out_frame - c.in_frame, c.rate)
                ),
            )
            clip.metadata["interview_index"] = {
                "video": c.video, "speaker": c.speaker, "words": c.matched, "match": c.match,
                "sentence": c.sentence, "word_start": c.hit_start, "word_end": c.hit_end,
            }  # fmt: skip
            clip.metadata["cmx_3600"] = {"reel": _reel(c.path)}
            track.append(clip)
    timeline.tracks.append(video)
    timeline.tracks.append(audio)
    return timeline


_EVENT = re.compile(r"^(\d{3,}  .{8} )V    ", re.M)
_TIMES = re.compile(r"^(\d{3,}  .*?C\s+)(\S+ \S+) (\S+) (\S+)$", re.M)  # event: source in/out, record in/out


def _edl(timeline: otio.schema.Timeline, clips: Sequence[Clip], rate: float) -> str:
    text = otio.adapters.write_to_string(timeline, adapter_name="cmx_3600", rate=rate, style="avid")
    # The adapter writes an event per track kind, V only; an interview cut needs its sound:
    # B (picture and sound) for a video clip, A for an audio file.
    kinds = iter(["B    " if c.has_video else "A    " for c in clips])
    text = _EVENT.sub(lambda m: m[1] + next(kinds, "V    "), text)
    # It also ignores the timeline's start: record times begin at 01:00:00:00, as editors expect.
    start = record_start(rate)

    def shift(m: re.Match) -> str:
        rec = [otio.opentime.to_timecode(otio.opentime.from_timecode(tc, rate) + start, rate) for tc in m.group(3, 4)]
        return f"{m[1]}{m[2]} {rec[0]} {rec[1]}"

    text = _TIMES.sub(shift, text)
    fcm = "FCM: DROP FRAME" if is_drop_frame(rate) else "FCM: NON-DROP FRAME"
    head, _, rest = text.partition("\n")
    return f"{head}\n{fcm}\n{rest}" if head.startswith("TITLE:") else f"{fcm}\n{text}"


def write_timeline(clips: Sequence[Clip], fmt: str, name: str) -> str:
    """The timeline as text in `fmt` (edl, xml or otio)."""
    timeline = build_timeline(clips, name)
    if fmt == "edl":
        return _edl(timeline, clips, clips[0].rate)
    if fmt == "xml":
        return otio.adapters.write_to_string(timeline, adapter_name="fcp_xml")
    if fmt == "otio":
        return otio.adapters.write_to_string(timeline, adapter_name="otio_json")
    raise ValueError(f"unknown timeline format {fmt!r}; choose one of {', '.join(FORMATS)}")
