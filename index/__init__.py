"""Everything that touches whoosh: schema, writing, searching.

Contract used by the orchestrator and CLI (index dir = LIBRARY/index):

    index.writer.add_transcript(index_dir, transcript, *, on_wait=None, timeout=120.0) -> None
        # replaces every doc of transcript.video_id in ONE commit (never half a video, never twice);
        # waits for another process's write lock, telling on_wait(msg) why; IndexLockedError after timeout
    index.writer.remove_video(index_dir, video_id, *, on_wait=None, timeout=120.0) -> None
    index.writer.rebuild(index_dir, transcripts, *, procs=1, on_wait=None, timeout=120.0,
                         progress=None) -> int   # fresh index, current schema; returns videos indexed
    index.writer.segment_counts(index_dir) -> dict[str, int]   # live segments per video id
    index.store.needs_rebuild(index_dir) -> bool               # index built with another schema version
    index.search.search(index_dir, query, *, speaker=None, video=None, limit=20, exact=False) -> SearchResult
        # SearchResult(hits: list[Hit], exact_found: bool, suggestions: list[str])
        # Hit(video, path, start, end, speaker, speaker_label, text, segment_start, segment_end, score, match)
        #   start/end: seconds of the matched word or phrase; match: exact|stem|phonetic|fuzzy;
        #   Hit.to_dict() (the --json shape), Hit.highlighted() ("... **tax relief** ...")
    index.errors.QueryError         # a query that cannot be searched: one clear line
    index.errors.IndexLockedError   # gave up waiting for another writer
    index.errors.IndexVersionError  # index from another schema version: run `reindex`

Modules: normalize (words -> positioned tokens, glossary), phonetic (Double
Metaphone keys), analysis (whoosh analyzers), schema, store (directory,
versions, locking), writer, query (parsing, match tiers), search.
"""
