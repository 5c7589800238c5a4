"""Single-pass question answering: uniformly sampled frames, the transcript, one model call.

This is the baseline the agentic loop is compared with (``--mode direct``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import prompts
from memory import Level, VideoMemory

from .llm import VideoLLM, image_part, text_part

__all__ = ["DirectAnswer", "answer_direct"]

_OPEN = "(open question: answer in one or two sentences)"
_LETTER = re.compile(r"\b([A-H])\b")


@dataclass(frozen=True)
class DirectAnswer:
    """The answer of one direct call."""

    answer: str
    choice: str | None
    frames: tuple[float, ...]
    prompt_tokens: int
    completion_tokens: int


def answer_direct(
    memory: VideoMemory,
    llm: VideoLLM,
    question: str,
    *,
    options: list[str] | None = None,
    max_frames: int = 16,
) -> DirectAnswer:
    """Ask the model once with `max_frames` keyframes spread evenly over the video."""
    keyframes = [k for s in memory.scenes for k in s.keyframes]
    step = max(1, len(keyframes) / max(1, max_frames))
    chosen = [keyframes[int(i * step)] for i in range(min(max_frames, len(keyframes)))]
    speech = "\n".join(
        f"[{e.start:.1f}-{e.end:.1f}s] {e.text}"
        for e in sorted(
            memory.level(Level.SUBTITLE) or memory.level(Level.ASR), key=lambda e: e.start
        )
    )
    content: list[dict[str, object]] = []
    for k in chosen:
        content += [
            text_part(f"Frame at [{k.time:.1f}s]:"),
            image_part((memory.folder / k.path).read_bytes()),
        ]
    content.append(
        text_part(
            prompts.render(
                "direct_answer",
                duration=f"{memory.duration:.1f}",
                transcript=speech or "(none)",
                question=question,
                options="\n".join(options or []) or _OPEN,
            )
        )
    )
    reply = llm.complete([{"role": "user", "content": content}], max_tokens=256)
    choice = None
    if options:
        m = _LETTER.search(reply.text)
        choice = m.group(1) if m else None
    return DirectAnswer(
        reply.text,
        choice,
        tuple(k.time for k in chosen),
        reply.prompt_tokens,
        reply.completion_tokens,
    )
