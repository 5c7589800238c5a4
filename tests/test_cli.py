"""The `mcr-agent` command, in-process with click's CliRunner."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from mcr_agent.front.cli import main
from tests.agent_model import HonestAgentModel
from tests.conftest import honest_responder
from tests.fake_openai import HANG_GUARD_S, FakeOpenAIServer, Reply, Request


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_index_without_server_then_with_one(speech_video: Path) -> None:
    code, out, _ = run("index", str(speech_video), "--ocr")
    assert code == 0, out
    assert "4 of 4 scenes lack captions" in out.replace("\n", " ")
    assert "mcr-agent index" in out
    with FakeOpenAIServer(honest_responder) as srv:
        code, out, _ = run("index", str(speech_video), "--ocr", "--base-url", srv.base_url)
        assert code == 0, out
        assert len([r for r in srv.requests if r.images]) == 4
    assert "lack captions" not in out
    code, out, _ = run("index", str(speech_video), "--ocr")
    assert code == 0 and "reused from cache" in out

    code, out, _ = run("memory", "search", str(speech_video), "hello world", "--json", "-k", "3")
    assert code == 0
    hits = json.loads(out)
    assert 1 <= len(hits) <= 3
    assert set(hits[0]) == {"start", "end", "level", "source", "text", "score"}
    assert any(h["level"] == "ocr" and h["text"] == "HELLO WORLD" for h in hits)
    code, out, _ = run("memory", "search", str(speech_video), "red car", "--level", "asr")
    assert code == 0 and "asr" in out and "car" in out.lower()


def test_errors_are_one_line(tmp_path: Path) -> None:
    code, _, err = run("index", str(tmp_path / "missing.mp4"))
    assert code == 1
    assert err.strip().count("\n") == 0 and "video not found" in err
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    code, _, err = run("index", str(bad))
    assert code == 1 and "not a readable video" in err and err.strip().count("\n") == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run("index", str(empty))  # a folder is a corpus (tests/test_corpus.py)
    assert code == 1 and "no video file in" in err and err.strip().count("\n") == 0
    code, _, err = run("index", str(bad), "--base-url", "ftp://x")
    assert code == 1 and "must start with http" in err


def test_search_before_index(speech_video: Path) -> None:
    code, _, err = run("memory", "search", str(speech_video), "x")
    assert code == 1 and "mcr-agent index" in err


def test_bad_usage_exits_2() -> None:
    assert run("index")[0] == 2
    assert run("memory", "search", "v.mp4", "q", "--level", "nope")[0] == 2


def test_doctor_reports_each_check() -> None:
    code, out, _ = run("doctor")
    assert code == 0, out
    for name in (
        "video decoding",
        "ASR model",
        "embedding model",
        "OCR",
        "cache folder",
        "model server",
    ):
        assert name in out
    assert "MCR_BASE_URL" in out.replace("\n", " ")


def test_ctrl_c_then_resume(speech_video: Path, tmp_path: Path) -> None:
    """A real SIGINT mid-captioning: exit 130 without waiting for the request in flight, and
    the next run asks only for the rest.

    The second caption request is held by the server until the test has sent SIGINT, so
    the run cannot finish first, and it can only exit by not waiting for that request.
    """
    import os
    import signal
    import subprocess
    import sys
    import threading

    second, release = threading.Event(), threading.Event()
    lock = threading.Lock()
    captions: list[Request] = []

    def hold_the_second(request: Request) -> str:
        with lock:
            captions.append(request)
            number = len(captions)
        if number == 2:
            second.set()
            release.wait()
        return honest_responder(request)

    env = {**os.environ, "MCR_CACHE_DIR": str(tmp_path / "cache"), "MCR_CONCURRENCY": "1"}
    with FakeOpenAIServer(hold_the_second) as srv:
        env["MCR_BASE_URL"] = srv.base_url
        cmd = [sys.executable, "-m", "mcr_agent", "index", str(speech_video), "--no-asr"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert second.wait(HANG_GUARD_S), "the second caption request never came"
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=HANG_GUARD_S)
        finally:
            release.set()
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, err
        assert b"resume" in err
        done = len(captions)
    with FakeOpenAIServer(honest_responder) as srv:
        code, out, _ = run("index", str(speech_video), "--no-asr", "--base-url", srv.base_url)
        assert code == 0, out
        again = len([r for r in srv.requests if r.images])
    assert done == 2
    assert again == 3  # the caption finished before Ctrl-C is not asked again
    assert "lack captions" not in out


def test_index_with_subtitles(speech_video: Path, tmp_path: Path) -> None:
    srt = tmp_path / "speech.srt"
    srt.write_text(
        '1\n00:00:15,500 --> 00:00:18,000\n<font color="#ffffff">The lighthouse keeper waves.'
        "</font>\n"
    )
    code, out, _ = run("index", str(speech_video), "--no-asr", "--subtitles", str(srt))
    assert code == 0, out
    code, out, _ = run("memory", "search", str(speech_video), "lighthouse", "--json")
    hits = json.loads(out)
    assert hits[0]["level"] == "subtitle" and hits[0]["text"] == "The lighthouse keeper waves."
    assert (hits[0]["start"], hits[0]["end"]) == (15.5, 18.0)
    code, _, err = run("index", str(speech_video), "--subtitles", str(tmp_path / "none.srt"))
    assert code == 1 and "subtitle file not found" in err


def test_demo_offline_then_with_server(tmp_path: Path) -> None:
    code, out, _ = run("demo", "--out", str(tmp_path / "demo"))
    assert code == 0, out
    flat = " ".join(out.split())
    assert "5 scenes" in flat or "scenes 0-4" in flat
    assert "TICKETS 12 EUROS" in flat and "no model server" in flat
    with FakeOpenAIServer(HonestAgentModel()) as srv:
        code, out, _ = run("demo", "--out", str(tmp_path / "demo"), "--base-url", srv.base_url)
        asked = [r for r in srv.requests if "Question:" in r.texts]
    assert code == 0, out
    flat = " ".join(out.split())
    assert "lack captions" not in flat and "(model fake-vlm)" in flat
    assert re.search(r"reason .*verify .*supported", flat) and "12" in flat.split("verify")[-1]
    assert re.search(r"\d+ model calls", flat) and len(asked) >= 2 and asked[0].images


def test_index_names_the_scenes_the_server_refused_and_retries_them(speech_video: Path) -> None:
    def refuses_two(request: Request) -> str | Reply:
        stamps = [t for t in request.image_timestamps if t is not None]
        if stamps and 5.0 <= min(stamps) < 15.0:  # scenes 1 and 2
            return Reply("cannot read image: unsupported pixel format", status=400)
        return honest_responder(request)

    with FakeOpenAIServer(refuses_two) as srv:
        code, out, err = run("index", str(speech_video), "--no-asr", "--base-url", srv.base_url)
        url = srv.base_url
    flat = " ".join(out.split())
    assert code == 0, out + err
    assert "scenes 1-2 not captioned" in flat and "no model server answers" not in flat
    assert f"the model server at {url} refused the request (HTTP 400)" in flat
    assert "cannot read image" in flat and "mcr-agent index" in flat
    with FakeOpenAIServer(honest_responder) as srv:
        code, out, _ = run("index", str(speech_video), "--no-asr", "--base-url", srv.base_url)
        asked = [r for r in srv.requests if r.images]
    assert code == 0 and len(asked) == 2  # only the two refused scenes
    assert "not captioned" not in out and "lack captions" not in out


def test_index_says_when_every_reply_was_unusable(speech_video: Path, tmp_path: Path) -> None:
    with FakeOpenAIServer(lambda r: "" if r.images else "ok") as srv:
        code, out, err = run("index", str(speech_video), "--no-asr", "--base-url", srv.base_url)
    flat = " ".join(out.split())
    assert code == 0, out + err
    assert "the model fake-vlm answered but gave no usable caption for any of the 4 scenes" in flat
    assert "the model returned an empty reply (fake-vlm)" in flat
    assert "no model server answers" not in flat
