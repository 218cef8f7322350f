"""Transcription engines behind one small interface.  (CONTRACT STUB - to be implemented)

Contract used by the orchestrator (pipeline/ingest.py):

    @dataclass
    class TranscribeOptions:
        language: str | None = None        # None = auto-detect
        beam_size: int = 5
        glossary: list[str] = []           # terms to steer the recognizer (initial prompt / hotwords)
        vad_filter: bool = True            # gate out silence (hallucination guard)
        # + whatever else measures best; deterministic decoding (temperature 0, no fallback randomness)

    class Engine(Protocol):
        name: str            # "faster-whisper" | "openai-whisper"
        model_name: str      # "base", "tiny.en", or a path
        def transcribe(self, audio: np.ndarray, options: TranscribeOptions,
                       progress: Callable[[float], None] | None = None) -> TranscriptionResult

    @dataclass
    class TranscriptionResult:
        segments: list[Segment]   # pipeline.transcript.Segment with words (Word.start/end in seconds of `audio`)
        language: str

    def load_engine(engine: str = DEFAULT_ENGINE, model: str = DEFAULT_MODEL,
                    device="cpu", compute_type="int8", cpu_threads=0) -> Engine
"""
