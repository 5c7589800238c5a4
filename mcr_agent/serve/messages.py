"""OpenAI chat messages to the chat template's format: roles, text, media parts in order,
and assistant tool calls, each malformed piece named in a `RequestError` (HTTP 400)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tools.replies import json_value

__all__ = ["Media", "RequestError", "conversation"]


class RequestError(Exception):
    """A request the server refuses, with the HTTP status and the OpenAI error fields."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.param = param


@dataclass(frozen=True)
class Media:
    """An image or video part of a request: its kind, URL and where it is."""

    kind: str  # "image" or "video"
    url: str
    where: str  # e.g. messages[1].content[0]


_PARTS = {"text", "image_url", "video_url"}
_ROLES = {"system", "user", "assistant", "tool", "developer"}


def conversation(messages: Sequence[Any]) -> tuple[list[dict[str, Any]], list[Media]]:
    """Messages in the chat template's format, and their media in order.

    Raises:
        RequestError: A message or part of the wrong shape (named by its place).
    """
    if not messages:
        raise RequestError("messages is empty: send at least one message", param="messages")
    conversation: list[dict[str, Any]] = []
    media: list[Media] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        role = message.get("role") if isinstance(message, dict) else None
        if not isinstance(role, str) or role not in _ROLES:
            raise RequestError(
                f"{where} needs a role among {', '.join(sorted(_ROLES))}", param=where
            )
        role = "system" if role == "developer" else role
        turn: dict[str, Any] = {"role": role}
        content = message.get("content")
        if content is None or isinstance(content, str):
            turn["content"] = content or ""
        elif isinstance(content, list):
            parts = []
            for j, part in enumerate(content):
                kind = part.get("type") if isinstance(part, dict) else None
                at = f"{where}.content[{j}]"
                if not isinstance(kind, str) or kind not in _PARTS:
                    raise RequestError(
                        f"{at}: unsupported part type {kind!r} (this server reads text, "
                        "image_url and video_url)",
                        param=at,
                    )
                if kind == "text":
                    parts.append({"type": "text", "text": str(part.get("text", ""))})
                    continue
                ref = part.get(kind)
                url = ref.get("url") if isinstance(ref, dict) else ref
                if not isinstance(url, str) or not url:
                    raise RequestError(f"{at}: {kind} needs a url", param=at)
                media.append(Media(kind.removesuffix("_url"), url, at))
                parts.append({"type": kind.removesuffix("_url")})
            text_only = all(p["type"] == "text" for p in parts)
            # Templates expect plain strings outside user turns.
            turn["content"] = (
                "".join(p["text"] for p in parts) if text_only and role != "user" else parts
            )
        else:
            raise RequestError(f"{where}: content must be a string or a list", param=where)
        calls = message.get("tool_calls")
        if calls:
            if not isinstance(calls, list):
                raise RequestError(f"{where}.tool_calls must be a list", param=where)
            turn["tool_calls"] = [_call(c, f"{where}.tool_calls") for c in calls]
        if role == "tool" and message.get("tool_call_id"):
            turn["tool_call_id"] = message["tool_call_id"]
        conversation.append(turn)
    return conversation, media


def _call(call: Any, where: str) -> dict[str, Any]:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise RequestError(f"{where}: each call needs function.name", param=where)
    arguments = function.get("arguments") or "{}"
    if isinstance(arguments, str):  # written by a model: JSON or a Python literal
        with contextlib.suppress(ValueError):
            arguments = json_value(arguments)
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {"name": function["name"], "arguments": arguments},
    }
