"""Errors of the index layer; `str(err)` is the one line the CLI prints."""

from __future__ import annotations


class SearchIndexError(Exception):
    """Base of every error this package raises on purpose."""


class QueryError(SearchIndexError, ValueError):
    """A query that cannot be searched, e.g. `QueryError('"tax AND": AND needs a word after it')`."""

    def __init__(self, query: str, cause: str):
        self.query = query
        self.cause = cause
        super().__init__(f"query {query!r}: {cause}")


class IndexLockedError(SearchIndexError):
    """Another process kept the index's write lock for longer than we would wait."""


class IndexVersionError(SearchIndexError):
    """The index was built by another version of interview-index; `reindex` fixes it."""


class IndexDamagedError(SearchIndexError):
    """The index cannot be read or holds other than its record says (files deleted or cut); `reindex` fixes it."""
