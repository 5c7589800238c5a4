"""The tools the reasoner is offered, their OpenAI schemas, and the `answer` control tool."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import threading
from pathlib import Path
from typing import Any, ClassVar, cast

from pydantic import Field

from memory.store import write_json
from tools import Tool, ToolArgs

__all__ = ["ANSWER", "AnswerArgs", "Span", "default_tools", "schema", "schemas"]

ANSWER = "answer"

logger = logging.getLogger(__name__)


class Span(ToolArgs):
    """A time span of the video."""

    start: float = Field(description="Start in seconds.")
    end: float = Field(description="End in seconds.")


class AnswerArgs(ToolArgs):
    """Arguments of answer."""

    answer: str = Field(min_length=1, description="The answer, in one or two sentences.")
    choice: str | None = Field(
        default=None,
        max_length=80,
        description="For multiple-choice questions: the letter of the chosen option.",
    )
    evidence: list[Span] = Field(
        default_factory=list, description="The time spans that support the answer."
    )
    confidence: float = Field(default=0.7, ge=0.0, le=1.0, description="0 to 1.")


class _AnswerTool:
    name: ClassVar[str] = ANSWER
    description: ClassVar[str] = (
        "Give the final answer once the evidence supports it, with the time spans it rests "
        "on; it is checked against the evidence before it is returned."
    )
    args: ClassVar[type[ToolArgs]] = AnswerArgs


def default_tools() -> dict[str, Tool]:
    """Every agent-callable tool, by name."""
    from tools import MemorySearch
    from tools.asr import Transcript
    from tools.grounding import TemporalGrounding
    from tools.inspection import Inspect
    from tools.ocr import ReadText
    from tools.segmentation import VideoSegmentation
    from tools.summarize import Summarize
    from tools.verify import Verify
    from tools.web_search import WebSearch

    found: list[Tool] = [
        VideoSegmentation(),
        Transcript(),
        WebSearch(),
        TemporalGrounding(),
        Inspect(),
        MemorySearch(),
        ReadText(),
        Summarize(),
        Verify(),
    ]
    return {t.name: t for t in found}


def schema(
    name: str, description: str, args: type[ToolArgs], cache: Path | None = None
) -> dict[str, Any]:
    """The OpenAI ``tools`` entry of one tool, as langchain-core's `convert_to_openai_tool`
    makes it (it cleans pydantic's JSON schema for function calling).

    langchain-core brings LangChain's tracing models (about 0.5 s to import on 2 cores), so
    each entry is also kept in ``<cache>/tool-schemas.json``, keyed by the tool's name,
    description, JSON schema and the langchain-core version: a fresh process asking a
    question reads it instead. A cache that cannot be read or written, or an entry not
    shaped like one, is left aside.
    """
    key = _key(name, description, args)
    found = _stored(cache).get(key) if cache is not None else None
    if _is_entry(found, name):
        return cast(dict[str, Any], found)
    made = _converted(name, description, args)  # none yet, or damaged outside mcr-agent
    if cache is not None:
        _store(cache, key, made)
    return made


def schemas(
    tools: dict[str, Tool], order: list[str], cache: Path | None = None
) -> list[dict[str, Any]]:
    """Schemas of the tools in `order`, then `answer` (`schema` for the cache)."""
    out = [schema(n, tools[n].description, tools[n].args, cache) for n in order if n in tools]
    return [*out, schema(ANSWER, _AnswerTool.description, AnswerArgs, cache)]


def _is_entry(found: object, name: str) -> bool:
    """Whether `found` has the shape of an OpenAI ``tools`` entry for tool `name`."""
    if not isinstance(found, dict) or found.get("type") != "function":
        return False
    function = found.get("function")
    return (
        isinstance(function, dict)
        and function.get("name") == name
        and isinstance(function.get("parameters"), dict)
    )


@functools.cache
def _converted(name: str, description: str, args: type[ToolArgs]) -> dict[str, Any]:
    from langchain_core.tools import StructuredTool
    from langchain_core.utils.function_calling import convert_to_openai_tool

    def _unused(**_kwargs: object) -> None:
        return None

    structured = StructuredTool.from_function(
        func=_unused, name=name, description=description, args_schema=args
    )
    return convert_to_openai_tool(structured)


@functools.cache
def _key(name: str, description: str, args: type[ToolArgs]) -> str:
    what = [
        name,
        description,
        args.model_json_schema(),
        importlib.metadata.version("langchain-core"),
    ]
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:32]


_FILE = "tool-schemas.json"
_loaded: dict[Path, dict[str, Any]] = {}
_loaded_lock = threading.Lock()


def _stored(cache: Path) -> dict[str, Any]:
    with _loaded_lock:
        if cache not in _loaded:
            try:
                found = json.loads((cache / _FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                logger.debug("no tool schemas read from %s: %s", cache, exc)
                found = {}
            _loaded[cache] = found if isinstance(found, dict) else {}
        return _loaded[cache]


def _store(cache: Path, key: str, entry: dict[str, Any]) -> None:
    with _loaded_lock:
        known = _loaded.setdefault(cache, {})
        known[key] = entry
        try:
            write_json(cache / _FILE, known)
        except OSError as exc:  # a read-only cache: convert again next time
            logger.debug("tool schemas not kept in %s: %s", cache, exc)
