"""The one reader of JSON written by a model, lenient where it is still unambiguous.

Models write the objects they are asked for fenced or not, with prose around them, and
often as Python literals (single quotes, ``True``/``None``), which is also how some servers
pass tool-call arguments on. Every place that reads model JSON (tool calls, verification,
grounding) goes through `json_value` and `objects_in`.
"""

from __future__ import annotations

import ast
import json
import re

__all__ = ["json_value", "object_in", "objects_in"]

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z_]\w*")
_PYTHON_WORDS = {"true": "True", "false": "False", "null": "None"}
_QUOTES = "\"'"


def json_value(text: str) -> object:
    """One value written as JSON or as a Python literal.

    Strict JSON first; then a Python literal, where JSON's ``true``/``false``/``null`` (outside
    strings) also read as ``True``/``False``/``None``. So ``{'choice': 'B', 'sure': True}``,
    ``{"a": null,}`` and ``[1, 2]`` all read.

    Raises:
        ValueError: Neither reading works; the message says where strict JSON failed.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problem = f"{exc.msg} at character {exc.pos}"
    for attempt in (text, _pythonized(text)):
        try:
            return ast.literal_eval(attempt.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    raise ValueError(problem)


def objects_in(text: str) -> list[tuple[str, dict[object, object]]]:
    """Every top-level object in free text, in order, as ``(source, value)``.

    An object runs from a ``{`` to its matching ``}`` (braces inside quoted strings do not
    count); one that does not read as JSON or a Python literal is skipped, and the search
    goes on from the next ``{`` inside it.
    """
    found: list[tuple[str, dict[object, object]]] = []
    start = text.find("{")
    while start != -1:
        end = _closing(text, start)
        value: object = None
        if end is not None:
            try:
                value = json_value(text[start : end + 1])
            except ValueError:
                value = None
        if end is not None and isinstance(value, dict):
            found.append((text[start : end + 1], value))
            start = text.find("{", end + 1)
        else:
            start = text.find("{", start + 1)
    return found


def object_in(text: str) -> dict[str, object] | None:
    """The first object in a reply (fenced blocks first), with lower-case keys; None if none."""
    for chunk in [m.group(1) for m in _FENCE.finditer(text)] + [text]:
        found = objects_in(chunk)
        if found:
            return {str(k).lower(): v for k, v in found[0][1].items()}
    return None


def _closing(text: str, start: int) -> int | None:
    """The index of the ``}`` matching the ``{`` at `start`, or None."""
    depth, quote, i = 0, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in _QUOTES:
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i if ch == "}" else None
            if depth < 0:
                return None
        i += 1
    return None


def _pythonized(text: str) -> str:
    """`text` with JSON's bare true/false/null as Python's, strings left as they are."""
    out, quote, i = [], "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
            i += 1
            continue
        if ch in _QUOTES:
            quote = ch
            out.append(ch)
            i += 1
            continue
        word = _WORD.match(text, i)
        if word is not None:
            out.append(_PYTHON_WORDS.get(word.group(0), word.group(0)))
            i = word.end()
            continue
        out.append(ch)
        i += 1
    return "".join(out)
