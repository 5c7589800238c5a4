"""`mcr-agent demo`: the main job on a fresh machine, offline up to the model call."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from rich.console import Console

from ..config import AgentConfig
from ..errors import DependencyError, ModelServerError

__all__ = ["SAMPLE_SCENES", "make_sample", "run_demo"]

SAMPLE_SCENES: tuple[tuple[float, str | None, str | None], ...] = (
    (6.0, "WELCOME TO THE HARBOR", "Welcome to the harbor tour."),
    (5.0, None, "The boat leaves at nine in the morning."),
    (7.0, "TICKETS 12 EUROS", None),
    (6.0, None, "Look at the lighthouse on the hill."),
    (6.0, "THANK YOU", "Thanks for watching."),
)
"""(seconds, on-screen text, speech) of each scene of the sample video."""

QUESTION = "How much do the tickets cost, and when does the boat leave?"


def make_sample(folder: Path) -> Path:
    """Write the sample video (30 s, 5 scenes, speech and on-screen text) if missing."""
    from .media import SPEECH_AVAILABLE, make_scenes_video

    path = folder / "sample.mp4"
    if path.exists():
        return path
    tmp = folder / ".sample.tmp.mp4"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        make_scenes_video(
            tmp,
            scene_seconds=[s for s, _, _ in SAMPLE_SCENES],
            texts=[t for _, t, _ in SAMPLE_SCENES],
            speech=[s for _, _, s in SAMPLE_SCENES] if SPEECH_AVAILABLE else None,
        )
        tmp.replace(path)
    except OSError as exc:
        raise DependencyError(
            f"cannot write the sample video in {folder} ({exc.strerror or exc}): "
            "pass --out with a writable folder"
        ) from exc
    except RuntimeError as exc:
        raise DependencyError(f"making the sample video failed: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path


def run_demo(console: Console, config: AgentConfig, folder: Path) -> None:
    """Index the sample fully offline, search it, then ask the server if one answers."""
    from .api import Agent
    from .media import require_tools
    from .progress import RichProgress
    from .report import print_answer, print_build, print_step

    try:
        require_tools()
    except RuntimeError as exc:
        raise DependencyError(f"the demo makes its sample video with {exc}") from exc
    video = make_sample(folder)
    console.print(f"sample video: {video}", highlight=False)
    config = config.replace(index=dataclasses.replace(config.index, ocr=True))
    agent = Agent(config)
    with RichProgress(console) as progress:
        memory, report = agent.build(video, progress=progress)
    print_build(console, memory, report, config.base_url)
    for query in ("ticket price", "when does the boat leave"):
        hit = memory.search(query, k=1)
        if hit:
            e = hit[0].entry
            console.print(
                f"search {query!r}: [{e.start:.1f}-{e.end:.1f} s] {e.level.value}: {e.text}",
                highlight=False,
            )
    problem = agent.server_status()
    if problem is not None:
        console.print(
            f"[yellow]no model server at {config.base_url}[/]: start one with "
            "`mcr-agent serve yanziang/InternVideo3-8B-Instruct --host 0.0.0.0 --dtype bf16` "
            "on a GPU machine (see README) and set MCR_BASE_URL, then run `mcr-agent demo` "
            "again to ask it about the video.",
            highlight=False,
        )
        return
    console.print(f"[bold]Q:[/] {QUESTION}  (model {agent.llm.model_name})", highlight=False)
    for event in agent.stream(video, QUESTION):
        for step in event.steps:
            print_step(console, step)
        if event.answer is not None and event.answer.status == "failed":
            raise ModelServerError(event.answer.error or "the model server failed")
        if event.answer is not None:
            print_answer(console, event.answer)
