"""Cutting, joining and subtitling footage: every ffmpeg call that makes clips and reels.

Cuts are re-encoded, never stream-copied: a copy can only start at a keyframe
(seconds away in interview footage), so its first words would be off by that
much. Each cut seeks on the input (`-ss` before `-i`, accurate seek: decoding
starts at the keyframe before and frames before the in point are dropped),
and every clip is normalised to one picture size, frame rate and audio layout
before the `concat` filter, so a reel of many videos is one valid stream.

The audio goes through `aresample=async=1:first_pts=0` as the transcription
audio does: a track that starts late or has gaps is padded, so sound stays on
the picture's timeline; `apad` + `atrim` make every clip's audio exactly its
video's length, so A/V never drifts across the clips of a reel.

A reel is one ffmpeg process (one input per clip, seeked): cheaper than a
process per clip and no intermediate generation loss. Reels longer than
`CHUNK` clips are rendered in chunks to lossless-audio Matroska parts and
joined with the concat demuxer (video copied), so the number of open inputs
stays bounded whatever `--limit` is.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .binaries import ffmpeg_exe, ffmpeg_url
from .errors import MediaError, ffmpeg_cause

CHUNK = 60  # clips per ffmpeg process; each is an open input (demuxer + decoder)
VIDEO_CODEC = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]
AUDIO_RATE = 48000


@dataclass(frozen=True)
class Cut:
    """A span of a source file, in seconds of the source's playback time."""

    source: str
    start: float
    duration: float
    has_video: bool  # False: an audio file (a video reel shows black for it)


@dataclass(frozen=True)
class Format:
    """What every clip of one output is normalised to."""

    video: bool  # False: an audio-only output (every source an audio file)
    width: int = 0
    height: int = 0
    rate: float = 25.0  # frames per second of the output (the in/out points lie on its frame grid)
    channels: int = 2


Progress = Callable[[float], None]  # seconds of output written so far


def _rate_text(rate: float) -> str:
    """An exact rational for ffmpeg: 30000/1001, not 29.97 (which drifts a frame every ~17 minutes)."""
    for num in (24000, 30000, 48000, 60000):
        if abs(rate - num / 1001) < 1e-6:
            return f"{num}/1001"
    return f"{rate:.6g}"


def _escape_filter_path(path: Path) -> str:
    """A file name as a filter option value: quoted, with the characters the filtergraph parser eats escaped."""
    text = str(path).replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")
    return f"'{text}'"


def _inputs_and_graph(cuts: Sequence[Cut], fmt: Format, subtitles: Path | None) -> tuple[list, str, list[str]]:
    """The ffmpeg input arguments, filtergraph and -map arguments that cut `cuts` and join them in order."""
    args: list = []
    chains: list[str] = []
    pads: list[str] = []
    n = 0
    rate = _rate_text(fmt.rate)
    for k, cut in enumerate(cuts):
        d = f"{cut.duration:.6f}"
        args += ["-ss", f"{cut.start:.6f}", "-t", d, "-i", ffmpeg_url(cut.source)]
        src = n
        n += 1
        if fmt.video:
            if cut.has_video:
                # The seek keeps the frame showing at the in point (checked on a 2 fps source); fps
                # re-times it onto the output grid, tpad holds the last frame if the source ends early.
                chains.append(
                    f"[{src}:v:0]scale={fmt.width}:{fmt.height}:force_original_aspect_ratio=decrease,"
                    f"pad={fmt.width}:{fmt.height}:(ow-iw)/2:(oh-ih)/2,setsar=1,"
                    f"fps={rate}:start_time=0,tpad=stop_mode=clone:stop_duration={d},trim=duration={d},"
                    f"setpts=PTS-STARTPTS[v{k}]"
                )
            else:
                args += ["-f", "lavfi", "-t", d, "-i", f"color=c=black:s={fmt.width}x{fmt.height}:r={rate}"]
                chains.append(f"[{n}:v:0]trim=duration={d},setpts=PTS-STARTPTS[v{k}]")
                n += 1
            pads.append(f"[v{k}]")
        layout = "stereo" if fmt.channels == 2 else "mono"
        chains.append(
            f"[{src}:a:0]aresample={AUDIO_RATE}:async=1:first_pts=0,"
            f"aformat=sample_fmts=fltp:sample_rates={AUDIO_RATE}:channel_layouts={layout},"
            f"apad,atrim=duration={d},asetpts=PTS-STARTPTS[a{k}]"
        )
        pads.append(f"[a{k}]")
    v = 1 if fmt.video else 0
    joined = f"{''.join(pads)}concat=n={len(cuts)}:v={v}:a=1"
    if fmt.video and subtitles is not None:
        chains.append(f"{joined}[vc][a]")
        chains.append(f"[vc]subtitles=filename={_escape_filter_path(subtitles)}[v]")
    else:
        chains.append(f"{joined}{'[v]' if v else ''}[a]")
    maps = (["-map", "[v]"] if fmt.video else []) + ["-map", "[a]"]
    return args, ";".join(chains), maps


def _run(cmd: list, source: str | Path, progress: Progress | None) -> None:
    """Run ffmpeg with `-progress` on stdout; MediaError naming `source` with ffmpeg's cause on failure."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        assert proc.stdout is not None
        try:
            for raw in proc.stdout:
                line = raw.decode("ascii", "replace").strip()
                if progress and line.startswith("out_time_us=") and line[12:].lstrip("-").isdigit():
                    progress(max(0, int(line[12:])) / 1e6)
        finally:
            code = proc.wait()
        if code != 0:
            err.seek(0)
            raise MediaError(source, ffmpeg_cause(err.read()))


def _temp_beside(dst: Path, suffix: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=suffix, dir=dst.parent)
    os.close(fd)
    return Path(tmp)


def _base(progress: Progress | None) -> list:
    quiet = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    return [ffmpeg_exe(), *quiet, *(["-progress", "pipe:1", "-nostats"] if progress else [])]


def _encode(cuts: Sequence[Cut], dst: Path, fmt: Format, subtitles: Path | None, audio: list[str],
            progress: Progress | None) -> None:  # fmt: skip
    inputs, graph, maps = _inputs_and_graph(cuts, fmt, subtitles)
    video = [*VIDEO_CODEC, "-r", _rate_text(fmt.rate)] if fmt.video else ["-vn"]
    cmd = [*_base(progress), *inputs, "-filter_complex", graph, *maps, *video, *audio, str(dst)]
    _run(cmd, cuts[0].source if len({c.source for c in cuts}) == 1 else dst, progress)


def render(
    cuts: Sequence[Cut],
    dst: str | Path,
    fmt: Format,
    *,
    subtitles: Callable[[int, int], Path | None] | None = None,
    progress: Progress | None = None,
    chunk: int = CHUNK,
) -> Path:
    """Cut `cuts` from their sources and join them, in order, into `dst` (mp4, m4a, mov, mkv by its suffix).

    `subtitles(first, stop)` gives an ASS file for cuts[first:stop] timed from
    0 (burned in; video only). `dst` appears complete or not at all: written
    under a temporary name beside it and renamed. Raises MediaError.
    """
    if not cuts:
        raise ValueError("nothing to cut")
    dst = Path(dst)
    tmp = _temp_beside(dst, dst.suffix or ".mp4")
    aac = ["-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart"]
    parts: list[Path] = []
    try:
        if len(cuts) <= chunk:
            _encode(cuts, tmp, fmt, subtitles(0, len(cuts)) if subtitles else None, aac, progress)
        else:
            done = 0.0
            for first in range(0, len(cuts), chunk):
                group = cuts[first : first + chunk]
                part = _temp_beside(dst, ".part.mkv")
                parts.append(part)
                offset = done
                relay = (lambda t, o=offset: progress(o + t)) if progress else None
                ass = subtitles(first, first + len(group)) if subtitles else None
                _encode(group, part, fmt, ass, ["-c:a", "pcm_s16le"], relay)
                done += sum(c.duration for c in group)
            _concat(parts, tmp, fmt, aac)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
        for part in parts:
            part.unlink(missing_ok=True)
    return dst


def _concat(parts: list[Path], dst: Path, fmt: Format, audio: list[str]) -> None:
    """Join parts made with the same settings: video copied, the lossless audio encoded once (no AAC seams)."""
    listing = _temp_beside(dst, ".txt")
    try:
        listing.write_text("".join("file '{}'\n".format(str(p).replace("'", "'\\''")) for p in parts))
        video = ["-c:v", "copy"] if fmt.video else ["-vn"]
        cmd = [*_base(None), "-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0", *video, *audio, str(dst)]
        _run(cmd, dst, None)
    finally:
        listing.unlink(missing_ok=True)


_TB = re.compile(r"^#tb (\d+): (\d+)/(\d+)")
_MEDIA = re.compile(r"^#media_type (\d+): (\w+)")


def stream_times(path: str | Path) -> dict[str, tuple[float, float]]:
    """(start, end) in seconds of the first video and audio stream's *decoded* frames.

    Read from ffmpeg's framecrc output, so it works without ffprobe and sees
    what a player sees (codec priming and edit lists applied).
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", ffmpeg_url(path),
           "-map", "0:v:0?", "-map", "0:a:0?", "-f", "framecrc", "-"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        raise MediaError(path, ffmpeg_cause(proc.stderr))
    tb: dict[int, float] = {}
    kind: dict[int, str] = {}
    out: dict[str, tuple[float, float]] = {}
    for line in proc.stdout.splitlines():
        if m := _TB.match(line):
            tb[int(m[1])] = int(m[2]) / int(m[3])
        elif m := _MEDIA.match(line):
            kind[int(m[1])] = m[2]
        elif line and not line.startswith("#"):
            fields = [f.strip() for f in line.split(",")]
            stream, pts, duration = int(fields[0]), int(fields[2]), int(fields[3])
            name = kind.get(stream, str(stream))
            start, end = pts * tb[stream], (pts + duration) * tb[stream]
            first = out.get(name, (start, end))
            out[name] = (min(first[0], start), max(first[1], end))
    return out
