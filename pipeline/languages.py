"""The spoken languages Whisper knows, by code ("en") or by name ("english").

Checked on the command line, before any file is touched: an unknown language
used to surface deep in the recognizer as a 46-line traceback, after the
file's job had been marked running.
"""

from __future__ import annotations

import functools
import importlib.util
import os


@functools.cache
def codes() -> frozenset[str]:
    """The codes the recognizers accept (both engines share Whisper's table)."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


@functools.cache
def names() -> dict[str, str]:
    """Language name (and alias, e.g. "castilian") -> code, from openai-whisper's tables.

    `whisper/tokenizer.py` is loaded on its own: importing the `whisper`
    package would import torch (seconds) for a dictionary.
    """
    spec = importlib.util.find_spec("whisper")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - a hard dependency
        return {}
    path = os.path.join(list(spec.submodule_search_locations)[0], "tokenizer.py")
    mod_spec = importlib.util.spec_from_file_location("_interview_index_whisper_tokenizer", path)
    if mod_spec is None or mod_spec.loader is None:  # pragma: no cover
        return {}
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return {name: code for name, code in module.TO_LANGUAGE_CODE.items() if code in codes()}


def normalize_language(value: str | None) -> str | None:
    """The code for `value` (a code or a name, any case); None stays None (detect).

    Raises ValueError naming a few valid choices.
    """
    if value is None:
        return None
    key = value.strip().lower()
    if key in codes():
        return key
    code = names().get(key)
    if code:
        return code
    raise ValueError(
        f"unknown language {value!r}: give a code such as en, de, fr, ru, zh or a name such as english "
        f"({len(codes())} languages; leave it out to detect)"
    )
