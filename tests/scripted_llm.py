"""A scripted `VideoLLM` for node tests: replies come from a queue that must be used up."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcr_agent.model.completion import Completion
from mcr_agent.model.replies import ToolCall
from memory import Frame

Item = Completion | Exception | Callable[[Sequence[dict[str, Any]]], Completion]


def call(name: str, text: str = "", **arguments: Any) -> Completion:
    """A reply that calls one tool."""
    return Completion(text, 10, 5, (ToolCall(name, arguments),))


@dataclass
class ScriptedLLM:
    """Answers `complete` with the next scripted item; records what it was sent."""

    replies: list[Item]
    sent: list[tuple[list[dict[str, Any]], list[dict[str, Any]] | None]] = field(
        default_factory=list
    )

    @property
    def model_name(self) -> str:
        return "scripted"

    def ping(self, timeout: float = 3.0) -> str:
        return "scripted"

    def complete(
        self,
        messages: Sequence[dict[str, Any]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> Completion:
        if tools is None and _indexing(messages):  # captions while the memory is built
            return Completion("A scene of the video.", 1, 1)
        assert self.replies, "the model was called more often than scripted"
        self.sent.append((list(messages), list(tools) if tools else None))
        item = self.replies.pop(0)
        if isinstance(item, Exception):
            raise item
        return item(messages) if callable(item) else item

    def assert_consumed(self) -> None:
        assert not self.replies, f"{len(self.replies)} scripted replies were not used"

    def texts(self, index: int) -> str:
        """All text parts of the messages of call `index`."""
        out = []
        for m in self.sent[index][0]:
            content = m["content"]
            parts = [content] if isinstance(content, str) else [p.get("text", "") for p in content]
            out += parts
        return "\n".join(out)


def _indexing(messages: Sequence[dict[str, Any]]) -> bool:
    text = str(messages[-1]["content"])
    return "describing one scene" in text or 'source="scenes"' in text or 'source="parts"' in text


LookReply = Callable[[str, Sequence[Frame], Mapping[str, str]], str]


@dataclass
class Look:
    """One call a tool made to the perceiver."""

    task: str
    times: list[float]
    fields: dict[str, str]

    @property
    def frames(self) -> int:
        return len(self.times)


@dataclass
class ScriptedPerceiver:
    """A fake video-LLM for tools, answering from a queue (strings, functions of the input,
    errors); the `perceiver` fixture checks every reply was used."""

    replies: list[str | LookReply | Exception]
    calls: list[Look] = field(default_factory=list)

    def look(self, task: str, frames: Sequence[Frame], **fields: str) -> str:
        assert self.replies, f"unscripted model call {task!r}"
        assert all(isinstance(f.jpeg, bytes) and f.jpeg[:2] == b"\xff\xd8" for f in frames)
        self.calls.append(Look(task, [f.time for f in frames], dict(fields)))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply if isinstance(reply, str) else reply(task, frames, fields)
