"""The web page in a real headless Chromium (selenium + the Debian chromium/chromium-driver packages).

Each test runs uvicorn in a background thread on 127.0.0.1 and a free port,
over a library built from the fixtures' truth, and drives the page as a user
would: type a query, click a hit, click a word, rename a speaker, correct a
word. Screenshots of each page go to the test's tmp dir (and, when
WEB_SHOTS_DIR is set, there too, to look at).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import truth

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # ~30 s: out of the fast tier (-m "not slow")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
    pytest.skip(
        "no Chromium: `apt-get install -y chromium chromium-driver` (the Debian packages; .ci/run does it)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from test_web import build_library  # noqa: E402

LEAD = 0.0  # the browser server opens hits right at the word, so the player's time is the word's


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn in a thread, stopped at the end of the test."""

    def __init__(self, library, lead: float = LEAD):
        import uvicorn

        from pipeline.web import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(library, lead=lead), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="off")  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def site(tmp_path):
    lib, ids = build_library(tmp_path)
    with Server(lib) as server:
        yield lib, ids, server


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1400,900"):  # fmt: skip
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def shot(driver, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    extra = os.environ.get("WEB_SHOTS_DIR")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)
    return path


def wait(driver, condition, timeout: float = 15):
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def player_time(driver) -> float:
    return driver.execute_script("return document.getElementById('player').currentTime")


def said(name: str, word: str) -> list[float]:
    return [w["start"] for w in truth(name)["words"] if w["word"].lower() == word.lower()]


def search(driver, server: Server, query: str) -> list:
    driver.get(server.url + "/")
    box = driver.find_element(By.ID, "q")
    box.send_keys(query)  # results as the user types
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#hits a.hit")
         or "no hits" in d.find_element(By.ID, "status").text)  # fmt: skip
    return driver.find_elements(By.CSS_SELECTOR, "#hits a.hit")


def test_type_a_query_click_a_hit_and_it_plays_from_the_word(site, browser, tmp_path):
    lib, ids, server = site
    hits = search(browser, server, "lighthouse")
    status = browser.find_element(By.ID, "status").text
    assert hits and status.startswith(f"{len(hits)} hit")
    marked = hits[0].find_elements(By.TAG_NAME, "mark")
    assert [m.text.strip(".,").lower() for m in marked] == ["lighthouse"]
    assert "00:00:" in hits[0].find_element(By.CSS_SELECTOR, ".time").text
    shot(browser, tmp_path, "search")
    start = float(hits[0].get_attribute("data-start"))
    hits[0].click()
    wait(browser, lambda d: d.execute_script("return document.getElementById('player').dataset.startedAt"))
    started = float(browser.execute_script("return document.getElementById('player').dataset.startedAt"))
    word_time = min(said("three_voices", "lighthouse"), key=lambda s: abs(s - start))
    assert abs(started - word_time) < 0.5, (started, word_time)
    wait(browser, lambda d: d.execute_script("const p = document.getElementById('player'); return !p.paused"))
    now = player_time(browser)
    assert abs(now - word_time) < 1.5  # playing on from there
    hit_words = browser.find_elements(By.CSS_SELECTOR, "#transcript .w.hit")
    assert [w.text.strip(".,").lower() for w in hit_words] == ["lighthouse"]
    assert "lighthouse" in browser.find_element(By.ID, "hit-text").text.lower()  # the hit stays visible
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#transcript .w.now"))  # the spoken word is lit
    time.sleep(0.5)
    shot(browser, tmp_path, "video")


def test_click_a_word_to_seek_and_the_transcript_follows(site, browser, tmp_path):
    lib, ids, server = site
    browser.get(f"{server.url}/videos/{ids['three_voices']}")
    words = browser.find_elements(By.CSS_SELECTOR, "#transcript .w")
    target = next(w for w in words if w.text.strip(".,").lower() == "bridge")
    target.click()
    wait(browser, lambda d: d.execute_script("return document.getElementById('player').dataset.seekedAt"))
    seeked_at = float(browser.execute_script("return document.getElementById('player').dataset.seekedAt"))
    truth_start = min(said("three_voices", "bridge"), key=lambda s: abs(s - float(target.get_attribute("data-s"))))
    assert abs(seeked_at - truth_start) < 0.5
    wait(browser, lambda d: d.execute_script("return !document.getElementById('player').paused"))
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#transcript .w.now"))
    lit = browser.find_element(By.CSS_SELECTOR, "#transcript .w.now")
    assert abs(float(lit.get_attribute("data-s")) - player_time(browser)) < 2.0
    # the highlighted word is inside the transcript pane's view
    inside = browser.execute_script(
        "const p = document.getElementById('transcript'), w = document.querySelector('#transcript .w.now');"
        "const a = p.getBoundingClientRect(), b = w.getBoundingClientRect();"
        "return b.top >= a.top && b.bottom <= a.bottom;"
    )
    assert inside


def test_rename_a_speaker_and_see_it_in_the_hits(site, browser, tmp_path):
    lib, ids, server = site
    vid = ids["three_voices"]
    browser.get(f"{server.url}/videos/{vid}")
    browser.find_element(By.CSS_SELECTOR, 'button.rename[data-label="SPEAKER_2"]').click()
    box = browser.find_element(By.CSS_SELECTOR, ".rename-input")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("Mayor Doyle", Keys.ENTER)
    wait(browser, lambda d: "Mayor Doyle" in d.find_element(By.ID, "message").text)
    heads = [e.text for e in browser.find_elements(By.CSS_SELECTOR, '.turn[data-label="SPEAKER_2"] .spk-name')]
    assert heads and set(heads) == {"Mayor Doyle"}
    assert lib.load_transcript(vid).speakers[1].name == "Mayor Doyle"
    hits = search(browser, server, "the")
    speakers = {h.find_element(By.CSS_SELECTOR, ".speaker").text for h in hits if h.get_attribute("data-video") == vid}
    assert "Mayor Doyle" in speakers and "SPEAKER_2" not in speakers


def test_correct_a_word_and_find_it_by_search(site, browser, tmp_path):
    lib, ids, server = site
    vid = ids["three_voices"]
    browser.get(f"{server.url}/videos/{vid}")
    word = next(w for w in browser.find_elements(By.CSS_SELECTOR, "#transcript .w")
                if w.text.strip(".,").lower() == "lighthouse")  # fmt: skip
    old_start = float(word.get_attribute("data-s"))
    webdriver.ActionChains(browser).double_click(word).perform()
    area = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".seg-editor textarea"))
    fixed = area.get_attribute("value").replace("lighthouse", "beaconhouse", 1)
    area.clear()
    area.send_keys(fixed)
    shot(browser, tmp_path, "video-edit")
    area.send_keys(Keys.ENTER)
    wait(browser, lambda d: "Saved" in d.find_element(By.ID, "message").text)
    new = next(w for w in browser.find_elements(By.CSS_SELECTOR, "#transcript .w") if "beaconhouse" in w.text)
    assert float(new.get_attribute("data-s")) == pytest.approx(old_start, abs=0.002)  # one word for one: its time
    assert any(e["after"] == fixed for e in lib.load_transcript(vid).edits)
    hits = search(browser, server, "beaconhouse")
    assert len(hits) == 1 and "beaconhouse" in hits[0].text
    assert float(hits[0].get_attribute("data-start")) == pytest.approx(old_start, abs=0.002)


def test_library_page(site, browser, tmp_path):
    from pipeline.library import Job

    lib, ids, server = site
    lib.save_job(Job(key="path-0123456789abcdef", path="/interviews/broken.mp4", status="failed", stage="probe",
                     error="/interviews/broken.mp4: truncated or incomplete file (moov atom not found)"))  # fmt: skip
    browser.get(server.url + "/library")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.library tbody tr")
    assert [r.text.split()[1] for r in rows] == ["done", "done", "failed"]
    assert "moov atom not found" in rows[2].text
    shot(browser, tmp_path, "library")
