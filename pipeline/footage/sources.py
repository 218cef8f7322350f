"""The transcript and media facts of each video a set of hits names, looked up once per video."""

from __future__ import annotations

from media.errors import MediaError
from media.probe import probe

from ..library import Library
from .clips import Source


class Sources:
    """`sources(video_id)` -> Source; the media is probed once per video.

    A video whose file is gone or unreadable raises MediaError naming the
    file (each time it is asked for), so a caller can skip that video's hits
    and go on with the others.
    """

    def __init__(self, library: Library):
        self.library = library
        self._known: dict[str, Source | MediaError] = {}

    def __call__(self, video_id: str) -> Source:
        if video_id not in self._known:
            transcript = self.library.load_transcript(video_id)
            try:
                info = probe(transcript.path)
                self._known[video_id] = Source(transcript, info.duration, info.frame_rate, info.has_video)
            except MediaError as e:
                self._known[video_id] = e
        found = self._known[video_id]
        if isinstance(found, MediaError):
            raise found
        return found
