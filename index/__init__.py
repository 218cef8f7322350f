"""Everything that touches whoosh: schema, writing, searching.  (CONTRACT - see modules)

Contract used by the orchestrator and CLI (index dir = LIBRARY/index):

    index.writer.add_transcript(index_dir, transcript: Transcript) -> None
        # replaces every doc of transcript.video_id in ONE commit (never half a video, never twice)
    index.writer.remove_video(index_dir, video_id) -> None
    index.writer.rebuild(index_dir, transcripts: Iterable[Transcript]) -> int   # fresh index, new schema
    index.search.search(index_dir, query: str, *, speaker: str|None=None, video: str|None=None,
                        limit: int = 20, exact: bool = False) -> SearchResult
        # SearchResult(hits: list[Hit], exact_found: bool, suggestions: list[str])
        # Hit(video, path, start, end, speaker, speaker_label, text, segment_start, segment_end, score, match)
    index.errors.QueryError  # a query whoosh cannot parse: one clear line
"""
