"""Tool calls read from a model's text: Hermes ``<tool_call>`` blocks or a bare JSON object.

Servers without native tool calling (or with it switched off) return Qwen3-VL's Hermes-style
calls as text. This module turns such a reply into calls plus the remaining text, and names
every malformed call so the loop can send that back to the model as feedback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ParsedReply", "ToolCall", "parse_reply", "strip_think"]

_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL)
_STRAY_THINK_END = re.compile(r"\A.*?</think>", re.DOTALL)
_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)
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


def parse_reply(text: str, *, known: Collection[str] | None = None) -> ParsedReply:
    """Find the tool calls in a model's text.

    ``<tool_call>`` blocks win; without them, a fenced JSON block or a bare JSON object that
    has a ``name`` and ``arguments`` counts as one call. Calls inside think blocks are
    ignored.

    Args:
        text: The raw reply content.
        known: Tool names the model may call; others are reported as errors.

    Returns:
        The prose, the calls and the errors.
    """
    body = strip_think(text)
    blocks = _TOOL_CALL.findall(body)
    if blocks:
        prose = _TOOL_CALL.sub("", body).strip()
        sources = [b.strip() for b in blocks]
    else:
        fenced = _FENCE.findall(body)
        found = fenced or _bare_objects(body)
        sources = [s for s in found if _looks_like_call(s)]
        prose = body
        for s in sources:
            prose = prose.replace(s, "")
        prose = re.sub(r"```(?:json)?\s*```", "", prose).strip()
    calls: list[ToolCall] = []
    errors: list[str] = []
    for number, source in enumerate(sources, 1):
        call, error = _read_call(source, known)
        if call is not None:
            calls.append(call)
        else:
            errors.append(f"tool call {number}: {error}; write it as {_FORMAT}")
    return ParsedReply(prose, tuple(calls), tuple(errors))


def _read_call(source: str, known: Collection[str] | None) -> tuple[ToolCall | None, str]:
    try:
        data = json.loads(source)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg} at character {exc.pos})"
    if not isinstance(data, dict):
        return None, "not a JSON object"
    name = data.get("name")
    args = data.get("arguments", data.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            return None, f"the arguments of {name!r} are a string that is not JSON"
    if not isinstance(name, str) or not name:
        return None, 'no "name"'
    if not isinstance(args, dict):
        return None, f'the "arguments" of {name!r} are not a JSON object'
    if known is not None and name not in known:
        return None, f"unknown tool {name!r} (tools: {', '.join(sorted(known))})"
    return ToolCall(name, args), ""


def _bare_objects(text: str) -> list[str]:
    """Top-level JSON objects in free text, as source strings."""
    decoder = json.JSONDecoder()
    found = []
    i = text.find("{")
    while i != -1:
        try:
            _, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        found.append(text[i:end])
        i = text.find("{", end)
    return found


def _looks_like_call(source: str) -> bool:
    return '"name"' in source and ('"arguments"' in source or '"parameters"' in source)
