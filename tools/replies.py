"""Reading the JSON object a model was asked for, leniently: fenced or not, with prose
around it, or written as a Python literal (single quotes, True/False)."""

from __future__ import annotations

import ast
import json
import re

__all__ = ["object_in"]

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_JSON_WORDS = re.compile(r"\b(?:true|false|null)\b")
_PYTHON_WORDS = {"true": "True", "false": "False", "null": "None"}


def object_in(text: str) -> dict[str, object] | None:
    """The first object in a reply (fenced blocks first), with lower-case keys; None if none."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for chunk in candidates:
        for start in (i for i, ch in enumerate(chunk) if ch == "{"):
            parsed = _parse_object(chunk[start:])
            if parsed is not None:
                return {str(k).lower(): v for k, v in parsed.items()}
    return None


def _parse_object(text: str) -> dict[object, object] | None:
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:
        end = text.find("}")  # the replies asked for are flat: the first brace closes them
        if end < 0:
            return None
        value = _literal(text[: end + 1])
    return value if isinstance(value, dict) else None


def _literal(text: str) -> object:
    """A Python literal (single quotes, True/False), also with JSON's true/false/null."""
    for attempt in (text, _JSON_WORDS.sub(lambda m: _PYTHON_WORDS[m.group(0)], text)):
        try:
            return ast.literal_eval(attempt)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
    return None
