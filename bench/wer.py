"""Word error rate as every benchmark here measures it (import it: `from wer import wer`).

Both texts go through Whisper's English normalizer first (numbers, spelling
variants like harbour/harbor, punctuation, case), so a WER counts words heard
wrong, not formatting.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _normalizer():
    from whisper.normalizers import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalize(text: str) -> str:
    return _normalizer()(text)


def wer(ref: str, hyp: str) -> float:
    """Word error rate of `hyp` against `ref`, 0.0 - 1.0 (and above, for many insertions)."""
    import jiwer

    return jiwer.wer(normalize(ref), normalize(hyp))
