"""Who spoke when: speech regions (`vad`), voice embeddings (`embed`), speakers
found by clustering (`cluster`), turns (`diarize`), and each word given to a
turn (`assign`)."""

from .assign import assign_speakers
from .diarize import Turn, diarize, diarize_file, diarize_stream

__all__ = ["Turn", "assign_speakers", "diarize", "diarize_file", "diarize_stream"]
