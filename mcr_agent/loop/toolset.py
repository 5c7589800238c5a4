"""The tools the reasoner is offered, their OpenAI schemas, and the `answer` control tool."""

from __future__ import annotations

import functools
from typing import Any, ClassVar

from pydantic import Field

from tools import Tool, ToolArgs

__all__ = ["ANSWER", "AnswerArgs", "Span", "default_tools", "schema", "schemas"]

ANSWER = "answer"


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


@functools.cache
def schema(name: str, description: str, args: type[ToolArgs]) -> dict[str, Any]:
    """The OpenAI ``tools`` entry of one tool (langchain-core cleans the JSON schema)."""
    from langchain_core.tools import StructuredTool
    from langchain_core.utils.function_calling import convert_to_openai_tool

    def _unused(**_kwargs: object) -> None:
        return None

    structured = StructuredTool.from_function(
        func=_unused, name=name, description=description, args_schema=args
    )
    return convert_to_openai_tool(structured)


def schemas(tools: dict[str, Tool], order: list[str]) -> list[dict[str, Any]]:
    """Schemas of the tools in `order`, then `answer`."""
    out = [schema(n, tools[n].description, tools[n].args) for n in order if n in tools]
    return [*out, schema(ANSWER, _AnswerTool.description, AnswerArgs)]
