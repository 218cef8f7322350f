"""The web page's HTTP layer (Starlette test client): the JSON API, media ranges, edits, security.

Test libraries are built from the fixtures' truth (Library.save_transcript +
index.writer.add_transcript): real files, real whoosh, no recognizer.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from index.writer import add_transcript
from pipeline.export import to_json_dict
from pipeline.library import Library, file_sha256, make_video_id
from pipeline.transcript import Segment, Speaker, Transcript, Word

from conftest import FIXTURES, run_cli, truth, truth_word
from fake_engine import _truth_words

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from pipeline.web import create_app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers
def transcript_from_truth(name: str, media: Path) -> Transcript:
    """The fixture's true words as a saved transcript would hold them: a segment per turn."""
    t = truth(name)
    labels: dict[str, str] = {}
    for turn in t["turns"]:
        labels.setdefault(turn["speaker"], f"SPEAKER_{len(labels) + 1}")
    words = _truth_words(t)
    segments = []
    for turn in t["turns"]:
        label = labels[turn["speaker"]]
        ws = [Word(w["word"], round(w["start"], 3), round(w["end"], 3), 0.9, label) for w in words
              if w["turn"] == turn["index"]]  # fmt: skip
        segments.append(Segment(ws[0].start, ws[-1].end, " ".join(w.word for w in ws), ws, label))
    sha = file_sha256(media)
    return Transcript(
        video_id=make_video_id(media, sha), path=str(media.absolute()), duration=t["duration_s"] + t["audio_offset"],
        language="en", engine="truth", model="none", segments=segments,
        speakers=[Speaker(label) for label in labels.values()], sha256=sha, created="2026-01-01T00:00:00+00:00",
    )  # fmt: skip


def build_library(root: Path, names: tuple[str, ...] = ("two_voices", "three_voices")) -> tuple[Library, dict]:
    """A library holding `names` (copied media, truth transcripts, a real index); returns it and name -> id."""
    lib = Library(root / "library").ensure()
    media_dir = root / "media"
    media_dir.mkdir(parents=True, exist_ok=True)
    ids = {}
    for name in names:
        src = ROOT / truth(name)["media"]
        dst = media_dir / src.name
        shutil.copy(src, dst)
        tr = transcript_from_truth(name, dst)
        lib.save_transcript(tr)
        add_transcript(lib.index_dir, tr)
        ids[name] = tr.video_id
    return lib, ids


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Read-only: two fixtures; tests that change things build their own."""
    lib, ids = build_library(tmp_path_factory.mktemp("web"))
    return lib, ids


@pytest.fixture
def client(shared):
    lib, _ = shared
    with TestClient(create_app(lib), base_url="http://127.0.0.1:8765") as c:
        yield c


@pytest.fixture
def own(tmp_path):
    lib, ids = build_library(tmp_path)
    with TestClient(create_app(lib), base_url="http://127.0.0.1:8765") as c:
        yield lib, ids, c


def post(c: TestClient, url: str, body: dict, **headers):
    return c.post(url, content=json.dumps(body), headers={"content-type": "application/json", **headers})


# --------------------------------------------------------------------------- search API
@pytest.mark.parametrize(
    "query, extra",
    [
        ("harbour", []),
        ('"tax relief"', []),
        ("harb*", ["--limit", "2"]),
        ("budget OR lighthouse", []),
        ("harbour NOT relief", []),
        ("lighthous~", []),
    ],
)
def test_search_api_is_the_cli_json(client, shared, query, extra):
    lib, _ = shared
    cli = run_cli("search", query, "--json", *extra, library=lib.root)
    assert cli.exit_code == 0, cli.output
    params = {"q": query}
    if extra:
        params["limit"] = extra[1]
    r = client.get("/api/search", params=params)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == json.loads(cli.stdout)
    assert r.json(), "the fixtures say every one of these"


def test_search_api_filters_like_the_cli(client, shared):
    lib, ids = shared
    vid = ids["three_voices"]
    for args, params in [
        (["--video", vid], {"video": vid}),
        (["--video", vid[:12]], {"video": vid[:12]}),
        (["--speaker", "speaker_2"], {"speaker": "speaker_2"}),
    ]:
        cli = json.loads(run_cli("search", "the", "--json", *args, library=lib.root).stdout)
        api = client.get("/api/search", params={"q": "the", **params}).json()
        assert api == cli and api
    assert {h["video"] for h in client.get("/api/search", params={"q": "harbour", "video": vid}).json()} <= {vid}


def test_search_word_time_is_the_truth(client, shared):
    """The hit's time is the word's, within 0.05 s of the fixture's truth."""
    hits = client.get("/api/search", params={"q": "lighthouse"}).json()
    said = [w["start"] for w in truth("three_voices")["words"] if w["word"].lower() == "lighthouse"]
    assert hits and all(min(abs(h["start"] - s) for s in said) < 0.05 for h in hits)


@pytest.mark.parametrize("query", ["tax AND", '"unclosed', "*", "NOT budget", ""])
def test_bad_query_is_400_with_the_cli_message(client, shared, query):
    lib, _ = shared
    cli = run_cli("search", query, library=lib.root)
    assert cli.exit_code != 0
    line = cli.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ")
    r = client.get("/api/search", params={"q": query})
    assert r.status_code == 400
    assert r.json()["error"] == line.removeprefix("error: ")


@pytest.mark.parametrize("limit", ["0", "abc", "100000"])
def test_bad_limit_is_400(client, limit):
    r = client.get("/api/search", params={"q": "harbour", "limit": limit})
    assert r.status_code == 400 and "limit" in r.json()["error"]


def test_search_page_hits_have_parts_links_and_order(client, shared):
    _, ids = shared
    best = client.get("/ui/search", params={"q": "harbour OR lighthouse"}).json()
    by_time = client.get("/ui/search", params={"q": "harbour OR lighthouse", "order": "time"}).json()
    assert best["count"] == by_time["count"] == len(best["hits"]) >= 3
    keys = [(h["video"], h["start"]) for h in by_time["hits"]]
    assert keys == sorted(keys)
    assert [h["score"] for h in best["hits"]] == sorted((h["score"] for h in best["hits"]), reverse=True)
    hit = best["hits"][0]
    marked = [text for text, on in hit["parts"] if on]
    assert marked and all(m.lower().strip(".,") in ("harbour", "lighthouse") for m in marked)
    assert "".join(text for text, _ in hit["parts"]) == hit["text"]
    assert hit["href"].startswith(f"/videos/{hit['video']}?t=")
    limited = client.get("/ui/search", params={"q": "the", "limit": "2"}).json()
    assert limited["count"] == 2 and limited["more"] is True


# --------------------------------------------------------------------------- videos API
def test_videos_api_is_list_json_and_export_json(client, shared):
    lib, ids = shared
    assert client.get("/api/videos").json() == json.loads(run_cli("list", "--json", library=lib.root).stdout)
    for vid in ids.values():
        exported = json.loads(run_cli("export", vid, "--format", "json", library=lib.root).stdout)
        assert client.get(f"/api/videos/{vid}").json() == exported


@pytest.mark.parametrize(
    "url",
    ["/api/videos/nope", "/videos/nope", "/media/nope", "/videos/nope/subtitles.srt", "/api/search?q=a&video=nope"],
)
def test_unknown_video_is_404_json(client, url):
    r = client.get(url)
    assert r.status_code == 404
    assert "nope" in r.json()["error"]


def test_subtitles_are_the_export(client, shared):
    lib, ids = shared
    vid = ids["two_voices"]
    for fmt, ctype in [("srt", "application/x-subrip"), ("vtt", "text/vtt"), ("txt", "text/plain"),
                       ("json", "application/json")]:  # fmt: skip
        r = client.get(f"/videos/{vid}/subtitles.{fmt}", params={"download": "1"})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(ctype)
        assert f'filename="{vid}.{fmt}"' in r.headers["content-disposition"]
        assert r.text == run_cli("export", vid, "--format", fmt, library=lib.root).stdout
    assert client.get(f"/videos/{vid}/subtitles.exe").status_code == 404


# --------------------------------------------------------------------------- pages
def test_video_page_has_player_track_transcript_and_start(client, shared):
    _, ids = shared
    vid = ids["three_voices"]
    r = client.get(f"/videos/{vid}", params={"t": "12.5", "hs": "13.5", "he": "14", "q": "pier"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert f'<video id="player" controls preload="auto" src="/media/{vid}">' in page
    assert f'src="/videos/{vid}/subtitles.vtt" default' in page
    data = json.loads(page.split('<script id="page-data" type="application/json">')[1].split("</script>")[0])
    assert data == {"video": vid, "t": 12.5, "hitStart": 13.5, "hitEnd": 14.0, "q": "pier"}
    lighthouse = truth_word("three_voices", "lighthouse")["start"]
    assert f'data-s="{round(lighthouse, 3)}"' in page
    assert page.count('class="turn spk-') == len(truth("three_voices")["turns"])
    assert page.count('class="turn spk-0"') and page.count('class="turn spk-2"')  # three distinct colours
    for fmt in ("srt", "vtt", "txt", "json"):
        assert f"/videos/{vid}/subtitles.{fmt}?download=1" in page
    assert client.get(f"/videos/{vid}", params={"t": "abc"}).status_code == 400
    assert client.get(f"/videos/{vid}", params={"t": "-3"}).status_code == 400


def test_library_page_lists_videos_and_failures(own):
    lib, ids, c = own
    from pipeline.library import Job

    lib.save_job(Job(key="path-deadbeef", path="/tmp/broken.mp4", status="failed", stage="probe",
                     error="/tmp/broken.mp4: truncated or incomplete file (moov atom not found)"))  # fmt: skip
    page = c.get("/library").text
    for vid in ids.values():
        assert f'href="/videos/{vid}"' in page
    assert "moov atom not found" in page and "failed" in page
    assert "00:00:19" in page or "00:00:20" in page  # two_voices' length


def test_search_page_is_served_with_its_assets(client):
    page = client.get("/", params={"q": "harbour"}).text
    assert 'value="harbour"' in page and "/static/search.js" in page
    for asset, ctype in [("/static/search.js", "javascript"), ("/static/video.js", "javascript"),
                         ("/static/app.css", "text/css")]:  # fmt: skip
        r = client.get(asset)
        assert r.status_code == 200 and ctype in r.headers["content-type"]
    assert "http" not in client.get("/static/app.css").text  # nothing from a CDN


# --------------------------------------------------------------------------- media
def test_media_range_requests(client, shared):
    lib, ids = shared
    vid = ids["two_voices"]
    data = Path(lib.load_transcript(vid).path).read_bytes()
    size = len(data)
    whole = client.get(f"/media/{vid}")
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "video/mp4"
    for header, (a, b) in [
        ("bytes=0-99", (0, 99)),  # first
        (f"bytes={size // 2}-{size // 2 + 4095}", (size // 2, size // 2 + 4095)),  # middle
        ("bytes=-100", (size - 100, size - 1)),  # last, as a suffix
        (f"bytes={size - 1}-", (size - 1, size - 1)),  # the very last byte
    ]:
        r = client.get(f"/media/{vid}", headers={"Range": header})
        assert r.status_code == 206, header
        assert r.headers["content-range"] == f"bytes {a}-{b}/{size}"
        assert r.content == data[a : b + 1]
        assert int(r.headers["content-length"]) == b - a + 1
    assert client.get(f"/media/{vid}", headers={"Range": f"bytes={size + 10}-"}).status_code == 416


def test_unplayable_codec_plays_its_audio(tmp_path):
    """HEVC in Matroska: the page gets an audio player; the audio is an AAC copy, made once, on the same timeline."""
    from media.binaries import ffmpeg_exe
    from media.playback import playability, streams

    lib, ids = build_library(tmp_path, ("two_voices",))
    t = lib.load_transcript(ids["two_voices"])
    mkv = tmp_path / "media" / "hevc.mkv"
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", t.path, "-c:v", "libx265",
           "-preset", "ultrafast", "-x265-params", "log-level=none", "-c:a", "copy", str(mkv)]  # fmt: skip
    made = subprocess.run(cmd)
    if made.returncode != 0:
        pytest.skip("this ffmpeg has no libx265 encoder")
    assert not playability(streams(mkv)).playable
    assert playability(streams(t.path)).playable
    t.path = str(mkv)
    lib.save_transcript(t)
    with TestClient(create_app(lib), base_url="http://127.0.0.1:8765") as c:
        page = c.get(f"/videos/{t.video_id}").text
        assert f'<audio id="player" controls preload="auto" src="/media/{t.video_id}/audio">' in page
        assert "hevc" in page
        r = c.get(f"/media/{t.video_id}/audio", headers={"Range": "bytes=0-9"})
        assert r.status_code == 206 and r.headers["content-type"] == "audio/mp4"
        copy = lib.root / "playback" / f"{t.video_id}.m4a"
        made_at = copy.stat().st_mtime_ns
        assert c.get(f"/media/{t.video_id}/audio").status_code == 200
        assert copy.stat().st_mtime_ns == made_at  # cached, not transcoded again
    info = streams(copy)
    assert info.audio == ["aac"] and not info.video
    from media.audio import load_audio

    original, copied = load_audio(Path(t.path)), load_audio(copy)
    assert abs(len(original) - len(copied)) / 16000 < 0.1  # same timeline


def test_audio_file_gets_an_audio_player(tmp_path):
    from media.binaries import ffmpeg_exe

    lib, ids = build_library(tmp_path, ("two_voices",))
    t = lib.load_transcript(ids["two_voices"])
    wav = tmp_path / "media" / "two_voices.wav"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", t.path, "-vn", str(wav)], check=True)
    t.path = str(wav)
    lib.save_transcript(t)
    with TestClient(create_app(lib), base_url="http://127.0.0.1:8765") as c:
        assert (
            f'<audio id="player" controls preload="auto" src="/media/{t.video_id}">'
            in c.get(f"/videos/{t.video_id}").text
        )
        r = c.get(f"/media/{t.video_id}", headers={"Range": "bytes=0-3"})
        assert r.status_code == 206 and r.content == b"RIFF" and r.headers["content-type"] == "audio/wav"


# --------------------------------------------------------------------------- security: paths
@pytest.mark.parametrize(
    "url",
    [
        "/media/..%2f..%2f..%2fetc%2fpasswd",
        "/media/%2e%2e/%2e%2e/etc/passwd",
        "/media/%2e%2e",
        "/media//etc/passwd",
        "/media/%2Fetc%2Fpasswd",
        "/api/videos/..%2Findex",
        "/videos/%2e%2e%2ftranscripts",
        "/static/..%2f..%2fcli.py",
        "/static/%2e%2e/app.py",
        "/static//etc/passwd",
    ],
)
def test_no_path_from_the_request_is_served(client, url):
    r = client.get(url)
    assert r.status_code == 404, (url, r.status_code)
    assert b"root:" not in r.content and b"import" not in r.content


def test_symlinked_transcript_out_of_the_library_is_not_served(own, tmp_path):
    lib, ids, c = own
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("top secret")
    forged = lib.load_transcript(ids["two_voices"])
    forged.video_id, forged.path = "forged", str(secret)
    outside_json = tmp_path / "outside" / "forged.json"
    outside_json.write_text(json.dumps(forged.to_dict()))
    (lib.transcripts_dir / "forged.json").symlink_to(outside_json)
    for url in ("/media/forged", "/api/videos/forged", "/videos/forged"):
        r = c.get(url)
        assert r.status_code == 404 and b"top secret" not in r.content


def test_transcript_text_is_escaped_everywhere(own):
    lib, ids, c = own
    vid = ids["two_voices"]
    t = lib.load_transcript(vid)
    evil = "<script>alert(1)</script>"
    t.segments[0].words[1].word = evil
    t.segments[0].text = " ".join(w.word for w in t.segments[0].words)
    t.speakers[0].name = '<img src=x onerror="alert(2)">'
    lib.save_transcript(t)
    add_transcript(lib.index_dir, t)
    for url in (f"/videos/{vid}?q=%3Cscript%3Ealert(3)%3C/script%3E&hs=0.5", "/library", "/?q=%3Cscript%3E"):
        page = c.get(url).text
        assert "<script>alert" not in page and "<img src=x" not in page, url
    page = c.get(f"/videos/{vid}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=" in page
    csp = c.get(f"/videos/{vid}").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    hits = c.get("/ui/search", params={"q": "script"}).json()["hits"]
    assert any(
        evil in "".join(text for text, _ in h["parts"]) for h in hits
    )  # JSON text; the page sets it as textContent


# --------------------------------------------------------------------------- security: token, host, CSRF, size
@pytest.fixture
def guarded(shared):
    lib, ids = shared
    with TestClient(create_app(lib, token="s3cret-token"), base_url="http://192.168.1.20:8765") as c:
        yield c, ids


def test_token_required_on_every_route(guarded):
    c, ids = guarded
    vid = ids["two_voices"]
    urls = ["/", "/library", f"/videos/{vid}", f"/media/{vid}", "/api/videos", "/api/search?q=harbour",
            "/static/app.css", "/nope"]  # fmt: skip
    for url in urls:
        assert c.get(url).status_code == 401, url
        assert c.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401, url
        assert c.get(url, headers={"Authorization": "Bearer s3cret-token"}).status_code in (200, 404), url
    r = post(c, f"/api/videos/{vid}/speakers", {"speaker": "SPEAKER_1", "name": "X"})
    assert r.status_code == 401
    assert c.get("/api/videos?token=wrong").status_code == 401


def test_token_in_the_url_once_sets_an_httponly_cookie(guarded):
    c, _ = guarded
    r = c.get("/?q=harbour&token=s3cret-token", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/?q=harbour"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert c.get("/api/videos").status_code == 200  # the client kept the cookie
    c.cookies.clear()
    assert c.get("/api/videos").status_code == 401


def test_local_mode_refuses_other_host_names(shared):
    """DNS rebinding: a page whose name resolves to 127.0.0.1 still sends its own Host."""
    lib, _ = shared
    with TestClient(create_app(lib), base_url="http://evil.example:8765") as c:
        assert c.get("/api/videos").status_code == 403
    for host in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765"):
        with TestClient(create_app(lib), base_url=f"http://{host}") as c:
            assert c.get("/api/videos").status_code == 200, host


def test_changes_need_post_json_from_this_origin(own):
    lib, ids, c = own
    url = f"/api/videos/{ids['two_voices']}/speakers"
    body = {"speaker": "SPEAKER_1", "name": "Ann"}
    assert c.get(url).status_code == 405
    form = c.post(url, data={"speaker": "SPEAKER_1", "name": "Ann"})  # what a cross-site form can send
    assert form.status_code == 403
    assert post(c, url, body, origin="http://evil.example").status_code == 403
    assert post(c, url, body, referer="http://evil.example/page").status_code == 403
    assert post(c, url, body, origin="null").status_code == 403
    assert lib.load_transcript(ids["two_voices"]).speakers[0].name is None
    assert post(c, url, body, origin="http://127.0.0.1:8765").status_code == 200
    assert lib.load_transcript(ids["two_voices"]).speakers[0].name == "Ann"


def test_request_body_size_is_limited(own):
    lib, ids, c = own
    url = f"/api/videos/{ids['two_voices']}/segments/0"
    big = json.dumps({"text": "word " * 100_000, "base": None})
    r = c.post(url, content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413

    def chunks():  # no Content-Length: counted while read
        for _ in range(100):
            yield b"x" * 10_000

    r = c.post(url, content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert lib.load_transcript(ids["two_voices"]).edits == []


# --------------------------------------------------------------------------- rename and edit round trips
def test_rename_round_trip(own):
    lib, ids, c = own
    vid = ids["three_voices"]
    r = post(c, f"/api/videos/{vid}/speakers", {"speaker": "speaker_2", "name": "Mayor Doyle"})
    assert r.status_code == 200
    assert {"label": "SPEAKER_2", "name": "Mayor Doyle"} in r.json()["speakers"]
    saved = json.loads(lib.transcript_path(vid).read_text())
    assert any(s["label"] == "SPEAKER_2" and s["name"] == "Mayor Doyle" for s in saved["speakers"])
    hits = c.get("/api/search", params={"q": "the", "speaker": "mayor doyle", "limit": 100}).json()
    assert hits and all(h["speaker"] == "Mayor Doyle" and h["speaker_label"] == "SPEAKER_2" for h in hits)
    # the same effect as the CLI's rename
    cli = run_cli("speakers", vid, "--json", library=lib.root)
    assert any(s["name"] == "Mayor Doyle" for s in json.loads(cli.stdout))
    assert post(c, f"/api/videos/{vid}/speakers", {"speaker": "SPEAKER_9", "name": "X"}).status_code == 404
    assert post(c, f"/api/videos/{vid}/speakers", {"name": "X"}).status_code == 400


def test_edit_round_trip_keeps_untouched_timings_and_indexes(own):
    lib, ids, c = own
    vid = ids["two_voices"]
    before = lib.load_transcript(vid)
    seg = before.segments[0]
    i = next(k for k, w in enumerate(seg.words) if w.word.strip(".,").lower() == "harbour")
    new_words = [w.word for w in seg.words]
    new_words[i] = new_words[i].replace("harbour", "Quayside")
    new_text = " ".join(new_words[:1] + ["really"] + new_words[1:])  # one changed word, one inserted
    assert "Quayside" not in c.get(f"/videos/{vid}").text  # the page (and its cache) before the edit
    r = post(c, f"/api/videos/{vid}/segments/0", {"text": new_text, "base": seg.text})
    assert r.status_code == 200, r.text
    after = lib.load_transcript(vid)
    s2 = after.segments[0]
    assert s2.text == new_text
    kept = [w for w in s2.words if w.word not in ("really",) and "Quayside" not in w.word]
    assert [(w.word, w.start, w.end) for w in kept] == [
        (w.word, w.start, w.end) for k, w in enumerate(seg.words) if k != i
    ]
    q = next(w for w in s2.words if "Quayside" in w.word)
    assert (q.start, q.end) == (seg.words[i].start, seg.words[i].end)  # one word for one: its span
    really = s2.words[1]
    assert seg.words[0].end <= really.start <= really.end <= seg.words[1].start  # the gap it went into
    assert after.edits and after.edits[-1]["segment"] == 0 and after.edits[-1]["after"] == new_text
    assert after.segments[1:] == before.segments[1:]
    page = c.get(f"/videos/{vid}").text  # never the cached page from before the edit
    assert f">{q.word}</span>" in page and f'data-text="{new_text}"' in page
    assert c.get(f"/api/videos/{vid}").json() == to_json_dict(after)
    hits = c.get("/api/search", params={"q": "quayside", "exact": "1"}).json()
    assert len(hits) == 1 and hits[0]["video"] == vid and hits[0]["start"] == pytest.approx(q.start, abs=0.002)
    assert c.get("/api/search", params={"q": "quayside", "exact": "1"}).json() == json.loads(
        run_cli("search", "quayside", "--exact", "--json", library=lib.root).stdout
    )
    assert json.loads(run_cli("export", vid, "--format", "json", library=lib.root).stdout) == to_json_dict(after)


def test_edit_errors(own):
    _, ids, c = own
    vid = ids["two_voices"]
    assert post(c, f"/api/videos/{vid}/segments/99", {"text": "x"}).status_code == 404
    assert post(c, f"/api/videos/{vid}/segments/0", {"text": "   "}).status_code == 400
    assert post(c, f"/api/videos/{vid}/segments/0", {"nope": 1}).status_code == 400
    r = c.post(f"/api/videos/{vid}/segments/0", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_two_tabs_editing_lose_nothing(own):
    """Different segments from two tabs both stay; a stale edit of the same segment is a conflict."""
    lib, ids, c = own
    vid = ids["three_voices"]
    t = lib.load_transcript(vid)
    bases = [s.text for s in t.segments]
    errors: list = []

    def tab(k: int) -> None:
        try:
            r = post(c, f"/api/videos/{vid}/segments/{k}", {"text": bases[k] + f" marker{k}", "base": bases[k]})
            assert r.status_code == 200, r.text
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=tab, args=(k,)) for k in range(len(bases))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    saved = lib.load_transcript(vid)
    assert [s.text for s in saved.segments] == [b + f" marker{k}" for k, b in enumerate(bases)]
    assert len(saved.edits) == len(bases)
    for k in range(len(bases)):
        assert len(c.get("/api/search", params={"q": f"marker{k}", "exact": "1"}).json()) == 1
    stale = post(c, f"/api/videos/{vid}/segments/0", {"text": "something else", "base": bases[0]})
    assert stale.status_code == 409 and "changed elsewhere" in stale.json()["error"]
    assert lib.load_transcript(vid).segments[0].text == bases[0] + " marker0"


@pytest.mark.slow  # waits on another process's lock for seconds
def test_edits_wait_for_another_process_holding_the_lock(own):
    """The per-video lock is an flock: a second process editing the same video waits, then both edits stay."""
    lib, ids, c = own
    vid = ids["two_voices"]
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]);"
        "from pipeline.library import Library; from pipeline.web.edits import video_lock;"
        "lib = Library(sys.argv[2]);"
        "cm = video_lock(lib, sys.argv[3]); cm.__enter__(); print('held', flush=True);"
        "t = lib.load_transcript(sys.argv[3]); time.sleep(1.5);"
        "t.segments[1].text = 'changed by the other process'; lib.save_transcript(t); cm.__exit__(None, None, None)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(ROOT), str(lib.root), vid], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"held"
    t0 = time.monotonic()
    base = lib.load_transcript(vid).segments[0].text
    r = post(c, f"/api/videos/{vid}/segments/0", {"text": base + " added", "base": base})
    waited = time.monotonic() - t0
    assert proc.wait(10) == 0
    assert r.status_code == 200 and waited > 0.8
    saved = lib.load_transcript(vid)
    assert saved.segments[0].text == base + " added"
    assert saved.segments[1].text == "changed by the other process"


# --------------------------------------------------------------------------- concurrency with ingest
@pytest.mark.slow  # a real ingest process beside the server: seconds
def test_search_keeps_working_while_ingest_runs(tmp_path):
    lib, ids = build_library(tmp_path, ("two_voices",))
    media = tmp_path / "more"
    media.mkdir()
    for name in ("three_voices", "made_up_name", "late_audio", "fast_exchange"):
        shutil.copy(ROOT / truth(name)["media"], media)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fake_engine.py"), "ingest", str(media), "--no-diarize",
         "--language", "en", "--library", str(lib.root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    statuses: list[int] = []
    counts: set[int] = set()
    with TestClient(create_app(lib), base_url="http://127.0.0.1:8765") as c:
        while proc.poll() is None:
            r = c.get("/api/search", params={"q": "harbour OR lighthouse OR Vellacourt"})
            statuses.append(r.status_code)
            if r.status_code == 200:
                counts.add(len({h["video"] for h in r.json()}))
            statuses.append(c.get("/api/videos").status_code)
        assert proc.returncode == 0, proc.stderr.read().decode()
        final = c.get("/api/search", params={"q": "harbour OR lighthouse OR Vellacourt", "limit": 100}).json()
    assert len(statuses) > 10 and set(statuses) == {200}
    assert len({h["video"] for h in final}) >= 4
    assert min(counts) >= 1


# --------------------------------------------------------------------------- the serve command
def test_serve_command_runs_and_needs_a_token_off_localhost(shared, tmp_path):
    lib, _ = shared
    import httpx

    exe = [sys.executable, "-c", "from pipeline.cli import main; main()"]
    proc = subprocess.Popen([*exe, "serve", "--port", "0", "--library", str(lib.root)], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = proc.stderr.readline()
        assert line.startswith(f"serving {lib.root} at http://127.0.0.1:"), line
        url = line.split(" at ")[1].split()[0]
        assert "token" not in url
        for _ in range(50):
            try:
                r = httpx.get(url + "api/videos", timeout=5)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert r.status_code == 200 and len(r.json()) == 2
        port = int(url.rsplit(":", 1)[1].strip("/"))
        busy = run_cli("serve", "--port", str(port), library=lib.root)
        assert busy.exit_code == 1 and busy.stderr.startswith("error: cannot listen on 127.0.0.1:")
        assert len(busy.stderr.strip().splitlines()) == 1
    finally:
        proc.terminate()
        proc.wait(10)

    proc = subprocess.Popen([*exe, "serve", "--host", "0.0.0.0", "--port", "0", "--library", str(lib.root)],
                            cwd=ROOT, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        first, second = proc.stderr.readline(), proc.stderr.readline()
        assert "?token=" in first and second.startswith("access token: ")
        token = second.split()[2]
        port = int(first.split(" at ")[1].split("/")[2].rsplit(":", 1)[1])
        base = f"http://127.0.0.1:{port}"
        for _ in range(50):
            try:
                r = httpx.get(base + "/api/videos", timeout=5)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert r.status_code == 401
        assert httpx.get(base + "/api/videos", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)


def test_fixture_media_exist():
    assert (FIXTURES / "two_voices.mp4").is_file()


# --------------------------------------------------------------------------- the server's error boundary
def test_unexpected_error_is_one_line_json_without_traceback(own, monkeypatch, capsys):
    lib, ids, _ = own
    import pipeline.web.routes as routes

    def broken(library):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(routes, "list_videos", broken)
    monkeypatch.delenv("INTERVIEW_INDEX_DEBUG", raising=False)
    with TestClient(create_app(lib), base_url="http://127.0.0.1:8765", raise_server_exceptions=False) as c:
        r = c.get("/api/videos")
        assert r.status_code == 500
        assert r.json()["error"] == "RuntimeError: disk on fire second line"
        assert "Traceback" not in r.text
    err = capsys.readouterr().err
    assert "error: GET /api/videos: RuntimeError: disk on fire second line" in err
    assert "Traceback" not in err


def test_index_busy_during_an_edit_is_503_and_the_correction_is_kept(own, monkeypatch):
    lib, ids, c = own
    import index.writer
    from index.errors import IndexLockedError

    def locked(*args, **kwargs):
        raise IndexLockedError("the index is locked by another process (pid 4242) for over 60 s")

    monkeypatch.setattr(index.writer, "add_transcript", locked)
    vid = ids["two_voices"]
    base = lib.load_transcript(vid).segments[0].text
    r = post(c, f"/api/videos/{vid}/segments/0", {"text": base + " kept", "base": base})
    assert r.status_code == 503 and "reindex" in r.json()["error"]
    assert lib.load_transcript(vid).segments[0].text == base + " kept"


def test_a_missing_index_is_503_with_the_cli_message_not_no_hits(own):
    lib, ids, c = own
    shutil.rmtree(lib.index_dir)
    cli = run_cli("search", "harbour", "--json", library=lib.root)
    assert cli.exit_code == 1
    r = c.get("/api/search", params={"q": "harbour"})
    assert r.status_code == 503
    assert r.json()["error"] == cli.stderr.strip().removeprefix("error: ")
    assert "reindex" in r.json()["error"]


def test_a_hit_opens_lead_seconds_before_its_word(shared):
    lib, ids = shared
    for lead in (1.5, 0.0):
        with TestClient(create_app(lib, lead=lead), base_url="http://127.0.0.1:8765") as c:
            hit = c.get("/ui/search", params={"q": "lighthouse"}).json()["hits"][0]
            query = dict(x.split("=", 1) for x in hit["href"].split("?", 1)[1].split("&"))
            assert float(query["t"]) == pytest.approx(max(0.0, hit["start"] - lead), abs=0.01)
            assert float(query["hs"]) == pytest.approx(hit["start"], abs=0.001)
            assert query["q"] == "lighthouse"


def test_media_gone_is_a_notice_on_the_page_and_404_for_the_file(own):
    lib, ids, c = own
    vid = ids["two_voices"]
    Path(lib.load_transcript(vid).path).unlink()
    page = c.get(f"/videos/{vid}")
    assert page.status_code == 200 and "is not there any more" in page.text
    r = c.get(f"/media/{vid}")
    assert r.status_code == 404 and "gone" in r.json()["error"]
