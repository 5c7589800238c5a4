"""`mcr-agent ui` in a real browser: Debian's chromium driven by Playwright.

The app runs as `python -m mcr_agent ui` against the honest fake model server, on a
generated video whose last scene shows ``<script>window.pwned=1</script>`` on screen.
Liveness is proven with events, not timing: the fake server holds the verification reply
until the page has shown the steps before it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from mcr_agent.front.media import make_scenes_video
from tests.agent_model import HonestAgentModel
from tests.conftest import SCENES
from tests.fake_openai import HANG_GUARD_S, FakeOpenAIServer, Reply, Request
from tests.ui_helpers import CAPTION, VERIFY, Hold

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCRIPT = "<script>window.pwned=1</script>"
WAIT_MS = HANG_GUARD_S * 1000  # a hang guard: every wait below ends on an event
RED_CAR = ("What does the speaker say is parked?", ["a blue truck", "the red car", "a bicycle"])
SCORE = ("What score is shown on screen?", ["SCORE 24", "SCORE 42", "GAME OVER"])


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The --videos folder: the shared speech video with markup on screen, and a symlink
    pointing out of the folder."""
    folder = tmp_path_factory.mktemp("ui-videos")
    make_scenes_video(
        folder / "speech.mp4",
        scene_seconds=[s for s, _, _ in SCENES],
        texts=[t for _, t, _ in SCENES[:-1]] + [SCRIPT],
        speech=[s for _, _, s in SCENES],
    )
    outside = tmp_path_factory.mktemp("outside") / "secret.mp4"
    outside.write_bytes((folder / "speech.mp4").read_bytes())
    (folder / "link-out.mp4").symlink_to(outside)
    return folder


@pytest.fixture(scope="module")
def holds() -> list[Hold]:
    """The holds the model server applies now; each test sets its own."""
    return []


@pytest.fixture(scope="module")
def app_url(
    videos: Path, holds: list[Hold], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`mcr-agent ui --videos DIR --port 0` in a subprocess; yields its URL."""
    model = HonestAgentModel()

    def respond(request: Request) -> str | Reply:
        for hold in list(holds):
            hold(request)
        return model(request)

    with FakeOpenAIServer(respond) as server:
        env = {
            **os.environ,
            "MCR_BASE_URL": server.base_url,
            "MCR_CACHE_DIR": str(tmp_path_factory.mktemp("ui-cache")),
            "OMP_NUM_THREADS": "1",
        }
        command = [sys.executable, "-m", "mcr_agent", "ui", "--videos", str(videos), "--port", "0"]
        proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
        assert proc.stderr is not None
        lines: list[str] = []
        for line in proc.stderr:  # blocks until the app prints its address (or exits)
            lines.append(line)
            found = re.search(r"mcr-agent ui: (http://\S+)", line)
            if found:
                break
        else:
            raise AssertionError(f"the app exited {proc.wait()}: {''.join(lines)}")
        threading.Thread(target=lambda: lines.extend(proc.stderr or ()), daemon=True).start()
        try:
            yield found.group(1)
        finally:
            proc.terminate()
            proc.wait(HANG_GUARD_S)
        assert not any("Traceback" in line for line in lines), "".join(lines)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed: apt-get install -y chromium")
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


def open_page(browser: Browser, url: str) -> Page:
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    return page


def index_video(page: Page) -> None:
    """Pick speech.mp4 and index it (or see it indexed already)."""
    page.locator('.video-item[data-id="videos/speech.mp4"]').click()
    expect(page.locator("#video-state")).to_contain_text("index")
    if page.locator("#index-btn").is_visible():
        page.locator("#index-btn").click()
    expect(page.locator("#video-state")).to_contain_text("indexed: 4 scenes")


def ask(page: Page, question: str, options: list[str]) -> None:
    page.fill("#question", question)
    for letter, option in zip("ABCD", options, strict=False):
        page.fill(f"#opt-{letter}", option)
    page.click("#ask-btn")


def test_index_ask_watch_steps_and_play_the_evidence(
    browser: Browser, app_url: str, holds: list[Hold], tmp_path: Path
) -> None:
    captions, verification = Hold(CAPTION), Hold(VERIFY)
    holds[:] = [captions, verification]
    page = open_page(browser, app_url)
    expect(page.locator("#server")).to_contain_text("model fake-vlm")
    item = page.locator('.video-item[data-id="videos/speech.mp4"]')
    expect(item).to_contain_text("20 s")
    expect(item.locator(".badge")).to_have_text("not indexed")
    item.click()
    page.locator("#index-btn").click()
    assert captions.reached.wait(HANG_GUARD_S)  # the build now waits for the model
    expect(page.locator('.stage.done[data-stage="scenes"]')).to_contain_text("4 scenes")
    expect(page.locator('.stage[data-stage="captions"]')).to_be_visible()
    expect(page.locator('.stage[data-stage="captions"]')).not_to_have_class(re.compile("done"))
    captions.release()
    expect(page.locator("#video-state")).to_contain_text("indexed: 4 scenes")
    expect(item.locator(".badge")).to_have_text("indexed")
    expect(page.locator("#scenes .scene")).to_have_count(4)
    page.locator('.tab[data-level="asr"]').click()
    expect(page.locator("#entries")).to_contain_text("parked near the old")

    page.fill("#search-input", "parked car")
    page.locator('#search-levels input[value="asr"]').check()
    page.locator("#search-form button").click()
    expect(page.locator("#search-results .entry").first).to_contain_text("asr")

    ask(page, *RED_CAR)
    assert verification.reached.wait(HANG_GUARD_S)  # the loop now waits for the model
    steps = page.locator("#steps .step")
    expect(steps).to_have_count(3)  # observe, route, reason: shown while the loop runs
    expect(steps.nth(2)).to_contain_text("answer")
    expect(page.locator("#answer")).to_be_hidden()
    verification.release()
    expect(page.locator("#answer .letter")).to_have_text("B")
    expect(steps.last).to_contain_text("answer")
    chip = page.locator("#answer .chip").first
    expect(chip).to_contain_text("red car")
    loose_text = page.evaluate(
        "[...document.getElementById('answer').childNodes]"
        ".filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent)"
    )
    assert loose_text == []  # the card is its elements only (no "null" between them)
    expect(page.locator("#spans .span").first).to_be_attached()
    page.screenshot(path=str(tmp_path / "answered.png"))
    start, end = (float(chip.get_attribute(f"data-{edge}") or 0) for edge in ("start", "end"))
    chip.click()
    page.wait_for_function(
        "([s, e]) => { const t = document.getElementById('player').currentTime;"
        " return t >= s && t <= e && t > 0; }",
        arg=[start, end],
    )
    expect(page.locator("#history li")).to_have_count(1)
    trace = page.locator("#history a", has_text="HTML").get_attribute("href")
    response = page.request.get(app_url.rstrip("/") + str(trace))
    assert response.ok and "the red car" in response.text()
    print(f"screenshot: {tmp_path / 'answered.png'}")


def test_two_pages_ask_at_once(browser: Browser, app_url: str, holds: list[Hold]) -> None:
    both = Hold(VERIFY, count=2)  # both questions must be waiting for the model at once
    holds[:] = [both]
    first, second = open_page(browser, app_url), open_page(browser, app_url)
    index_video(first)
    index_video(second)
    ask(first, *RED_CAR)
    ask(second, *SCORE)
    assert both.reached.wait(HANG_GUARD_S)
    both.release()
    expect(first.locator("#answer .letter")).to_have_text("B")
    expect(second.locator("#answer .letter")).to_have_text("B")
    expect(first.locator("#answer .answer-text")).to_have_text("the red car")
    expect(second.locator("#answer .answer-text")).to_have_text("SCORE 42")


def test_paths_outside_the_folders_are_refused_and_video_text_is_escaped(
    browser: Browser, app_url: str, holds: list[Hold]
) -> None:
    holds.clear()
    page = open_page(browser, app_url)
    expect(page.locator('.video-item[data-id="videos/speech.mp4"]')).to_be_visible()
    assert page.locator('.video-item[data-id="videos/link-out.mp4"]').count() == 0
    base = app_url.rstrip("/")
    for path in (
        "/media/videos/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/media/videos/link-out.mp4",
        "/api/memory?video=videos/../../../../etc/passwd",
        "/api/memory?video=/etc/passwd",
    ):
        response = page.request.get(base + path)
        assert response.status == 403 and "refused" in response.json()["error"], path
    response = page.request.post(base + "/api/index", data={"video": "uploads/../../x.mp4"})
    assert response.status == 403

    index_video(page)
    page.locator('.tab[data-level="ocr"]').click()
    expect(page.locator("#entries")).to_contain_text(SCRIPT)  # shown as written
    ask(page, "What text is shown at the end?", [SCRIPT, "HELLO WORLD"])
    expect(page.locator("#answer .answer-text")).to_have_text(SCRIPT)
    assert page.locator("#entries script, #answer script").count() == 0
    assert page.evaluate("window.pwned") is None


def test_bad_files_and_refused_requests_show_as_one_line_in_the_page(
    browser: Browser, app_url: str, videos: Path, holds: list[Hold]
) -> None:
    holds.clear()
    later = make_scenes_video(videos / "later.mp4", scene_seconds=[1.0, 1.0])
    try:
        page = open_page(browser, app_url)
        page.locator('.video-item[data-id="videos/later.mp4"]').click()
        expect(page.locator("#video-state")).to_contain_text("not indexed yet")
        # Broken after the page listed it: once the player has stopped fetching it
        # (preload="metadata"), and by a rename, so no response of the server is cut short
        # (a rewrite in place while a range request streams it makes uvicorn log an error).
        page.wait_for_function("document.getElementById('player').networkState !== 2")
        broken = videos.parent / "later.broken"
        broken.write_bytes(b"\x00" * 4096)
        broken.replace(later)
        page.locator("#index-btn").click()
        expect(page.locator("#notice")).to_contain_text("not a readable video")
        ask(page, "What is shown?", [])
        expect(page.locator("#answer .error")).to_contain_text("not a readable video")

        page.locator('.video-item[data-id="videos/speech.mp4"]').click()
        ask(page, "why? " * 801, [])  # over the 4000 characters a question may have
        expect(page.locator("#notice")).to_contain_text("bad request: question")
        expect(page.locator("#ask-btn")).to_be_enabled()
        assert "Traceback" not in page.locator("body").inner_text()
    finally:
        later.unlink()
