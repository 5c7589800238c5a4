"""The route node: a soft strategy prior from the question's wording, with no model call.

The class decides which tools the reasoner is offered first and what evidence is fetched
before the first reasoning step (`prefetch`); the model may still call any tool.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict

from memory import Frame

from .prefetch import prefetch, speech_ahead
from .runtime import Deps
from .state import AgentState, Note, Route, Step

if TYPE_CHECKING:
    from langgraph.runtime import Runtime

__all__ = ["ROUTES", "RouteUpdate", "classify", "route", "tool_order"]

ROUTES: tuple[Route, ...] = ("global", "speech", "knowledge", "temporal", "fine-grained")

# Cue patterns per route, each with a weight; the highest total wins, ties go to the
# earlier route in _TIE_ORDER. Options count at half weight (they hint at what is asked).
_CUES: dict[Route, list[tuple[str, float]]] = {
    "speech": [
        (
            r"\b(say|says|said|saying|mention(?:s|ed)?|tell(?:s)?|told|talk(?:s|ed|ing)?|speak"
            r"(?:s|er|ing)?|spoke|narrat\w*|voice|hear|heard|word(?:s)?|quote|announce\w*|"
            r"explain(?:s|ed)?|according to|claim(?:s|ed)?|interview\w*|host)\b",
            2.0,
        ),
        (r"\b(why|reason|purpose|opinion|argue\w*)\b", 0.5),
    ],
    "fine-grained": [
        (
            r"\b(how many|count|number of|colou?r|what (?:is )?written|text|sign|label|"
            r"logo|read|digit|score|price|jersey|wear(?:s|ing)?|hold(?:s|ing)?|shape|"
            r"(?:on|to) the (?:left|right)|(?:left|right) side|small|detail|exact(?:ly)?)\b",
            1.5,
        ),
        (r"\b\d+\b", 0.3),
    ],
    "temporal": [
        (
            r"\b(first|last|before|after|then|next|finally|begin(?:ning)?|start(?:s)?|end(?:s|ing)?|"
            r"order|sequence|when|while|during|earlier|later|moment|timestamp|minute|second(?:s)?)\b",
            1.2,
        ),
    ],
    "global": [
        (
            r"\b(main|overall|mostly|whole|entire|summar\w*|theme|topic|about|genre|purpose of the "
            r"video|best describes|conclu\w*|message|type of video|category)\b",
            1.5,
        ),
    ],
    "knowledge": [
        (
            r"\b(who is|famous|history|histor\w*|country|capital|founded|invent\w*|known for|"
            r"real[- ]world|located in|nationality|which city|which year|born|species|"
            r"scientific)\b",
            1.5,
        ),
    ],
}
_TIE_ORDER: tuple[Route, ...] = ("fine-grained", "speech", "temporal", "knowledge", "global")

_TOOLS: dict[Route, list[str]] = {
    "global": ["summarize", "memory_search", "temporal_grounding", "inspect"],
    "speech": ["asr", "memory_search", "temporal_grounding", "inspect"],
    "knowledge": ["memory_search", "web_search", "inspect", "asr"],
    "temporal": ["temporal_grounding", "video_segmentation", "inspect", "memory_search"],
    "fine-grained": ["inspect", "ocr", "temporal_grounding", "memory_search"],
}


class RouteUpdate(TypedDict):
    """What route writes."""

    route: Route
    tool_order: list[str]
    context: list[Note]
    visual_evidence: list[Frame]
    steps: list[Step]


def route(state: AgentState, runtime: Runtime[Deps]) -> RouteUpdate:
    """Classify the question and pre-fetch what its class needs; for a speech question
    about a memory built without speech, start transcribing the likely windows (they run
    while the model answers the first prompt, and the asr tool takes them from there).

    Reads ``question``, ``options``, ``belief`` (candidate spans), ``context``. Writes
    ``route``, ``tool_order``, ``context`` (the pre-fetched notes added) and
    ``visual_evidence`` (the pre-fetched frames).
    """
    deps = runtime.context
    kind = classify(state["question"], state.get("options") or [])
    order = tool_order(kind, list(deps.tools))
    candidates = state["belief"].candidates
    notes, frames, fetched = prefetch(kind, deps.memory, candidates, deps.budget)
    if kind == "speech" and "asr" in deps.tools:
        # Speech the memory lacks is transcribed while the model reads the first prompt.
        ahead = [w for w in speech_ahead(deps.memory, candidates) if deps.speech.start(*w)]
        fetched += f", transcribing {sum(b - a for a, b in ahead):.0f} s ahead" * bool(ahead)
    return {
        "route": kind,
        "tool_order": order,
        "context": [*state["context"], *notes],
        "visual_evidence": frames,
        "steps": [Step("route", summary=f"{kind} question; pre-fetched {fetched}")],
    }


def classify(question: str, options: Sequence[str] = ()) -> Route:
    """The route of a question (multiple-choice options add weaker cues)."""
    scores = dict.fromkeys(ROUTES, 0.0)
    for route, cues in _CUES.items():
        for pattern, weight in cues:
            scores[route] += weight * len(re.findall(pattern, question, re.IGNORECASE))
            for option in options:
                body = re.sub(r"^\s*[A-Ha-h][.)]\s*", "", option)
                scores[route] += 0.5 * weight * len(re.findall(pattern, body, re.IGNORECASE))
    best = max(scores.values())
    if best == 0.0:
        return "global" if re.search(r"\bvideo\b", question, re.IGNORECASE) else "fine-grained"
    return next(r for r in _TIE_ORDER if scores[r] == best)


def tool_order(route: Route, available: Sequence[str]) -> list[str]:
    """Tools to offer, the route's preferred ones first, then the rest in given order."""
    first = [t for t in _TOOLS[route] if t in available]
    return first + [t for t in available if t not in first]
