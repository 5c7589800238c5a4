"""The web app without a browser: uploads, access, the question queue, the build lock and a
dead model server (the page-level behaviour is in test_ui_browser.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from mcr_agent import Agent, AgentConfig, ConfigError
from mcr_agent.front.cli import main
from mcr_agent.front.ui.access import Access, check_bind
from mcr_agent.front.ui.app import create_app
from mcr_agent.front.ui.jobs import Job, JobBoard, Question
from mcr_agent.front.ui.library import VideoLibrary
from tests.agent_model import HonestAgentModel
from tests.fake_openai import HANG_GUARD_S, FakeOpenAIServer, Reply, Request, dead_url
from tests.ui_helpers import CAPTION, VERIFY, Hold

RED_CAR = Question("What does the speaker say is parked?", ("A. a blue truck", "B. the red car"))


def client_for(
    tmp_path: Path,
    videos: Path | None = None,
    *,
    access: Access | None = None,
    host: str = "127.0.0.1",
    max_upload: int = 10_000_000,
    config: AgentConfig | None = None,
) -> TestClient:
    config = config or AgentConfig(base_url=dead_url(), cache_dir=tmp_path / "cache")
    library = VideoLibrary(videos, config.cache_dir / "uploads", config.cache_dir, max_upload)
    board = JobBoard(Agent(config), concurrency=1)
    app = create_app(library, board, access or Access(), host=host)
    return TestClient(app, base_url="http://127.0.0.1:7860")


def uploads(tmp_path: Path) -> list[str]:
    folder = tmp_path / "cache" / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def first_event(job: Job, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first event of a job that `wanted` accepts, waiting for it to be published."""

    async def find() -> dict[str, Any]:
        async for event in job.follow():
            if wanted(event):
                return event
        raise AssertionError(f"{job.id} ended without it: {job.events()}")

    return asyncio.run(find())


def finished(job: Job) -> dict[str, Any]:
    """The last event of a job."""
    return first_event(job, lambda event: job.finished and event == job.events()[-1])


def sse(client: TestClient, job: str) -> list[dict[str, Any]]:
    """A job's events as a page gets them: server-sent events, until the last one."""
    events = []
    with client.stream("GET", f"/api/jobs/{job}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
    return events


def test_uploads_are_sanitised_limited_and_checked(tmp_path: Path, speech_video: Path) -> None:
    video = speech_video.read_bytes()
    client = client_for(tmp_path, max_upload=len(video))
    first = client.put("/api/upload", params={"name": "../../My Clip (1).MP4"}, content=video)
    assert first.status_code == 200, first.text
    assert first.json()["id"] == "uploads/My_Clip_1_.mp4" and first.json()["duration"] == 20.0
    again = client.put("/api/upload", params={"name": "My Clip (1).MP4"}, content=video)
    assert again.json()["id"] == "uploads/My_Clip_1_-1.mp4"
    assert uploads(tmp_path) == ["My_Clip_1_-1.mp4", "My_Clip_1_.mp4"]
    for name in ("evil.sh", ".mp4", "../.."):
        refused = client.put("/api/upload", params={"name": name}, content=video)
        assert refused.status_code == 400 and "not a video file name" in refused.json()["error"]
    over = video + b"x"
    announced = client.put("/api/upload", params={"name": "big.mp4"}, content=over)
    assert announced.status_code == 413 and "--max-upload-mb" in announced.json()["error"]
    chunked = client.put(
        "/api/upload", params={"name": "big.mp4"}, content=iter([video[:1000], over[1000:]])
    )
    assert chunked.status_code == 413
    garbage = client.put("/api/upload", params={"name": "fake.mp4"}, content=b"not a video")
    assert garbage.status_code == 400 and "not a readable video" in garbage.json()["error"]
    assert uploads(tmp_path) == ["My_Clip_1_-1.mp4", "My_Clip_1_.mp4"]  # nothing else left
    listed = [v["id"] for v in client.get("/api/videos").json()]
    assert listed == ["uploads/My_Clip_1_-1.mp4", "uploads/My_Clip_1_.mp4"]


def test_listening_beyond_this_machine_needs_a_login(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--auth USER:PASS"):
        check_bind("0.0.0.0", Access())
    check_bind("::1", Access())
    check_bind("0.0.0.0", Access(token="t0ken"))
    result = CliRunner().invoke(main, ["ui", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 1 and "--auth USER:PASS" in result.output
    result = CliRunner().invoke(main, ["ui", "--host", "0.0.0.0", "--auth", "alice"])
    assert result.exit_code == 1 and "USER:PASS" in result.output

    client = client_for(tmp_path, access=Access.parse("alice:s3cret", None), host="0.0.0.0")
    refused = client.get("/api/videos")
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
    assert client.get("/api/videos", auth=("alice", "wrong")).status_code == 401
    assert client.get("/api/videos", auth=("alice", "s3cret")).status_code == 200

    client = client_for(tmp_path, access=Access(token="t0ken"), host="0.0.0.0")
    assert client.get("/").status_code == 401
    assert client.get("/api/videos", headers={"Authorization": "Bearer t0ken"}).is_success
    entered = client.get("/", params={"token": "t0ken"}, follow_redirects=False)
    assert entered.status_code == 303 and "mcr_ui_token=t0ken" in entered.headers["set-cookie"]
    assert "HttpOnly" in entered.headers["set-cookie"]
    assert client.get("/api/videos").is_success  # the cookie now carries the token


def test_pages_come_with_a_strict_policy_and_only_to_local_names(tmp_path: Path) -> None:
    client = client_for(tmp_path)
    page = client.get("/")
    assert (
        page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    )
    assert client.get("/", headers={"Host": "evil.example:7860"}).status_code == 400
    assert client.get("/", headers={"Host": "localhost:7860"}).status_code == 200


def test_paths_outside_the_folders_are_refused(tmp_path: Path, speech_video: Path) -> None:
    videos = tmp_path / "videos"
    (videos / "sub").mkdir(parents=True)
    shutil.copy(speech_video, videos / "sub" / "clip.mp4")
    (videos / "out.mp4").symlink_to(speech_video)  # a file outside the folder
    (videos / "notes.txt").write_text("not a video")
    client = client_for(tmp_path, videos)
    assert [v["id"] for v in client.get("/api/videos").json()] == ["videos/sub/clip.mp4"]
    assert (
        client.get("/media/videos/sub/clip.mp4", headers={"Range": "bytes=0-99"}).status_code == 206
    )
    for video in ("videos/out.mp4", "videos/../videos/out.mp4", "videos/..", "/etc/passwd",
                  "cache/x.mp4", "uploads/../../../etc/passwd", "videos/sub/../../x"):  # fmt: skip
        refused = client.get("/api/memory", params={"video": video})
        assert refused.status_code == 403 and "refused" in refused.json()["error"], video
    missing = client.post("/api/index", json={"video": "videos/none.mp4"})
    assert missing.status_code == 400 and "no video" in missing.json()["error"]


@pytest.fixture
def honest_server() -> Iterator[tuple[FakeOpenAIServer, list[Hold]]]:
    holds: list[Hold] = []
    model = HonestAgentModel()

    def respond(request: Request) -> str | Reply:
        for hold in list(holds):
            hold(request)
        return model(request)

    with FakeOpenAIServer(respond) as server:
        yield server, holds
    for hold in holds:
        hold.release()


def test_questions_wait_in_line_beyond_the_concurrency(
    honest_server: tuple[FakeOpenAIServer, list[Hold]],
    cache_with_speech_memory: Path,
    speech_video: Path,
) -> None:
    server, holds = honest_server
    verification = Hold(VERIFY)
    holds.append(verification)
    config = AgentConfig(base_url=server.base_url, cache_dir=cache_with_speech_memory)
    board = JobBoard(Agent(config), concurrency=1)
    first = board.ask("videos/speech.mp4", speech_video, None, RED_CAR)
    second = board.ask("videos/speech.mp4", speech_video, None, RED_CAR)
    queued = first_event(second, lambda e: e["type"] == "status")
    assert queued["text"] == "queued: 1 question(s) before this one, 1 answered at once"
    assert verification.reached.wait(HANG_GUARD_S)  # the first holds the only slot
    assert second.events() == [queued]  # so the second is still in line
    verification.release()
    for job in (first, second):
        last = finished(job)
        assert last["type"] == "answer" and last["choice"] == "B", last
        kinds = [e["type"] for e in job.events()]
        assert kinds.count("step") >= 4 and kinds.index("step") < kinds.index("answer")


def test_one_build_per_video_the_other_waits_and_says_so(
    honest_server: tuple[FakeOpenAIServer, list[Hold]], tmp_path: Path, speech_video: Path
) -> None:
    server, holds = honest_server
    captions = Hold(CAPTION)
    holds.append(captions)
    config = AgentConfig(base_url=server.base_url, cache_dir=tmp_path / "cache")
    config = config.replace(index=dataclasses.replace(config.index, asr=False))
    board = JobBoard(Agent(config), concurrency=2)
    first = board.index("videos/speech.mp4", speech_video, None)
    assert captions.reached.wait(HANG_GUARD_S)  # the first build holds the memory's lock
    second = board.index("videos/speech.mp4", speech_video, None)
    waiting = "waiting for another process indexing this video"
    assert first_event(second, lambda e: e["type"] == "stage" and e["name"] == waiting)
    captions.release()
    assert finished(first)["reused"] is False
    last = finished(second)
    assert last["type"] == "indexed" and last["reused"] is True and not last["missing_captions"]


def test_no_model_server_indexes_and_says_how_to_start_one(
    tmp_path: Path, speech_video: Path
) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(speech_video, videos / "clip.mp4")
    config = AgentConfig(base_url=dead_url(), cache_dir=tmp_path / "cache")
    config = config.replace(index=dataclasses.replace(config.index, asr=False))
    client = client_for(tmp_path, videos, config=config)
    status = client.get("/api/status").json()
    assert status["server_error"] and "mcr-agent serve" in status["hint"]
    assert client.get("/api/memory", params={"video": "videos/clip.mp4"}).status_code == 404
    job = client.post("/api/index", json={"video": "videos/clip.mp4"}).json()["job"]
    events = sse(client, job)
    assert {"scenes", "embeddings"} <= {e["name"] for e in events if e["type"] == "stage_done"}
    assert events[-1]["type"] == "indexed" and events[-1]["missing_captions"] == [0, 1, 2, 3]
    memory = client.get("/api/memory", params={"video": "videos/clip.mp4"}).json()
    assert len(memory["scenes"]) == 4 and memory["missing_captions"] == [0, 1, 2, 3]
    thumbnail = client.get(memory["scenes"][0]["thumbnail"])
    assert (
        thumbnail.headers["content-type"] == "image/jpeg" and thumbnail.content[:2] == b"\xff\xd8"
    )
    assert client.get("/api/videos").json()[0]["indexed"] is True

    body = {"video": "videos/clip.mp4", "question": "What is shown?", "options": ["red", ""]}
    job = client.post("/api/ask", json=body).json()["job"]
    events = sse(client, job)
    assert events[-1]["type"] == "failed" and "\n" not in events[-1]["message"]
    assert "model server" in events[-1]["message"] and "Traceback" not in str(events)
    empty = client.post("/api/ask", json={**body, "question": "  "})
    assert sse(client, empty.json()["job"])[-1]["message"].startswith("the question is empty")
    assert client.get(f"/api/jobs/{job}/trace.html").status_code == 400  # nothing answered
