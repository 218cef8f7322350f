"""The routes: a thin layer over the library functions the CLI uses.

JSON API (kept stable for users' scripts):
    GET  /api/search?q=&speaker=&video=&limit=&exact=   the array `search --json` prints
    GET  /api/videos                                    `list --json`
    GET  /api/videos/{id}                               `export --format json`
    POST /api/videos/{id}/speakers   {"speaker", "name"}            `speakers --rename`
    POST /api/videos/{id}/segments/{n}  {"text", "base"}            a corrected segment
Pages: /  (search), /videos/{id}?t=SECONDS, /library; files: /media/{id}, /media/{id}/audio,
/videos/{id}/subtitles.{srt,vtt,txt,json}.

A video id only ever names a transcript in the library; the media file served
is the path that transcript recorded, never a path taken from the request.
"""

from __future__ import annotations

import html
import json
import mimetypes
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from index.errors import SearchIndexError

from ..export import FORMATS, export, to_json_dict
from ..library import Library
from ..manage import index_problem, list_videos
from ..timefmt import clock
from ..transcript import Transcript
from . import edits, playback

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,200}$")  # no dots, no separators
MAX_LIMIT = 10000
SUBTITLE_TYPES = {
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "json": "application/json; charset=utf-8",
}
HIT_OPEN, HIT_CLOSE = "\ue000", "\ue001"  # private-use marks, split into parts for the page
NO_STORE = {"cache-control": "no-store"}


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message
        super().__init__(message)


def error_response(request: Request, status: int, message: str) -> Response:
    """JSON for the API and scripts; a small page for a browser asking for HTML."""
    wants_html = "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api/")
    if wants_html:
        page = request.app.state.templates.get_template("error.html").render(status=status, message=message)
        return HTMLResponse(page, status_code=status)
    return JSONResponse({"error": message, "status": status}, status_code=status)


def library(request: Request) -> Library:
    return request.app.state.library


def _transcript(request: Request, video_id: str) -> Transcript:
    """The library's transcript for an id: a name in the transcripts folder, nothing else."""
    lib = library(request)
    missing = ApiError(404, f"{video_id}: no such video in the library")
    if not ID_RE.match(video_id):
        raise missing
    try:
        real = lib.transcript_path(video_id).resolve(strict=True)
        if real.parent != lib.transcripts_dir.resolve() or not real.is_file():
            raise missing
        return _cache.get(lib, video_id, real)
    except (OSError, RuntimeError, LookupError) as e:  # gone, a symlink loop, damaged
        raise ApiError(404, str(e) if isinstance(e, LookupError) else missing.message) from None
    except ValueError as e:  # an id the library refuses, or (older libraries) unreadable JSON
        raise ApiError(404, f"{video_id}: {e}") from None


class _TranscriptCache:
    """The last few transcripts read, per file identity (inode, size, mtime): a long interview
    takes a tenth of a second to load, and opening several hits of one video reads it each time.
    A save replaces the file (new inode), so an edited transcript is never served stale.
    Callers must not change what they get (edits load their own copy under the video's lock)."""

    def __init__(self, size: int = 8):
        self.size = size
        self.items: OrderedDict[tuple, tuple[Transcript, list]] = OrderedDict()
        self.lock = threading.Lock()

    def _key(self, lib: Library, video_id: str, path: Path) -> tuple:
        st = path.stat()
        return (str(lib.root), video_id, st.st_ino, st.st_size, st.st_mtime_ns)

    def get(self, lib: Library, video_id: str, path: Path) -> Transcript:
        return self.entry(lib, video_id, path)[0]

    def entry(self, lib: Library, video_id: str, path: Path) -> tuple[Transcript, list]:
        key = self._key(lib, video_id, path)
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        t = lib.load_transcript(video_id)
        value: tuple[Transcript, list] = (t, [])  # the list holds the page's paragraphs once built
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


_cache = _TranscriptCache()


def _video_filter(request: Request, ref: str | None) -> str | None:
    """The search's video filter: an id or a unique id prefix (as the CLI), never a path on this machine."""
    if not ref:
        return None
    ids = library(request).video_ids()
    if ref in ids:
        return ref
    prefixed = [i for i in ids if i.startswith(ref)]
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        raise ApiError(400, f"{ref}: ambiguous, matches {', '.join(prefixed)}")
    raise ApiError(404, f"{ref}: no such video in the library (see `interview-index list`)")


def _limit(request: Request, default: int) -> int:
    raw = request.query_params.get("limit")
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"limit {raw!r}: not a whole number") from None
    if not 1 <= value <= MAX_LIMIT:
        raise ApiError(400, f"limit {value}: must be between 1 and {MAX_LIMIT}")
    return value


def _run_search(request: Request, limit: int):
    from index.errors import QueryError
    from index.search import search

    p = request.query_params
    q = p.get("q", "")
    exact = p.get("exact", "").lower() in ("1", "true", "yes", "on")
    video = _video_filter(request, p.get("video"))
    problem = index_problem(library(request))  # as the CLI: a deleted or incomplete index must not answer "no hits"
    if problem:
        raise ApiError(503, problem)
    try:
        return search(
            library(request).index_dir,
            q,
            speaker=p.get("speaker") or None,
            video=video,
            limit=limit,
            exact=exact,
        )
    except QueryError as e:
        raise ApiError(400, str(e)) from None
    except SearchIndexError as e:  # an index of another version, a lock held too long
        raise ApiError(503, str(e)) from None


# --------------------------------------------------------------------------- API
def api_search(request: Request) -> Response:
    from ..people import hit_rows

    result = _run_search(request, _limit(request, 20))
    return JSONResponse(hit_rows(library(request), result.hits), headers=NO_STORE)  # as `search --json`


def ui_search(request: Request) -> Response:
    """What the search page draws: the hits with their highlight split out, and links."""
    limit = _limit(request, 100)
    result = _run_search(request, limit + 1)
    hits = result.hits[:limit]
    if request.query_params.get("order") == "time":
        hits = sorted(hits, key=lambda h: (h.video, h.start))
    lead = request.app.state.lead
    q = request.query_params.get("q", "")
    out = []
    for h in hits:
        marked = h.highlighted(HIT_OPEN, HIT_CLOSE)
        parts = []
        for chunk in re.split(f"({HIT_OPEN}[^{HIT_CLOSE}]*{HIT_CLOSE})", marked):
            if chunk.startswith(HIT_OPEN):
                parts.append([chunk[1:-1], True])
            elif chunk:
                parts.append([chunk, False])
        query = urlencode(
            {"t": f"{max(0.0, h.start - lead):.2f}", "hs": f"{h.start:.3f}", "he": f"{h.end:.3f}", "q": q}
        )
        out.append({**h.to_dict(), "clock": clock(h.start), "parts": parts, "href": f"/videos/{h.video}?{query}"})
    body = {
        "hits": out,
        "count": len(out),
        "more": len(result.hits) > limit,
        "exact_found": result.exact_found,
        "suggestions": result.suggestions,
    }
    return JSONResponse(body, headers=NO_STORE)


def api_videos(request: Request) -> Response:
    return JSONResponse(list_videos(library(request)), headers=NO_STORE)


def api_video(request: Request) -> Response:
    t = _transcript(request, request.path_params["video_id"])
    return JSONResponse(to_json_dict(t), headers=NO_STORE)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return data


async def api_rename(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    t = _transcript(request, request.path_params["video_id"])
    data = await _json_body(request)
    key, name = data.get("speaker"), data.get("name")
    if not isinstance(key, str) or not isinstance(name, str) or not key.strip():
        raise ApiError(400, 'give {"speaker": LABEL or current name, "name": new name}')
    if len(name) > 200:
        raise ApiError(400, "a speaker name is at most 200 characters")
    try:
        t = await run_in_threadpool(edits.rename_speaker, library(request), t.video_id, key, name)
    except LookupError as e:
        raise ApiError(404, str(e)) from None
    except SearchIndexError as e:
        raise ApiError(503, f"{e}; the name is saved: `interview-index reindex` updates the index") from None
    return JSONResponse({"speakers": [{"label": s.label, "name": s.display} for s in t.speakers]})


async def api_edit(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    t = _transcript(request, request.path_params["video_id"])
    data = await _json_body(request)
    text, base = data.get("text"), data.get("base")
    if not isinstance(text, str) or (base is not None and not isinstance(base, str)):
        raise ApiError(400, 'give {"text": corrected text, "base": the text it replaces}')
    index = request.path_params["index"]
    try:
        t = await run_in_threadpool(edits.edit_segment, library(request), t.video_id, index, text, base)
    except IndexError as e:
        raise ApiError(404, str(e)) from None
    except ValueError as e:
        raise ApiError(400, str(e)) from None
    except edits.EditConflict as e:
        raise ApiError(409, str(e)) from None
    except SearchIndexError as e:
        raise ApiError(503, f"{e}; the correction is saved: `interview-index reindex` updates the index") from None
    seg = t.segments[index]
    words = [{"word": w.word, "start": w.start, "end": w.end} for w in seg.words]
    return JSONResponse({"segment": index, "text": seg.text, "words": words})


# --------------------------------------------------------------------------- files
def media(request: Request) -> Response:
    t = _transcript(request, request.path_params["video_id"])
    path = Path(t.path)
    if not path.is_file():
        raise ApiError(404, f"{t.video_id}: its media file {t.path} is gone")
    ctype = playback.mime_type(path)
    return FileResponse(path, media_type=ctype, headers={"cache-control": "private, max-age=3600"})


def media_audio(request: Request) -> Response:
    """The audio, transcoded once for browsers that cannot play the original."""
    t = _transcript(request, request.path_params["video_id"])
    if not Path(t.path).is_file():
        raise ApiError(404, f"{t.video_id}: its media file {t.path} is gone")
    try:
        path = playback.audio_copy(library(request), t)
    except Exception as e:  # noqa: BLE001 - MediaError or ffmpeg missing: a one-line cause either way
        raise ApiError(500, f"{t.video_id}: cannot make a playable audio copy ({e})") from None
    return FileResponse(path, media_type="audio/mp4", headers={"cache-control": "private, max-age=3600"})


def subtitles(request: Request) -> Response:
    t = _transcript(request, request.path_params["video_id"])
    fmt = request.path_params["fmt"]
    if fmt not in FORMATS:
        raise ApiError(404, f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    headers = dict(NO_STORE)
    if request.query_params.get("download"):
        headers["content-disposition"] = f'attachment; filename="{t.video_id}.{fmt}"'
    return Response(export(t, fmt), media_type=SUBTITLE_TYPES[fmt], headers=headers)


# --------------------------------------------------------------------------- pages
def _render(request: Request, name: str, **context: Any) -> HTMLResponse:
    page = request.app.state.templates.get_template(name).render(token_mode=request.app.state.token_mode, **context)
    return HTMLResponse(page, headers=NO_STORE)


def _stream(request: Request, name: str, **context: Any) -> StreamingResponse:
    """A long page sent as it is rendered: the player and its header go out before the whole transcript."""
    template = request.app.state.templates.get_template(name)
    chunks = template.generate(token_mode=request.app.state.token_mode, **context)

    def batched() -> Iterator[bytes]:  # Jinja yields tiny pieces; send them in 64 KB writes
        buf: list[str] = []
        size = 0
        for piece in chunks:
            buf.append(piece)
            size += len(piece)
            if size >= 65536 or "</video>" in piece or "</audio>" in piece:
                yield "".join(buf).encode()
                buf, size = [], 0
        yield "".join(buf).encode()

    return StreamingResponse(batched(), media_type="text/html; charset=utf-8", headers=NO_STORE)


def search_page(request: Request) -> Response:
    p = request.query_params
    return _render(request, "search.html", q=p.get("q", ""), speaker=p.get("speaker", ""),
                   video=p.get("video", ""), order=p.get("order", "best"))  # fmt: skip


def library_page(request: Request) -> Response:
    rows = list_videos(library(request))
    for r in rows:
        r["length"] = clock(r["duration"]) if r.get("duration") else "-"
    return _render(request, "library.html", rows=rows)


def _float(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, f"{name}={raw!r}: not a number of seconds") from None
    if value != value or value < 0 or value > 1e7:
        raise ApiError(400, f"{name}={raw!r}: not a time in the video")
    return value


def words_html(seg) -> Markup:
    """A segment's words as clickable spans, every word escaped.

    Built here rather than in a template loop: a long interview has tens of
    thousands of words, and this is about ten times faster than Jinja's loop.
    """
    if not seg.words:
        return escape(seg.text) + Markup(" ")
    esc = html.escape
    return Markup(
        "".join(f'<span class="w" data-s="{w.start}" data-e="{w.end}">{esc(w.word)}</span> ' for w in seg.words)
    )


def turns(t: Transcript) -> list[dict[str, Any]]:
    """Paragraphs: the transcript's speaker turns (Transcript.turns, across any pause, as `export
    --format txt` reads), each segment with its index (what a correction names) and its words."""
    colour = {s.label: i % 8 for i, s in enumerate(t.speakers)}
    index = {id(seg): i for i, seg in enumerate(t.segments)}
    out: list[dict[str, Any]] = []
    for turn in t.turns(None):
        segments = [{"index": index[id(seg)], "text": seg.text, "words_html": words_html(seg)} for seg in turn.segments]
        label = turn.speaker
        name = t.speaker_name(label) or ""
        out.append({"label": label, "name": name, "colour": colour.get(label, 7), "clock": clock(turn.start),
                    "segments": segments})  # fmt: skip
    return out


def _turns_cached(request: Request, t: Transcript) -> list[dict[str, Any]]:
    lib = library(request)
    try:
        cached, built = _cache.entry(lib, t.video_id, lib.transcript_path(t.video_id).resolve(strict=True))
    except OSError:
        return turns(t)
    if cached is not t:  # replaced since `t` was read: build from what the page shows
        return turns(t)
    if not built:
        built.append(turns(t))
    return built[0]


def video_page(request: Request) -> Response:
    t = _transcript(request, request.path_params["video_id"])
    start = _float(request, "t")
    hit_start, hit_end = _float(request, "hs"), _float(request, "he")
    play = playback.plan(library(request), t)
    data = {
        "video": t.video_id,
        "t": start,
        "hitStart": hit_start,
        "hitEnd": hit_end if hit_end is not None else hit_start,
        "q": request.query_params.get("q", ""),
    }
    return _stream(request, "video.html", t=t, turns=_turns_cached(request, t), play=play, data=data, formats=FORMATS,
                   duration=clock(t.duration), q=data["q"])  # fmt: skip


def routes() -> list[Route]:
    return [
        Route("/", search_page),
        Route("/library", library_page),
        Route("/videos/{video_id}", video_page),
        Route("/videos/{video_id}/subtitles.{fmt}", subtitles),
        Route("/media/{video_id}", media),
        Route("/media/{video_id}/audio", media_audio),
        Route("/api/search", api_search),
        Route("/ui/search", ui_search),
        Route("/api/videos", api_videos),
        Route("/api/videos/{video_id}", api_video),
        Route("/api/videos/{video_id}/speakers", api_rename, methods=["POST"]),
        Route("/api/videos/{video_id}/segments/{index:int}", api_edit, methods=["POST"]),
    ]


mimetypes.add_type("text/vtt", ".vtt")
