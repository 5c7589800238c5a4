"""A chat completion as the loop uses it: the reply text, the token counts, the tool calls.

`read_completion` turns the openai client's reply object into a `Completion`, reading
reasoning fields (``reasoning_content``, ``reasoning``), think blocks, native and Hermes-text
tool calls (`replies`); a reply the model wrote but that cannot be used is `ModelReplyError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ModelReplyError
from .replies import ToolCall, parse_reply, read_call, reply_text, strip_think

__all__ = ["Completion", "read_completion"]


@dataclass(frozen=True)
class Completion:
    """A model reply.

    Attributes:
        text: What the model said (`reply_text`: the thinking only when nothing follows it),
            without tool-call markup.
        prompt_tokens: Prompt tokens the server counted.
        completion_tokens: Completion tokens the server counted.
        calls: Tool calls, native or parsed from the text (only when tools were offered).
        call_errors: One sentence per malformed call, to send back to the model.
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: tuple[ToolCall, ...] = ()
    call_errors: tuple[str, ...] = ()


def _tokens(usage: Any, name: str) -> int:
    try:
        return max(0, int(getattr(usage, name, 0) or 0))
    except (TypeError, ValueError):
        return 0


def read_completion(reply: Any, model: str, names: list[str]) -> Completion:
    """The first choice of an openai chat completion as a `Completion`.

    Args:
        reply: The openai client's reply (one choice with a message and a finish reason).
        model: The model's name, for messages.
        names: The tools offered (empty: a plain text reply is expected).

    Raises:
        ModelReplyError: The reply is empty, or thinking cut off by ``max_tokens``.
        AttributeError, TypeError, ValueError, KeyError, IndexError: A reply of the wrong
            shape (the client turns these into a `ModelReplyError`).
    """
    message = reply.choices[0].message
    content = message.content if isinstance(message.content, str) else ""
    reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
    said = reply_text(content, reasoning if isinstance(reasoning, str) else "")
    native = getattr(message, "tool_calls", None) or []
    if reply.choices[0].finish_reason == "length" and said and not strip_think(content):
        # Thinking cut off by max_tokens is no answer, whatever options it weighed.
        raise ModelReplyError(f"the model's reply was cut off while thinking ({model})")
    usage = getattr(reply, "usage", None)
    tokens = (_tokens(usage, "prompt_tokens"), _tokens(usage, "completion_tokens"))
    if not names:
        if not said:
            raise ModelReplyError(f"the model returned an empty reply ({model})")
        return Completion(said, *tokens)
    parsed = parse_reply(said, known=names)
    calls, errors = list(parsed.calls), list(parsed.errors)
    if native:
        calls, errors = [], []
        for number, call in enumerate(native, 1):
            function = getattr(call, "function", None)
            raw = {"name": getattr(function, "name", None),
                   "arguments": getattr(function, "arguments", None) or {}}  # fmt: skip
            found, why = read_call(raw, names)
            if found is None:
                errors.append(f"tool call {number}: {why}")
            else:
                calls.append(ToolCall(found.name, found.arguments, getattr(call, "id", None)))
    if not calls and not errors and not parsed.text:
        raise ModelReplyError(f"the model returned an empty reply ({model})")
    return Completion(parsed.text, *tokens, tuple(calls), tuple(errors))
