"""`interview-index serve`: a web page over the archive (search, play from the word, correct).

A thin layer over the same library functions as the CLI; see routes.py for
the JSON API and security.py for who may use it.
"""

from __future__ import annotations

from .app import DEFAULT_LEAD, create_app

__all__ = ["DEFAULT_LEAD", "create_app"]
