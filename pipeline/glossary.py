"""Glossary terms: the names the recognizer should expect.

A term file has one term a line; `#` starts a comment. The library keeps
its own glossary (`interview-index glossary add`), used by every ingest;
`ingest --glossary FILE` adds more for one run.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .atomic import write_text_atomic


def parse_terms(text: str) -> list[str]:
    terms = []
    for line in text.splitlines():
        term = line.split("#", 1)[0].strip()
        if term:
            terms.append(" ".join(term.split()))
    return merge(terms)


def read_terms(path: str | Path) -> list[str]:
    p = Path(path)
    try:
        return parse_terms(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise OSError(f"{p}: cannot read glossary ({e.strerror})") from None
    except UnicodeDecodeError:
        raise OSError(f"{p}: glossary is not UTF-8 text") from None


def merge(*groups: Iterable[str]) -> list[str]:
    """Terms in first-seen order, case-insensitive duplicates dropped."""
    seen: set[str] = set()
    out = []
    for group in groups:
        for t in group:
            if t.casefold() not in seen:
                seen.add(t.casefold())
                out.append(t)
    return out


def write_terms(path: str | Path, terms: Iterable[str]) -> None:
    """Atomically: a full disk keeps the old glossary and leaves no half-written file."""
    write_text_atomic(path, "".join(f"{t}\n" for t in terms), mode=0o644)


class GlossaryFile:
    """The library-wide glossary file."""

    def __init__(self, path: Path):
        self.path = path

    def terms(self) -> list[str]:
        return read_terms(self.path) if self.path.is_file() else []

    def add(self, terms: Iterable[str]) -> list[str]:
        merged = merge(self.terms(), parse_terms("\n".join(terms)))
        write_terms(self.path, merged)
        return merged

    def remove(self, terms: Iterable[str]) -> list[str]:
        drop = {t.casefold() for t in terms}
        kept = [t for t in self.terms() if t.casefold() not in drop]
        write_terms(self.path, kept)
        return kept
