"""The `interview-index` command: a thin shell over the library functions.

Commands raise typed errors (pipeline.errors); the one error boundary,
`Main.invoke`, turns any exception into one line on stderr, `error: ...`,
and an exit status (see ExitStatus). `--traceback` or INTERVIEW_INDEX_DEBUG=1
shows the stack instead.
"""

from __future__ import annotations

import errno
import io
import json
import os
import sys
from importlib import resources
from pathlib import Path
from typing import NoReturn

import click

from . import errors
from .atomic import write_text_atomic
from .errors import ExitStatus, InterviewIndexError, UsageError, printable
from .export import FORMATS, FormatError, export, format_for
from .glossary import GlossaryFile, merge, read_terms
from .ingest import FatalError, FileResult, Ingestor, Reporter
from .inputs import collect, refuse_special
from .languages import normalize_language
from .library import ENV_LIBRARY, Library
from .manage import BusyError, index_problem, list_videos, reindex, remove_entry, speaker_stats
from .options import (
    DEFAULT_ENGINE,
    ENGINES,
    EngineOptions,
    IngestOptions,
    SpeakerOptions,
    TranscribeOptions,
)
from .timefmt import clock

__all__ = ["ExitStatus", "fail", "main"]

_LIBRARY_META = "interview_index.library"


def fail(message: str, status: ExitStatus = ExitStatus.ERROR) -> NoReturn:
    """Kept for command bodies: raises, and the error boundary prints and exits."""
    raise InterviewIndexError(message, status)


library_option = click.option(
    "--library",
    "library_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Folder holding transcripts and the index (env {ENV_LIBRARY}; default: the user data dir).",
)


def language_option(value: str | None) -> str | None:
    """`--language english` means en; an unknown language is a usage error before any work."""
    try:
        return normalize_language(value)
    except ValueError as e:
        raise UsageError(f"--language: {e}") from None


def open_library(library_dir: Path | None) -> Library:
    """The library named after the command, else before it (`interview-index --library DIR list`),
    else by the environment, else the user data dir."""
    ctx = click.get_current_context(silent=True)
    if library_dir is None and ctx is not None:
        library_dir = ctx.find_root().params.get("library_dir")
    library = Library(library_dir)
    if ctx is not None:
        ctx.meta[_LIBRARY_META] = library.root  # error messages name it ("no space left on LIBRARY")
    return library


def _names_pass_through(stream) -> None:
    """Print file names as the bytes they are, as `ls` and `find` do.

    A Linux file name that is not UTF-8 (b'caf\\xe9.wav') is a str with lone
    surrogates in Python; a strict UTF-8 stdout raises UnicodeEncodeError on it
    (`list` died). `surrogateescape` writes the original bytes back, so
    `interview-index list | cut ...` hands other tools the real name.
    """
    if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
        stream.reconfigure(errors="surrogateescape")


class Main(click.Group):
    """The one error boundary: every command's exceptions end here."""

    def invoke(self, ctx: click.Context):
        _names_pass_through(sys.stdout)
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # click prints its own usage errors (status 2)
        except (Exception, KeyboardInterrupt) as e:
            if isinstance(e, OSError) and e.errno == errno.EPIPE:
                raise  # `interview-index list | head`: click exits quietly
            if ctx.params.get("show_traceback") or errors.debug_requested():
                raise
            click.echo(f"error: {errors.message(e, ctx.meta.get(_LIBRARY_META))}", err=True)
            ctx.exit(int(errors.exit_status(e)))


class _WholeShortHelp:
    """Command lists show a command's whole first sentence, wrapped if need be:
    click would cut it at about 45 characters and end it with "..."."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return super().get_short_help_str(limit=1000)  # type: ignore[misc]


class HelpCommand(_WholeShortHelp, click.Command):
    pass


class HelpGroup(_WholeShortHelp, click.Group):
    command_class = HelpCommand


Main.command_class = HelpCommand  # every `@main.command()` and `@main.group()` below
Main.group_class = HelpGroup


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="interview-index")
@click.option(
    "--library",
    "library_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=ENV_LIBRARY,
    default=None,
    help=f"Folder holding transcripts and the index, for every command (env {ENV_LIBRARY}).",
)
@click.option(
    "--traceback",
    "show_traceback",
    is_flag=True,
    help=f"Show the Python stack of an error instead of one line (env {errors.ENV_DEBUG}=1).",
)
def main(library_dir: Path | None, show_traceback: bool) -> None:
    """Turn interview videos into a searchable, timestamped, speaker-attributed archive."""


# --------------------------------------------------------------------------- ingest
class CliReporter(Reporter):
    """Progress bars on a terminal, one line per file everywhere."""

    def __init__(self, quiet: bool = False):
        from tqdm import tqdm

        self._tqdm = tqdm
        self.quiet = quiet
        self.bar = None
        self.total = 0

    def file_started(self, index: int, total: int, path: str) -> None:
        self.total = total
        self.prefix = f"[{index + 1}/{total}] {Path(path).name}"
        self._close()
        self.bar = self._tqdm(
            total=100, desc=self.prefix, unit="%", file=sys.stderr, disable=None, leave=False,
            bar_format="{desc}{percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
        )  # fmt: skip

    def stage(self, path: str, stage: str) -> None:
        if self.bar is not None:
            self.bar.set_description(f"{self.prefix} {stage}")

    def progress(self, path: str, fraction: float) -> None:
        if self.bar is not None:
            self.bar.n = round(100 * min(1.0, max(0.0, fraction)))
            self.bar.refresh()

    def file_finished(self, result: FileResult) -> None:
        self._close()
        name = printable(result.path)
        if result.status == "failed":
            click.echo(f"error: {result.error}", err=True)
        elif not self.quiet:
            detail = result.note or ""
            if result.status == "done":
                detail = f"{result.segments} segments" + (f"; {result.note}" if result.note else "")
            tail = f" ({detail})" if detail else ""
            click.echo(f"{result.status}: {name} -> {result.video_id or '-'}{tail}", err=True)

    def message(self, text: str) -> None:
        click.echo(text, err=True)

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@main.command()
@click.argument("videos", nargs=-1, required=True)
@library_option
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default=DEFAULT_ENGINE,
    show_default=True,
    help="Recognizer (faster-whisper is measured fastest at equal accuracy).",
)
@click.option(
    "--model",
    default=EngineOptions().model,
    show_default=True,
    help="Model name (tiny.en, base, ...) or a local model path.",
)
@click.option(
    "--language",
    default=None,
    callback=lambda ctx, param, value: language_option(value),
    help="Spoken language: a code (en) or a name (english) (default: detect).",
)
@click.option(
    "--beam-size",
    type=click.IntRange(1, 10),
    default=TranscribeOptions().beam_size,
    show_default=True,
    help="Hypotheses kept while decoding (1: greedy, faster, less accurate).",
)
@click.option(
    "--speakers",
    "num_speakers",
    type=click.IntRange(1, 20),
    default=None,
    help="Exact number of speakers (default: found automatically).",
)
@click.option("--min-speakers", type=click.IntRange(1, 20), default=None, help="At least this many speakers.")
@click.option(
    "--max-speakers",
    type=click.IntRange(1, 20),
    default=None,
    help=f"At most this many speakers (default: {SpeakerOptions().bounds['max_speakers']}).",
)
@click.option("--no-diarize", is_flag=True, help="Skip speaker detection (one speaker).")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 32),
    default=TranscribeOptions().batch_size,
    show_default=True,
    help="Decode this many 30-s pieces at once (faster-whisper): less CPU time, a few more errors on noisy speech.",
)
@click.option(
    "--glossary",
    "glossary_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File of names to expect, one a line, for this ingest only (with the library's: `glossary add` keeps names).",
)
@click.option("--force", is_flag=True, help="Re-ingest files that are already done.")
@click.option(
    "--jobs",
    type=click.IntRange(1, 8),
    default=1,
    show_default=True,
    help="Prepare the next files (probe, audio) while one is transcribed.",
)
@click.option("--cluster", default=None, metavar="tcp://SCHEDULER:PORT|local:N",
              help="Transcribe and diarize on Dask workers (a scheduler, or N local processes); "
              "this process writes the library. Needs interview-index[cluster].")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
def ingest(videos, library_dir, engine, model, language, beam_size, num_speakers, min_speakers, max_speakers,
           no_diarize, glossary_file, force, jobs, as_json, batch_size=1, cluster=None):  # fmt: skip
    """Transcribe, diarize and index VIDEOS (files, folders, globs)."""
    library = open_library(library_dir)
    terms = GlossaryFile(library.glossary_path).terms()
    if glossary_file is not None:
        try:
            refuse_special(glossary_file)  # a FIFO would block the read forever
            terms = merge(terms, read_terms(glossary_file))
        except OSError as e:
            fail(str(e))
    options = IngestOptions(  # contradictions raise OptionsError: a usage error (status 2)
        engine=EngineOptions(engine=engine, model=model),
        transcribe=TranscribeOptions(language=language, beam_size=beam_size, glossary=tuple(terms),
                                      batch_size=batch_size),
        speakers=SpeakerOptions(diarize=not no_diarize, num_speakers=num_speakers,
                                min_speakers=min_speakers, max_speakers=max_speakers),
        force=force,
        jobs=jobs,
    )  # fmt: skip
    paths = collect(list(videos))
    if not paths:
        fail("no media files found in " + " ".join(videos))
    try:
        ingestor = Ingestor(library, options, CliReporter(quiet=as_json))
        if cluster:
            from .cluster import ingest_on_cluster

            summary = ingest_on_cluster(ingestor, paths, cluster)
        else:
            summary = ingestor.run(paths)
    except FatalError as e:
        fail(str(e))
    done, skipped, failed = (len(summary.by_status(s)) for s in ("done", "skipped", "failed"))
    if as_json:
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=1))
    else:
        line = f"{done} done, {skipped} skipped, {failed} failed"
        if summary.interrupted:
            line += " (interrupted: run the same command again to finish)"
        click.echo(line, err=True)  # each failure had its own `error:` line as it happened
    if summary.interrupted:
        sys.exit(int(ExitStatus.INTERRUPTED))
    if failed:
        sys.exit(int(ExitStatus.ERROR))


# --------------------------------------------------------------------------- search
SORTS = ("relevance", "time")


@main.command(short_help="Find where words were said: video, time, speaker.")
@click.argument("query")
@library_option
@click.option("--speaker", default=None, help="Only this speaker (name or label, any case).")
@click.option("--video", default=None, help="Only this video (id or path).")
@click.option(
    "--limit", type=click.IntRange(1, 10000), default=20, show_default=True, help="Show at most this many hits."
)
@click.option("--exact", is_flag=True, help="No sounds-alike or fuzzy matches.")
@click.option(
    "--sort",
    type=click.Choice(SORTS),
    default="relevance",
    show_default=True,
    help="Best first, or in the order they were said (by video, then time).",
)
@click.option(
    "--context",
    "context_n",
    type=click.IntRange(0, 20),
    default=0,
    help="Also show N segments before and after each hit (--json: a 'context' list per hit).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the hits as a JSON array, in the --sort order.")
@click.option("--format", "sheet", type=click.Choice(("csv", "docx", "edl", "xml", "otio")), default=None,
              help="The hits as a quote sheet (csv, docx) or an editor's timeline (edl, xml, otio).")  # fmt: skip
@click.option("-o", "--output", "sheet_output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the --format file here (format from the extension if --format is not given).")  # fmt: skip
def search(query, library_dir, speaker, video, limit, exact, as_json, sort="relevance", context_n=0, sheet=None,
           sheet_output=None):  # fmt: skip
    """Find where QUERY was said: words, "phrases", AND/OR/NOT, tax*, fuzzy~.

    A query takes at most 500 characters and 40 words; a longer one is
    refused (status 1). Sounds-alike and fuzzy matching apply to queries of
    up to 4 words. Output: one line per hit (video, time, speaker, the
    segment with the matched words in **), then the count on stderr.
    """
    from index.search import search as run_search

    library = open_library(library_dir)
    video_id = None
    if video:
        try:
            video_id = library.resolve(video).video_id
        except LookupError as e:
            fail(str(e))
    if not library.video_ids():  # said on stderr; the answer itself is still "no hits" (status 0, [])
        click.echo(f"the library {printable(library.root)} is empty: `interview-index ingest VIDEO...`", err=True)
        if as_json:
            click.echo("[]")
        return
    problem = index_problem(library)  # a deleted or incomplete index must not answer "no hits"
    if problem:
        fail(problem)
    # A bad query, an index of another version or a lock held too long raise: the boundary prints them.
    wanted = None if sort == "time" else limit
    result = run_search(library.index_dir, query, speaker=speaker, video=video_id, limit=wanted, exact=exact)
    if not result.speaker_found:
        where = video if video else "the library"
        fail(f"no speaker {speaker!r} in {where} (`interview-index speakers VIDEO` lists a video's speakers)")
    hits = result.hits
    if sort == "time":
        hits = sorted(hits, key=lambda h: (h.video, h.start))[:limit]
    if sheet or sheet_output:  # quote sheet or timeline: pipeline.footage
        from .footage.outputs import write_hits

        if write_hits(library, hits, sheet, sheet_output, query, lambda line: click.echo(line, err=True)).failed:
            sys.exit(int(ExitStatus.ERROR))
        return
    contexts = _contexts(library, hits, context_n) if context_n else None
    rows = None
    if as_json:  # with how sure each hit's speaker name is (pipeline.people)
        from .people import hit_rows

        rows = hit_rows(library, hits)
    _write_quietly_to_a_closed_pipe(lambda: _print_hits(query, result, hits, contexts, exact, as_json, rows))


def _contexts(library: Library, hits: list, n: int) -> list[tuple[list[dict], list[dict]]]:
    """The n segments before and after each hit, from the saved transcripts."""
    transcripts: dict[str, object] = {}
    out = []
    for h in hits:
        if h.video not in transcripts:
            transcripts[h.video] = library.load_transcript(h.video)
        t = transcripts[h.video]
        segs = t.segments
        i = min(range(len(segs)), key=lambda k: abs(segs[k].start - h.segment_start)) if segs else 0

        def row(seg, t=t) -> dict:
            return {"start": seg.start, "end": seg.end, "speaker": t.speaker_name(seg.speaker), "text": seg.text}

        out.append(([row(x) for x in segs[max(0, i - n) : i]], [row(x) for x in segs[i + 1 : i + 1 + n]]))
    return out


def _print_hits(query: str, result, hits: list, contexts, exact: bool, as_json: bool,
                rows: list[dict] | None = None) -> None:  # fmt: skip
    total = max(result.total, len(hits))
    count = f"showing {len(hits)} of {total} hits (--limit N for more)" if total > len(hits) else (
        f"{total} hit" + ("" if total == 1 else "s"))  # fmt: skip
    if as_json:
        rows = rows if rows is not None else [h.to_dict() for h in hits]
        if contexts is not None:
            for row, (before, after) in zip(rows, contexts, strict=True):
                row["context"] = before + after
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        sys.stdout.flush()
        return
    if not hits:
        click.echo(f"no hits for {query}", err=True)
    elif not result.exact_found and not exact:
        click.echo(f"no exact match for {query}; these sound or are spelled alike:", err=True)
    for i, h in enumerate(hits):
        tag = "" if h.match in ("exact", "stem") else f"  [{h.match}]"
        before, after = contexts[i] if contexts is not None else ([], [])
        if contexts is not None and i:
            click.echo("--")
        for c in before:
            click.echo(f"    {clock(c['start'])}  {c['speaker'] or '-'}  {c['text'].strip()}")
        click.echo(f"{h.video}  {clock(h.start)}  {h.speaker or '-'}  {h.highlighted()}{tag}")
        for c in after:
            click.echo(f"    {clock(c['start'])}  {c['speaker'] or '-'}  {c['text'].strip()}")
    sys.stdout.flush()
    if hits:
        click.echo(count, err=True)
    if result.suggestions and not result.exact_found:
        click.echo("did you mean: " + ", ".join(result.suggestions), err=True)


def _write_quietly_to_a_closed_pipe(write) -> None:
    """`search ... | head -1`: the reader has all it wants; stop writing and exit 0, as `grep` does."""
    try:
        write()
    except BrokenPipeError:
        try:  # the interpreter flushes stdout again on exit: let that go nowhere
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # not a real file (tests' runner)
            pass
        sys.exit(int(ExitStatus.OK))


# --------------------------------------------------------------------------- export
@main.command("export")
@click.argument("video")
@library_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS + ("docx",)),
    default=None,
    help="Output format (default: from -o's extension, else srt).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here instead of stdout.",
)
@click.option("--no-speakers", is_flag=True, help="Leave speaker names out.")
def export_cmd(video, library_dir, fmt, output, no_speakers):
    """Write VIDEO's transcript as subtitles (srt, vtt), text or JSON."""
    library = open_library(library_dir)
    try:
        transcript = library.resolve(video)
    except LookupError as e:
        fail(str(e))
    if fmt is None:
        fmt = _format_for(output)
    if fmt == "docx":  # binary: pipeline.footage.docx_transcript writes the file itself
        from .footage.docx_transcript import write_docx
        from .footage.outputs import check_folder

        if output is None:
            fail("--format docx needs -o FILE.docx", ExitStatus.USAGE)
        check_folder(output)
        write_docx(transcript, output, speakers=not no_speakers)
        click.echo(f"wrote {printable(output)}", err=True)
        return
    text = export(transcript, fmt, speakers=not no_speakers)
    if output is None:
        click.echo(text, nl=False)
    else:
        folder = output.absolute().parent
        if not folder.is_dir():  # made for no one: a typo in the folder would go unnoticed
            what = "is a file, not a folder" if folder.exists() else "no such folder"
            fail(f"{printable(output)}: {printable(folder)} {what}")
        write_text_atomic(output, text)  # a full disk leaves the old file, not an empty one
        click.echo(f"wrote {printable(output)}", err=True)


def _format_for(output: Path | None) -> str:
    """--format from -o's extension (srt without one); an extension no format is written in is a usage error."""
    choices = next(p.type.choices for p in click.get_current_context().command.params if p.name == "fmt")
    try:
        return format_for(output, tuple(choices))
    except FormatError as e:
        fail(f"{printable(output)}: {e}", ExitStatus.USAGE)


# --------------------------------------------------------------------------- list, speakers, remove
@main.command("list")
@library_option
@click.option("--json", "as_json", is_flag=True, help="Print the videos as a JSON array.")
def list_cmd(library_dir, as_json):
    """Every video: state, duration, language, speakers, engine and model; failures with their error."""
    rows = list_videos(open_library(library_dir))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for r in rows:
        if r["state"] == "done":
            speakers = ", ".join(r["speakers"]) or "-"
            click.echo(f"{r['video']}  done  {clock(r['duration'] or 0)}  {r['language']}  "
                       f"{r['engine']}/{r['model']}  speakers: {speakers}  {r['path']}")  # fmt: skip
        else:
            extra = f"  {r['error']}" if r["error"] else (f"  at {r['stage']}" if r.get("stage") else "")
            click.echo(f"{r['video'] or '-'}  {r['state']}  {r['path']}{extra}")
    if not rows:
        click.echo("the library is empty: `interview-index ingest VIDEO...`", err=True)


@main.command()
@click.argument("video")
@library_option
@click.option(
    "--rename",
    "renames",
    multiple=True,
    metavar='LABEL="Name"',
    help='Name a speaker, e.g. --rename SPEAKER_1="Alexander Okunev" (repeatable).',
)
@click.option("--json", "as_json", is_flag=True, help="Print the speakers as a JSON array.")
def speakers(video, library_dir, renames, as_json):
    """List VIDEO's speakers with talk time and first words, or name them."""
    library = open_library(library_dir)
    try:
        transcript = library.resolve(video)
        if renames:
            mapping = {}
            for item in renames:
                if "=" not in item:
                    fail(f"--rename takes LABEL=Name, got {item!r}", ExitStatus.USAGE)
                key, name = item.split("=", 1)
                mapping[key.strip()] = name.strip().strip('"')
            from .people import name_speakers

            named = name_speakers(library, transcript, mapping)
            transcript = named.transcript
            if named.without_voice:
                click.echo(f"note: no voice kept for {', '.join(named.without_voice)} of {transcript.video_id} "
                           "(ingested before voiceprints were kept): named here only; "
                           "`interview-index ingest --force` it to find them elsewhere", err=True)  # fmt: skip
    except LookupError as e:
        fail(str(e))
    stats = speaker_stats(transcript)
    if as_json:
        click.echo(json.dumps([s.__dict__ for s in stats], ensure_ascii=False, indent=1))
        return
    for s in stats:
        named = f"{s.name} ({s.label}{_how_sure(s.state, s.similarity)})" if s.name != s.label else s.label
        click.echo(f'{named}  {clock(s.talk_time)}  {s.segments} segments  "{s.first_words}…"')


def _how_sure(state: str | None, similarity: float | None) -> str:
    """The ", suggested 0.87" shown after a name the voice gave (a confirmed name says nothing more)."""
    if state != "suggested":
        return ""
    return f", suggested {similarity:.2f}" if similarity is not None else ", suggested"


MIN_PREFIX = 6  # shorter id prefixes are confirmed before anything is removed


def stdin_is_interactive() -> bool:
    return sys.stdin.isatty()


@main.command()
@click.argument("videos", nargs=-1, required=True)
@library_option
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Do not ask, even for a short id prefix (for scripts).")
def remove(videos, library_dir, assume_yes):
    """Delete videos: transcript, index entries, job record (failed and damaged entries too).

    VIDEOS are ids, original paths, or id prefixes; a prefix shorter than 6
    characters is confirmed first, and refused without a terminal unless --yes.
    """
    library = open_library(library_dir)
    status = ExitStatus.OK
    for ref in videos:
        try:
            entry = library.find(ref)
            if entry.how == "prefix" and len(ref) < MIN_PREFIX and not assume_yes:
                if not stdin_is_interactive():
                    fail(f"{ref}: a prefix shorter than {MIN_PREFIX} characters; give the id ({entry.key}) "
                         "or --yes to remove it")  # fmt: skip
                if not click.confirm(f"remove {entry.key} ({printable(entry.path)})?", default=False, err=True):
                    click.echo(f"kept {entry.key}", err=True)
                    continue
            remove_entry(library, entry)
        except (LookupError, BusyError, InterviewIndexError) as e:
            click.echo(f"error: {errors.message(e, library.root)}", err=True)
            status = ExitStatus.ERROR
            continue
        click.echo(f"removed {entry.key} ({printable(entry.path)})", err=True)
    sys.exit(int(status))


@main.command("reindex")
@library_option
def reindex_cmd(library_dir):
    """Rebuild the index from the saved transcripts (also upgrades an old index); damaged ones are named."""
    result = reindex(open_library(library_dir))
    for d in result.damaged:
        hint = f" (`interview-index remove {d.key}` deletes it)" if d.key else ""
        click.echo(f"error: {d}; left out of the index{hint}", err=True)
    click.echo(f"reindexed {result.videos} videos", err=True)
    if result.damaged:
        sys.exit(int(ExitStatus.ERROR))


# --------------------------------------------------------------------------- people
@main.group(invoke_without_command=True)
@library_option
@click.option("--json", "as_json", is_flag=True, help="Print the people as a JSON array.")
@click.pass_context
def people(ctx, library_dir, as_json):
    """Known people across the archive: the videos they speak in, talk time, how sure each match is."""
    if ctx.invoked_subcommand is not None:
        if library_dir is not None:  # `people --library DIR match`: the subcommand's library too
            ctx.find_root().params["library_dir"] = library_dir
        return
    from .people import list_people

    rows = list_people(open_library(library_dir))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not rows:
        click.echo("no known people: `interview-index speakers VIDEO --rename SPEAKER_1=\"Name\"` names a voice",
                   err=True)  # fmt: skip
    for r in rows:
        n = len(r["videos"])
        click.echo(f"{r['name']}  {n} video{'' if n == 1 else 's'}  {clock(r['talk_time'])}  "
                   f"{r['prints']} voiceprint{'' if r['prints'] == 1 else 's'}")  # fmt: skip
        for v in r["videos"]:
            click.echo(f"  {_speaker_line(v)}")


def _speaker_line(v: dict) -> str:
    sure = "" if v["similarity"] is None else f" {v['similarity']:.2f}"
    return f"{v['video']}  {v['speaker_label']}  {v['speaker_state']}{sure}  {clock(v['talk_time'])}"


@people.command("match")
@library_option
@click.option("--json", "as_json", is_flag=True, help="Print every suggestion as a JSON array.")
def people_match(library_dir, as_json):
    """Compare every speaker not named yet, in every video, with the known people; print the suggestions."""
    from .people import THRESHOLD, match_library

    report = match_library(open_library(library_dir))
    if as_json:
        click.echo(json.dumps(report.suggestions, ensure_ascii=False, indent=1))
    else:
        for v in report.suggestions:
            click.echo(f"{v['speaker']}  {_speaker_line(v)}")
        click.echo(f"{len(report.suggestions)} suggested in {report.videos} videos (similarity >= {THRESHOLD})",
                   err=True)  # fmt: skip
    if report.without_voices:
        click.echo(f"{len(report.without_voices)} videos were ingested before voices were kept "
                   f"(`interview-index ingest --force` them to match): {', '.join(report.without_voices[:5])}",
                   err=True)  # fmt: skip


def _people_op(as_json: bool, run) -> None:
    """Run one people operation; its row (or person) as JSON or one line."""
    try:
        row = run()
    except (LookupError, ValueError) as e:
        fail(str(e))
    if as_json:
        click.echo(json.dumps(row, ensure_ascii=False, indent=1))
    elif "speaker_label" in row:
        click.echo(f"{row['speaker']}  {_speaker_line(row)}")
    else:
        click.echo(row["name"])


@people.command("confirm")
@click.argument("video")
@click.argument("label")
@library_option
@click.option("--json", "as_json", is_flag=True, help="Print the speaker as JSON.")
def people_confirm(video, label, library_dir, as_json):
    """The name suggested for LABEL in VIDEO is right: confirmed, the voice added to the person's prints."""
    from .people import confirm

    _people_op(as_json, lambda: confirm(open_library(library_dir), video, label))


@people.command("reject")
@click.argument("video")
@click.argument("label")
@library_option
@click.option("--json", "as_json", is_flag=True, help="Print the speaker as JSON.")
def people_reject(video, label, library_dir, as_json):
    """LABEL in VIDEO is not the person suggested: the name is removed and never suggested for it again."""
    from .people import reject

    _people_op(as_json, lambda: reject(open_library(library_dir), video, label))


def _person_row(library: Library, person) -> dict:
    from .people import list_people

    return next((r for r in list_people(library) if r["id"] == person.id), {"name": person.name, "id": person.id})


@people.command("merge")
@click.argument("source")
@click.argument("target")
@library_option
@click.option("--json", "as_json", is_flag=True, help="Print the merged person as JSON.")
def people_merge(source, target, library_dir, as_json):
    """SOURCE and TARGET are one person: SOURCE's voiceprints and videos go to TARGET, whose name is kept."""
    from .people import merge

    library = open_library(library_dir)
    _people_op(as_json, lambda: _person_row(library, merge(library, source, target)))


@people.command("rename")
@click.argument("person")
@click.argument("new_name")
@library_option
@click.option("--json", "as_json", is_flag=True, help="Print the person as JSON.")
def people_rename(person, new_name, library_dir, as_json):
    """Call PERSON NEW_NAME everywhere: every video, the index, exports, the web page."""
    from .people import rename_person

    library = open_library(library_dir)
    _people_op(as_json, lambda: _person_row(library, rename_person(library, person, new_name)))


@people.command("forget")
@click.argument("person")
@library_option
@click.option("--json", "as_json", is_flag=True, help="Print the person forgotten as JSON.")
def people_forget(person, library_dir, as_json):
    """Delete PERSON: their voiceprints (biometric data) and their name in every video."""
    from .people import forget

    library = open_library(library_dir)

    def run() -> dict:
        gone = forget(library, person)
        return {"name": gone.name, "id": gone.id, "forgotten": True}

    _people_op(as_json, run)
    if not as_json:
        click.echo("voiceprints deleted", err=True)


# --------------------------------------------------------------------------- glossary
@main.group()
def glossary():
    """The library-wide list of names every ingest tells the recognizer about."""


@glossary.command("add")
@click.argument("terms", nargs=-1, required=True)
@library_option
def glossary_add(terms, library_dir):
    """Add TERMS (names, companies, places); prints the glossary."""
    for t in GlossaryFile(open_library(library_dir).glossary_path).add(terms):
        click.echo(t)


@glossary.command("remove")
@click.argument("terms", nargs=-1, required=True)
@library_option
def glossary_remove(terms, library_dir):
    """Remove TERMS (any case); prints what is left."""
    for t in GlossaryFile(open_library(library_dir).glossary_path).remove(terms):
        click.echo(t)


@glossary.command("list")
@library_option
def glossary_list(library_dir):
    """Print the glossary, one term a line."""
    for t in GlossaryFile(open_library(library_dir).glossary_path).terms():
        click.echo(t)


# --------------------------------------------------------------------------- clips
@main.command()
@click.argument("query")
@library_option
@click.option("--speaker", default=None, help="Only this speaker (name or label, any case).")
@click.option("--video", default=None, help="Only this video (id or path).")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True, help="At most this many hits.")
@click.option("--exact", is_flag=True, help="No sounds-alike or fuzzy matches.")
@click.option("--pad", type=click.FloatRange(0, 60), default=1.0, show_default=True,
              help="Seconds kept before and after the words (moved out to word boundaries).")  # fmt: skip
@click.option("--sentence", is_flag=True, help="Cut the whole sentence around each hit.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="One reel (.mp4 .mov .mkv .m4a), or a sheet or timeline (.csv .docx .edl .xml .otio).")  # fmt: skip
@click.option("--separate", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="One file per hit in this folder.")  # fmt: skip
@click.option("--burn-subtitles", is_flag=True, help="Draw the words spoken, with the speaker's name.")
@click.option("--lower-third", is_flag=True, help="Name the video and time for the first seconds of each clip.")
def clips(query, library_dir, speaker, video, limit, exact, pad, sentence, output, separate, burn_subtitles,
          lower_third):  # fmt: skip
    """Cut the hits for QUERY out of the videos: one reel (-o), or a file each (--separate)."""
    from index.search import search as run_search

    from .footage.outputs import make_clips
    from .footage.render import Look

    library = open_library(library_dir)
    video_id = library.resolve(video).video_id if video else None
    problem = index_problem(library)
    if problem:
        fail(problem)
    result = run_search(library.index_dir, query, speaker=speaker, video=video_id, limit=limit, exact=exact)
    if not result.speaker_found:
        fail(f"no speaker {speaker!r} in {video or 'the library'} (`interview-index people` lists known people)")
    hits = result.hits
    look = Look(subtitles=burn_subtitles, lower_third=lower_third)
    outcome = make_clips(library, hits, output=output, separate=separate, pad=pad, sentence=sentence, look=look,
                         query=query, echo=lambda line: click.echo(line, err=True))  # fmt: skip
    if outcome.failed:
        sys.exit(int(ExitStatus.ERROR))


# --------------------------------------------------------------------------- serve
@main.command()
@library_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address; any but 127.0.0.1 needs a token.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port to listen on.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser.")
@click.option("--token", default=None, help="Access token (default for a non-local --host: a new one, printed).")
@click.option("--lead", type=click.FloatRange(0, 30), default=1.5, show_default=True,
              help="Seconds played before a hit's word when a hit is opened.")  # fmt: skip
def serve(library_dir, host, port, open_browser, token, lead):
    """A web page over the archive: search, click a hit, the video plays from the word."""
    from .web.serve import ServeError
    from .web.serve import serve as run_server

    try:
        run_server(open_library(library_dir), host=host, port=port, token=token, open_browser=open_browser,
                   lead=lead, echo=lambda line: click.echo(line, err=True))  # fmt: skip
    except ServeError as e:
        fail(str(e))


# --------------------------------------------------------------------------- demo
def sample_video() -> Path:
    return Path(str(resources.files("pipeline") / "data" / "sample_interview.mp4"))


@main.command()
@library_option
@click.option("--query", default="tax relief", show_default=True, help="What the demo searches for.")
@click.pass_context
def demo(ctx, library_dir, query):
    """Ingest the bundled sample interview, search it, and print its subtitles."""
    library = open_library(library_dir)
    video = sample_video()
    click.echo(f"== ingest {video}", err=True)
    summary = Ingestor(library, IngestOptions(), CliReporter()).run([video])
    if summary.failed:
        fail(summary.failed[0].error or "ingest failed")
    vid = summary.results[0].video_id
    click.echo(f"\n== search {query!r}", err=True)
    ctx.invoke(search, query=query, library_dir=library_dir, speaker=None, video=None, limit=5,
               exact=False, as_json=False)  # fmt: skip
    click.echo(f"\n== speakers {vid}", err=True)
    ctx.invoke(speakers, video=vid, library_dir=library_dir, renames=(), as_json=False)
    click.echo(f"\n== export {vid} --format srt", err=True)
    ctx.invoke(export_cmd, video=vid, library_dir=library_dir, fmt="srt", output=None, no_speakers=False)


if __name__ == "__main__":  # pragma: no cover
    main()
