"""Diarization alongside transcription (`IngestOptions.overlap_speakers`, the default) saves the
very transcript the one-after-the-other order saves."""

from __future__ import annotations

import json
import shutil

import pytest

from pipeline.ingest import Ingestor
from pipeline.library import Library
from pipeline.options import IngestOptions, TranscribeOptions

from conftest import fixture


def _saved(lib: Library, video_id: str) -> dict:
    data = json.loads(lib.transcript_path(video_id).read_text())
    data.pop("created")
    return data


@pytest.mark.slow  # two full ingests with real diarization: seconds
def test_overlapped_speakers_give_the_same_transcript(tmp_path, fake_engine):
    media = tmp_path / "three_voices.mp4"
    shutil.copy(fixture("three_voices.mp4"), media)
    saved = []
    for overlap in (True, False):
        lib = Library(tmp_path / f"lib-{overlap}")
        opts = IngestOptions(transcribe=TranscribeOptions(language="en"), overlap_speakers=overlap)
        (result,) = Ingestor(lib, opts).run([media]).results
        assert result.status == "done", result
        saved.append(_saved(lib, result.video_id))
    assert saved[0] == saved[1]
    assert len(saved[0]["speakers"]) == 3 and saved[0]["segments"]
