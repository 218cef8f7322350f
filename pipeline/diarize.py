"""Speaker diarization.  (CONTRACT STUB - to be implemented)

Contract used by the orchestrator:

    @dataclass
    class Turn:
        start: float; end: float; label: str      # label "SPEAKER_1".. in order of first appearance

    def diarize(audio: np.ndarray (16 kHz mono float32), *, num_speakers: int | None = None,
                min_speakers: int = 1, max_speakers: int = 8,
                progress: Callable[[float], None] | None = None) -> list[Turn]

    def assign_speakers(segments: list[Segment], turns: list[Turn]) -> tuple[list[Segment], list[Speaker]]
        # each Word gets .speaker; segments split where the speaker changes; Speaker list in order of first appearance
"""
