"""`mcr-agent mcp`: the MCP server driven by the SDK's own client, over stdio and HTTP.

The server runs as a subprocess (`mcr-agent mcp`) with the test's environment; the model
is the honest fake at MCR_BASE_URL, answering only from what it is sent.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from click.testing import CliRunner
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, ImageContent, TextContent

from mcr_agent.front.answer import Answer, VideoRef
from mcr_agent.front.cli import main
from mcr_agent.front.mcp.bridge import AllowedRoots, CallCancelled, PathRefused, ToolProgress
from mcr_agent.front.mcp.views import (
    answer_text,
    search_result,
    search_text,
    summary_document,
    transcript_document,
    window_result,
    window_text,
)
from mcr_agent.loop.state import CitedEvidence, Status
from memory import open_memory
from tests.agent_model import HonestAgentModel
from tests.fake_openai import HANG_GUARD_S, FakeOpenAIServer, Reply, Request, dead_url

MCR_AGENT = str(Path(sys.executable).parent / "mcr-agent")
QUESTION = "What does the speaker say is parked?"
OPTIONS = ["A. a blue truck", "B. the red car", "C. a bicycle"]
TOOLS = {"index_video", "ask_video", "search_video", "video_window"}


def text(result: CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, TextContent)
    return first.text


def stdio(allow: Path, cwd: Path, **env: str) -> Client:
    """A client that starts `mcr-agent mcp --allow ALLOW` over stdio."""
    params = StdioServerParameters(
        command=MCR_AGENT,
        args=["mcp", "--allow", str(allow)],
        env={**os.environ, **env},
        cwd=str(cwd),
    )
    return Client(params)


class Progress:
    """Collects a call's progress notifications; `wait_for` waits for a message."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.messages: list[str] = []
        self._waits: list[tuple[str, anyio.Event]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.values.append(progress)
        self.messages.append(message or "")
        for prefix, event in self._waits:
            if (message or "").startswith(prefix):
                event.set()

    def waiter(self, prefix: str) -> Callable[[], Awaitable[bool]]:
        event = anyio.Event()
        self._waits.append((prefix, event))

        async def wait() -> bool:
            await event.wait()
            return True

        return wait

    def stages(self) -> list[str]:
        return list(dict.fromkeys(m.split(":", 1)[0] for m in self.messages))


# -- the allowed folders and the progress adapter, in process -------------------------------
def test_allowed_roots_resolve_symlinks_and_relative_paths(tmp_path: Path) -> None:
    inside, outside = tmp_path / "videos", tmp_path / "private"
    inside.mkdir()
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(b"x")
    (inside / "escape.mp4").symlink_to(outside / "secret.mp4")
    (outside / "link.mp4").symlink_to(inside / "clip.mp4")
    roots = AllowedRoots([inside])
    assert roots.check("clip.mp4") == inside / "clip.mp4"  # relative to the first folder
    assert roots.check(str(outside / "link.mp4")) == inside / "clip.mp4"  # lands inside
    for refused in ("escape.mp4", "../private/secret.mp4", str(outside), "/etc/passwd"):
        with pytest.raises(PathRefused, match=r"--allow DIR"):
            roots.check(refused)
    assert str(outside / "x") not in roots and str(inside / "sub" / "x") in roots


def test_progress_increases_is_throttled_and_stops_the_work() -> None:
    sent: list[tuple[float, str]] = []
    stop = threading.Event()
    progress = ToolProgress(lambda p, m: sent.append((p, m)), stop)
    progress.stage("scenes", 600.0)
    for second in range(1, 601):
        progress.update("scenes", float(second))
    progress.done("scenes", "12 scenes")
    progress.stage("speech", None)
    progress.update("speech", 0.5)
    progress.update("speech", 3.0)
    values = [p for p, _ in sent]
    assert values == sorted(set(values)), "progress must increase with every notification"
    assert 20 <= len(sent) <= 25, sent  # one update per 5% of a stage, not one per second
    assert sent[-1][1] == "speech: 3" and ("scenes: 12 scenes" in [m for _, m in sent])
    stop.set()
    for call in (lambda: progress.update("speech", 9.0), lambda: progress.note("reason")):
        with pytest.raises(CallCancelled):
            call()


def test_views_of_a_memory(cache_with_speech_memory: Path, speech_video: Path) -> None:
    memory = open_memory(speech_video, cache_with_speech_memory)
    assert memory is not None
    instant = window_result(memory, 12.0, 12.0)
    assert [s.index for s in instant.scenes] == [2] and instant.duration == pytest.approx(20.0)
    assert [s.index for s in window_result(memory, 5.0, 9.0).scenes] == [1]  # ends touch
    beyond = window_result(memory, 30.0, 40.0)
    assert not beyond.scenes and "the video is 20.0 s long" in window_text(beyond)
    assert "red car" in transcript_document(memory) and "Hello" in transcript_document(memory)
    summary = summary_document(memory, "http://unused")
    assert summary.splitlines()[0].startswith("speech.mp4: 20.0 s, 4 scenes")
    assert "Segments:" in summary and "No summary yet" not in summary
    assert (
        search_text(search_result("v.mp4", "zebra", [])) == "no entry of the memory matches 'zebra'"
    )


def test_answer_text_names_the_letter_once() -> None:
    video = VideoRef("v.mp4", 20.0, "f" * 20)
    evidence = (CitedEvidence(9.0, 15.0, "asr", "The red car is parked.", "model"),)
    usage: dict[str, int | float] = {"model_calls": 1}

    def answer(text: str, choice: str | None, status: Status = "answered") -> Answer:
        return Answer(question="q?", options=(), answer=text, choice=choice, status=status,
                      error=None if status == "answered" else "no answer within the budget",
                      confidence=0.9, route="speech", evidence=evidence, steps=(), usage=usage,
                      video=video)  # fmt: skip

    assert answer_text(answer("the red car", "B")).splitlines()[0] == "B. the red car"
    assert answer_text(answer("B. the red car", "B")).splitlines()[0] == "B. the red car"
    assert answer_text(answer("Because it rains", "B")).startswith("B. Because it rains")
    lines = answer_text(answer("a car", None)).splitlines()
    assert lines[0] == "a car"
    assert lines[-1] == "[9.0-15.0 s] asr (cited by model): The red car is parked."
    # A fallback's letter is a guess: not put in front as if it were the model's answer.
    guess = "No answer from the model; best guess from the evidence: B. the red car"
    lines = answer_text(answer(guess, "B", "fallback")).splitlines()
    assert lines[0] == guess and lines[1].startswith("(fallback, confidence")
    assert lines[2] == "error: no answer within the budget"


def test_cli_errors_are_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        result = CliRunner().invoke(
            main, ["mcp", "--http", "--port", port, "--allow", str(tmp_path)]
        )
    assert result.exit_code == 1 and "cannot listen on 127.0.0.1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    for name in [m for m in sys.modules if m == "mcp" or m.startswith(("mcp.", "mcp_types"))]:
        monkeypatch.setitem(sys.modules, name, None)  # as if the extra were not installed
    monkeypatch.delitem(sys.modules, "mcr_agent.front.mcp.tools", raising=False)
    result = CliRunner().invoke(main, ["mcp", "--allow", str(tmp_path)])
    assert result.exit_code == 1 and "pip install 'mcr-agent[mcp]'" in result.stderr
    result = CliRunner().invoke(main, ["mcp", "--allow", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "--allow" in result.stderr


# -- over stdio, with the SDK's client ------------------------------------------------------
def test_stdio_session_indexes_asks_searches_and_reads(speech_video: Path, tmp_path: Path) -> None:
    """The whole product over stdio: the model server down first (everything but captions
    is built, and questions fail in one line), then up (the same call completes the memory)."""
    url = dead_url()
    env = {"MCR_BASE_URL": url, "MCR_CACHE_DIR": str(tmp_path / "cache")}
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    (tmp_path / "videos").mkdir()
    video = Path(shutil.copy(speech_video, tmp_path / "videos" / "speech.mp4"))

    async def session() -> None:
        async with stdio(video.parent, tmp_path, **env) as client:
            listed = {t.name: t for t in (await client.list_tools()).tools}
            assert set(listed) == TOOLS
            for tool in listed.values():
                assert tool.description and tool.output_schema and tool.input_schema["properties"]
                assert "path" in tool.input_schema["required"]
            await without_model_server(client, video)
            with FakeOpenAIServer(HonestAgentModel(), port=port):
                await with_model_server(client, video)
            await refusals(client, video, tmp_path)

    anyio.run(session)


async def without_model_server(client: Client, video: Path) -> None:
    progress = Progress()
    result = await client.call_tool("index_video", {"path": str(video)}, progress_callback=progress)
    assert not result.is_error, text(result)
    data = result.structured_content or {}
    assert data["scenes"] == 4 and data["duration"] == pytest.approx(20.0, abs=0.1)
    assert data["missing_captions"] == [0, 1, 2, 3] and "no model server" in data["caption_error"]
    assert "call index_video again" in text(result)
    assert {"scenes", "speech", "embeddings"} <= set(progress.stages()), progress.messages
    assert progress.values == sorted(set(progress.values))
    summary = await client.read_resource(data["resources"][0])
    assert "No summary yet: 4 of 4 scenes lack captions" in summary.contents[0].text  # type: ignore[union-attr]
    asked = await client.call_tool("ask_video", {"path": str(video), "question": QUESTION})
    assert asked.is_error and "no model server answers" in text(asked)
    assert len(text(asked).splitlines()) == 1


async def with_model_server(client: Client, video: Path) -> None:
    progress = Progress()
    result = await client.call_tool("index_video", {"path": str(video)}, progress_callback=progress)
    data = result.structured_content or {}
    assert data["missing_captions"] == [] and data["caption_error"] is None, text(result)
    # Only what was missing is built: the scenes and the transcript come from the first call.
    assert progress.stages() == ["captions", "summaries", "embeddings"], progress.messages
    resources = {str(r.uri) for r in (await client.list_resources()).resources}
    assert set(data["resources"]) <= resources
    transcript = await client.read_resource(data["resources"][1])
    assert "red car" in transcript.contents[0].text  # type: ignore[union-attr]

    steps = Progress()
    args = {"path": str(video), "question": QUESTION, "options": OPTIONS}
    answer = await client.call_tool("ask_video", args, progress_callback=steps)
    assert not answer.is_error, text(answer)
    found = answer.structured_content or {}
    assert found["choice"] == "B" and text(answer).startswith("B. the red car")
    assert found["evidence"] and all(e["start"] < 15 and e["end"] > 9 for e in found["evidence"])
    assert any("red car" in e["text"] for e in found["evidence"])
    assert {"answer", "choice", "confidence", "evidence", "usage", "steps"} <= set(found)
    assert found["usage"]["model_calls"] >= 1
    assert "observe" in steps.stages() and "answer" in steps.stages()

    await search_and_window(client, video)


async def search_and_window(client: Client, video: Path) -> None:
    hits = await client.call_tool("search_video", {"path": str(video), "query": "red car"})
    best = (hits.structured_content or {})["hits"][0]
    assert best["start"] < 15 and best["end"] > 9 and "red car" in best["text"]
    speech = await client.call_tool(
        "search_video", {"path": str(video), "query": "scene", "levels": ["asr"], "k": 1}
    )
    assert [h["level"] for h in (speech.structured_content or {})["hits"]] == ["asr"]

    args = {"path": str(video), "start": 9.5, "end": 14, "keyframes": True, "max_keyframes": 4}
    window = await client.call_tool("video_window", args)
    data = window.structured_content or {}
    assert [s["index"] for s in data["scenes"]] == [2] and data["scenes"][0]["caption"]
    assert any("red car" in s["text"] for s in data["speech"])
    images = [c for c in window.content if isinstance(c, ImageContent)]
    assert images and len(images) == len(data["images"]) <= 4
    assert all(9.5 <= t <= 14 for t in data["images"])
    assert all(base64.b64decode(i.data)[:2] == b"\xff\xd8" for i in images)  # JPEG
    plain = await client.call_tool("video_window", {**args, "keyframes": False})
    assert not [c for c in plain.content if isinstance(c, ImageContent)]


async def refusals(client: Client, video: Path, tmp_path: Path) -> None:
    """Every failure is a tool error with one line; the server keeps serving."""
    outside = Path(shutil.copy(video, tmp_path / "outside.mp4"))
    (video.parent / "escape.mp4").symlink_to(outside)
    calls: list[tuple[str, dict[str, Any], str]] = [
        ("ask_video", {"path": str(outside), "question": "?"}, "--allow DIR"),
        ("index_video", {"path": "escape.mp4"}, "--allow DIR"),
        ("search_video", {"path": "../../etc/passwd", "query": "x"}, "--allow DIR"),
        ("index_video", {"path": str(video.parent / "missing.mp4")}, "video not found"),
        ("video_window", {"path": str(video), "start": 9, "end": 3}, "before start"),
        # arguments outside the schema: one line too, not pydantic's multi-line report
        ("video_window", {"path": str(video), "start": -1, "end": 3}, "start: Input should be"),
        ("ask_video", {"path": str(video), "question": ""}, "invalid arguments for ask_video"),
    ]
    for tool, args, expected in calls:
        result = await client.call_tool(tool, args)
        assert result.is_error and expected in text(result), (tool, text(result))
        assert len(text(result).splitlines()) == 1
    assert {t.name for t in (await client.list_tools()).tools} == TOOLS


# -- cancellation -----------------------------------------------------------------------------
@pytest.fixture
def held_caption() -> Iterator[tuple[FakeOpenAIServer, threading.Event, threading.Event]]:
    """The honest model, except that the first caption request waits for `release`."""
    model, arrived, release = HonestAgentModel(), threading.Event(), threading.Event()

    def respond(request: Request) -> str | Reply:
        if request.images and not arrived.is_set():
            arrived.set()
            release.wait(HANG_GUARD_S)
        return model(request)

    with FakeOpenAIServer(respond) as srv:
        yield srv, arrived, release
    release.set()


def test_cancelled_indexing_stops_and_the_next_call_resumes(
    speech_video: Path,
    tmp_path: Path,
    held_caption: tuple[FakeOpenAIServer, threading.Event, threading.Event],
) -> None:
    """A cancelled index_video stops at its next step, keeping what it finished: the next
    call resumes from there (if the first build had gone on, it would find the memory
    complete and report it reused). The next call either waits for the first one's lock or,
    when the first has already let go of its held caption request, starts at once."""
    srv, arrived, release = held_caption
    env = {"MCR_BASE_URL": srv.base_url, "MCR_CACHE_DIR": str(tmp_path / "cache")}
    args = {"path": str(speech_video)}

    async def session() -> None:
        async with stdio(speech_video.parent, tmp_path, **env) as client:
            first, second, results = anyio.CancelScope(), Progress(), []
            # Its first progress message: the server read the cancel before this call.
            started = second.waiter("")

            async def index(progress: Progress | None = None) -> None:
                results.append(
                    await client.call_tool("index_video", args, progress_callback=progress)
                )

            async with anyio.create_task_group() as tg:

                async def cancelled_call() -> None:
                    with first:
                        await index()

                tg.start_soon(cancelled_call)
                await anyio.to_thread.run_sync(arrived.wait, HANG_GUARD_S)
                first.cancel()  # while the first caption is held: the client sends a cancel
                tg.start_soon(index, second)
                await started()  # waiting for the first one's lock, or already at work
                release.set()
            (result,) = results
            assert not result.is_error, text(result)
            data = result.structured_content or {}
            assert data["reused"] is False and data["missing_captions"] == []
            assert "scenes" not in second.stages() and "embeddings" in second.stages()

    anyio.run(session)


# -- over streamable HTTP -------------------------------------------------------------------
def test_http_transport_answers_on_loopback(
    speech_video: Path, cache_with_speech_memory: Path, tmp_path: Path
) -> None:
    with FakeOpenAIServer(HonestAgentModel()) as srv:
        env = {
            **os.environ,
            "MCR_BASE_URL": srv.base_url,
            "MCR_CACHE_DIR": str(cache_with_speech_memory),
        }
        command = [MCR_AGENT, "mcp", "--http", "--port", "0", "--allow", str(speech_video.parent)]
        proc = subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()  # printed once the port listens
            found = re.search(r"http://127\.0\.0\.1:\d+/mcp", line)
            assert found, line
            anyio.run(http_session, found.group(0), speech_video)
        finally:
            proc.send_signal(signal.SIGINT)
            code = proc.wait(HANG_GUARD_S)
    assert code == 0


async def http_session(url: str, video: Path) -> None:
    async with Client(url) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        args = {"path": str(video), "question": QUESTION, "options": OPTIONS}
        answer = await client.call_tool("ask_video", args)
        assert (answer.structured_content or {})["choice"] == "B", text(answer)
        refused = await client.call_tool("index_video", {"path": "/etc/hostname"})
        assert refused.is_error and "--allow DIR" in text(refused)
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        fingerprint = (answer.structured_content or {})["video"]["fingerprint"]
        assert f"mcr://video/{fingerprint}/summary" in listed
