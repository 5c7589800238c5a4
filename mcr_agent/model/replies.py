"""What a model said: its reply text (think blocks handled) and the tool calls in it.

Servers without native tool calling (or with it switched off) return Qwen3-VL's Hermes-style
calls as text. This module turns such a reply into calls plus the remaining text, and names
every malformed call so the loop can send that back to the model as feedback. Call objects
and their arguments are read by the project's one lenient JSON reader
(`tools.replies.json_value`), so Python literals (single quotes, ``True``/``None``) read too.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from tools.replies import json_value, objects_in

__all__ = ["ParsedReply", "ToolCall", "parse_reply", "read_call", "reply_text", "strip_think"]

_THINK = re.compile(r"<think>(.*?)(?:</think>|\Z)", re.DOTALL)
_STRAY_THINK_END = re.compile(r"\A(.*?)</think>", re.DOTALL)
_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_EMPTY_FENCE = re.compile(r"```(?:json)?\s*```")
_FORMAT = '<tool_call>{"name": "TOOL", "arguments": {...}}</tool_call>'


@dataclass(frozen=True)
class ToolCall:
    """One requested tool call."""

    name: str
    arguments: dict[str, Any]
    id: str | None = None


@dataclass(frozen=True)
class ParsedReply:
    """A model reply split into prose, tool calls and problems with the calls.

    Attributes:
        text: The reply without think blocks and tool-call markup.
        calls: Well-formed calls, in order.
        errors: One sentence per malformed call, written to be sent back to the model.
    """

    text: str
    calls: tuple[ToolCall, ...] = ()
    errors: tuple[str, ...] = field(default=())


def strip_think(text: str) -> str:
    """Remove ``<think>...</think>`` blocks (an unclosed one runs to the end).

    A reply that starts inside a think block (the template opened it) loses everything up
    to the first ``</think>``.
    """
    text = _THINK.sub("", text)
    if "</think>" in text:
        text = _STRAY_THINK_END.sub("", text, count=1)
    return text.strip()


def reply_text(content: str, reasoning: str = "") -> str:
    """What the model said, thinking set aside unless it is all there is.

    The text after the thinking is the reply. When nothing follows it (``<think>`` never
    closed, a reply that is only a think block, or ``content`` empty with everything in a
    reasoning parser's ``reasoning_content``), the thinking is the reply: the letter or the
    tool call in it is still the model's answer.

    Args:
        content: The message content, think blocks included.
        reasoning: What the server's reasoning parser split off, if anything.
    """
    said = strip_think(content)
    if said:
        return said
    thought = [m.group(1) for m in _THINK.finditer(content)]
    stray = _STRAY_THINK_END.match(_THINK.sub("", content))
    thought += [stray.group(1)] if stray else []
    return "\n".join(t.strip() for t in [reasoning, *thought] if t.strip())


def parse_reply(text: str, *, known: Collection[str] | None = None) -> ParsedReply:
    """Find the tool calls in a model's text.

    ``<tool_call>`` blocks win; without them, a JSON object (fenced or bare, JSON or a Python
    literal) with a ``name`` and ``arguments`` (or ``parameters``) counts as one call. Calls
    inside think blocks are thinking, unless nothing follows the thinking (`reply_text`).

    Args:
        text: The raw reply content.
        known: Tool names the model may call; others are reported as errors.

    Returns:
        The prose, the calls and the errors.
    """
    body = reply_text(text)
    blocks = _TOOL_CALL.findall(body)
    if blocks:
        prose = _TOOL_CALL.sub("", body).strip()
        sources = [b.strip() for b in blocks]
    else:
        sources = [s for s, value in objects_in(body) if _looks_like_call(value)]
        prose = body
        for s in sources:
            prose = prose.replace(s, "")
        prose = _EMPTY_FENCE.sub("", prose).strip()
    calls: list[ToolCall] = []
    errors: list[str] = []
    for number, source in enumerate(sources, 1):
        call, error = read_call(source, known)
        if call is not None:
            calls.append(call)
        else:
            errors.append(f"tool call {number}: {error}; write it as {_FORMAT}")
    return ParsedReply(prose, tuple(calls), tuple(errors))


def read_call(
    source: str | dict[str, object], known: Collection[str] | None = None
) -> tuple[ToolCall | None, str]:
    """One call from its object (or the object's text); ``(None, why)`` when malformed."""
    data: object = source
    if isinstance(source, str):
        try:
            data = json_value(source)
        except ValueError as exc:
            return None, f"not valid JSON ({exc})"
    if not isinstance(data, dict):
        return None, "not a JSON object"
    name = data.get("name")
    args = data.get("arguments", data.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json_value(args) if args.strip() else {}
        except ValueError:
            return None, f"the arguments of {name!r} are a string that is not JSON"
    if not isinstance(name, str) or not name:
        return None, 'no "name"'
    if not isinstance(args, dict):
        return None, f'the "arguments" of {name!r} are not a JSON object'
    if known is not None and name not in known:
        return None, f"unknown tool {name!r} (tools: {', '.join(sorted(known))})"
    return ToolCall(name, {str(k): v for k, v in args.items()}), ""


def _looks_like_call(value: dict[object, object]) -> bool:
    return "name" in value and ("arguments" in value or "parameters" in value)
