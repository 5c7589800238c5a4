"""Shared fixtures: generated media with known ground truth, an honest fake model server."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mcr_agent import AgentConfig
from mcr_agent.front.media import make_scenes_video
from mcr_agent.model.captioner import VLMCaptioner
from mcr_agent.model.client import OpenAIVideoLLM
from memory import IndexSettings, VideoMemory, build_memory
from tests.fake_openai import HANG_GUARD_S, FakeOpenAIServer, Request, dead_url
from tests.frame_reader import FrameReader
from tests.scripted_llm import LookReply, ScriptedPerceiver

# Ground truth of the shared video: (seconds, on-screen text, speech) per scene.
SCENES: list[tuple[float, str | None, str | None]] = [
    (5.0, "SCORE 42", "Hello, this is the first scene."),
    (4.0, None, None),
    (6.0, None, "The red car is parked near the old bridge."),
    (5.0, "HELLO WORLD", None),
]
CUTS = [5.0, 9.0, 15.0]


@pytest.fixture(autouse=True)
def _no_real_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may reach a real model server or the user's cache; the fake servers' replies
    (OCR of every frame sent) are never cut short by a client timeout on a busy machine."""
    monkeypatch.setenv("MCR_BASE_URL", dead_url())
    monkeypatch.setenv("MCR_TIMEOUT", str(HANG_GUARD_S))
    monkeypatch.setenv("MCR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MCR_MODEL", raising=False)
    monkeypatch.delenv("MCR_API_KEY", raising=False)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def speech_video(media_dir: Path) -> Path:
    """20 s, 4 scenes with cuts at `CUTS`, speech in scenes 0 and 2, text in 0 and 3."""
    return make_scenes_video(
        media_dir / "speech.mp4",
        scene_seconds=[s for s, _, _ in SCENES],
        texts=[t for _, t, _ in SCENES],
        speech=[s for _, _, s in SCENES],
    )


_SPEECH = re.compile(r'<data source="speech">\n(.*?)\n</data>', re.DOTALL)
_ITEMS = re.compile(r'<data source="(?:scenes|parts)">\n(.*?)\n</data>', re.DOTALL)


def honest_responder(request: Request) -> str:
    """A reply computed from the request: OCR of the frames sent plus the speech given.

    Captions say which frames (times) were seen, the text on them, and the transcript;
    summaries join the items they were given. Nothing is canned.
    """
    if request.images:
        reader = FrameReader()
        seen = [reader.read(img).replace("\n", " ") for img in request.images]
        times = ", ".join(f"{t:.1f}s" for t in request.image_timestamps if t is not None)
        speech = _SPEECH.search(request.texts)
        said = speech.group(1).strip() if speech else "(none)"
        shown = "; ".join(s for s in seen if s) or "no text"
        return f"Frames at {times} show a coloured pattern with text: {shown}. Speech: {said}"
    items = _ITEMS.search(request.texts)
    return "Summary: " + (items.group(1).replace("\n", " ") if items else request.texts[:200])


@pytest.fixture(scope="session")
def speech_memory_cache(speech_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache holding the speech video's memory, captioned by the honest responder."""
    from mcr_agent import Agent

    cache = tmp_path_factory.mktemp("speech-memory")
    with FakeOpenAIServer(honest_responder) as srv:
        config = AgentConfig(
            base_url=srv.base_url, model="fake-vlm", cache_dir=cache, timeout=HANG_GUARD_S
        )
        Agent(config).index(speech_video)
    return cache


@pytest.fixture(scope="session")
def ocr_memory_cache(speech_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache holding the speech video's memory with on-screen text and speech, built once
    without a model server (so without captions)."""
    cache = tmp_path_factory.mktemp("ocr-memory")
    build_memory(speech_video, settings=IndexSettings(ocr=True), cache=cache)
    return cache


def ocr_memory(cache: Path, video: Path, folder: Path) -> VideoMemory:
    """The memory of `ocr_memory_cache`, opened from a private copy in `folder` (tests may
    extend or damage it); nothing is rebuilt."""
    shutil.copytree(cache, folder, dirs_exist_ok=True)
    memory, report = build_memory(video, settings=IndexSettings(ocr=True), cache=folder)
    assert report.reused
    return memory


@pytest.fixture
def cache_with_speech_memory(speech_memory_cache: Path, tmp_path: Path) -> Path:
    """A private copy of `speech_memory_cache` (tests may extend or damage it)."""
    return Path(shutil.copytree(speech_memory_cache, tmp_path / "cache", dirs_exist_ok=True))


@pytest.fixture(scope="session")
def embedder_exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the default embedding model's ONNX export (made once here,
    by the real exporter); copy its ``embedders`` folder into a cache to skip the export."""
    from memory.embed import DEFAULT_EMBED_MODEL, resolve_model
    from memory.embed_export import ensure_export
    from memory.embed_onnx import plain_stack

    cache = tmp_path_factory.mktemp("embedder-exports")
    stack = plain_stack(Path(resolve_model(DEFAULT_EMBED_MODEL)))
    assert stack is not None, "the default model is a plain BERT mean-pooling stack"
    ensure_export(stack, cache)
    return cache


@pytest.fixture
def make_perceiver() -> Iterator[Callable[..., ScriptedPerceiver]]:
    """Makes scripted perceivers for tool tests; fails if one keeps unused replies."""
    made: list[ScriptedPerceiver] = []

    def make(*replies: str | LookReply | Exception) -> ScriptedPerceiver:
        made.append(ScriptedPerceiver(list(replies)))
        return made[-1]

    yield make
    for p in made:
        assert not p.replies, f"{len(p.replies)} scripted replies were not consumed"


@pytest.fixture
def fake_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(honest_responder) as srv:
        yield srv


def captioner_for(srv: FakeOpenAIServer, *, concurrency: int = 2) -> VLMCaptioner:
    config = AgentConfig(
        base_url=srv.base_url,
        model="fake-vlm",
        max_concurrency=concurrency,
        max_retries=0,
        timeout=HANG_GUARD_S,
    )
    return VLMCaptioner(OpenAIVideoLLM(config))


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3-VL saved to disk (built offline in seconds)."""
    from evals.tiny_vlm import build_tiny_qwen3vl

    return build_tiny_qwen3vl(tmp_path_factory.mktemp("tiny-vlm") / "tiny-qwen3vl")


@pytest.fixture(scope="session")
def ray_runtime() -> Iterator[None]:
    """A local Ray runtime for the session: 2 CPUs, no dashboard, loopback only.

    `--ray local` in an in-process CLI run uses it (a process already connected to Ray
    keeps its runtime). Ray's switch for single-machine hosts makes every Ray process listen
    on 127.0.0.1 only; usage statistics are off.
    """
    import logging
    import os

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # read when ray is imported
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray  # the test extra installs it

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
