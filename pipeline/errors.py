"""What can go wrong, and what each failure means for the exit status.

Commands raise; they never print an error and exit themselves. The CLI's one
error boundary (`pipeline.cli.Main.invoke`) asks `exit_status()` and
`message()` here, prints one `error: ...` line and exits, so every error is
printed once, in one format, with a status a script can rely on:

    0 ok, 1 something failed, 2 usage error, 130 interrupted.

Errors raised by layers that must not import the pipeline (`media`, `index`,
`pipeline.options`) keep their own types; the table below maps them.
"""

from __future__ import annotations

import errno
import os
from enum import IntEnum
from pathlib import Path

from media.errors import printable  # noqa: F401 - re-exported: every file name printed goes through it

ENV_DEBUG = "INTERVIEW_INDEX_DEBUG"


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1  # something failed: a file in a batch, a lookup, a bad query, a full disk
    USAGE = 2  # bad options (click's own status for them)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT); finished work is kept


class InterviewIndexError(Exception):
    """Base of every error the project raises on purpose; `str(err)` is the line a user reads."""

    exit_status: ExitStatus = ExitStatus.ERROR

    def __init__(self, message: str, exit_status: ExitStatus | None = None):
        super().__init__(message)
        if exit_status is not None:
            self.exit_status = exit_status


class UsageError(InterviewIndexError):
    """The command line asks for something impossible (e.g. `--language klingon`)."""

    exit_status = ExitStatus.USAGE


class NotFoundError(InterviewIndexError, LookupError):
    """A video, speaker or file that is not there."""


class FatalError(InterviewIndexError, RuntimeError):
    """Stops the whole batch (the model cannot load, the disk is full); the files are not at fault."""


class LibraryWriteError(FatalError):
    """The library cannot be written: the disk is full or it is read-only. Earlier data is kept."""


class Interrupted(InterviewIndexError):
    exit_status = ExitStatus.INTERRUPTED


# Disk faults that no retry of the same file can fix: they stop a batch.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY = {errno.EROFS}
_NO_WRITE = {errno.EACCES, errno.EPERM}


def _inside(path: str | os.PathLike, root: Path) -> bool:
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
    except ValueError:
        return False
    return True


def is_library_write_error(e: OSError, library: Path | None = None) -> bool:
    """A fault of the place we write to, not of the file being read."""
    if e.errno in _NO_SPACE or e.errno in _READ_ONLY:
        return True
    names = [n for n in (e.filename, e.filename2) if n]
    return e.errno in _NO_WRITE and library is not None and any(_inside(n, library) for n in names)


def describe_os_error(e: OSError, library: Path | None = None) -> str:
    """One line for an OSError, naming the library when that is where it happened."""
    name = e.filename or e.filename2
    in_library = library is not None and (name is None or _inside(name, library))
    where = printable(library) if in_library and library is not None else (printable(name) if name else None)
    if e.errno in _NO_SPACE:
        return f"no space left on {where or 'the device'}; earlier data is kept"
    if e.errno in _READ_ONLY:
        if in_library:
            return f"library is read-only: {where}"
        return f"{where or 'the file system'} is read-only"
    if e.errno in _NO_WRITE and in_library:
        return f"library is not writable: permission denied on {printable(name) if name else where}"
    cause = e.strerror or str(e)
    return f"{printable(name)}: {cause[:1].lower() + cause[1:]}" if name else cause


def exit_status(exc: BaseException) -> ExitStatus:
    from .options import OptionsError

    if isinstance(exc, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED
    if isinstance(exc, InterviewIndexError):
        return exc.exit_status
    if isinstance(exc, OptionsError):
        return ExitStatus.USAGE
    return ExitStatus.ERROR  # MediaError, SearchIndexError, FFmpegNotFound, OSError, the unexpected


def message(exc: BaseException, library: Path | None = None) -> str:
    """The one line a user reads (without the `error: ` prefix)."""
    from index.errors import SearchIndexError
    from media.binaries import FFmpegNotFound
    from media.errors import MediaError

    from .options import OptionsError

    if isinstance(exc, KeyboardInterrupt):
        return "interrupted; finished work is kept (run the same command again to resume)"
    if isinstance(exc, InterviewIndexError | OptionsError | MediaError | SearchIndexError | FFmpegNotFound):
        return str(exc)
    if isinstance(exc, LookupError) and exc.args and isinstance(exc.args[0], str):
        return exc.args[0]  # str(KeyError) would add quotes
    if isinstance(exc, OSError):
        return describe_os_error(exc, library)
    return f"unexpected {type(exc).__name__}: {exc} (run with --traceback for details)"


def debug_requested() -> bool:
    return os.environ.get(ENV_DEBUG, "").strip().lower() not in ("", "0", "false", "no")
