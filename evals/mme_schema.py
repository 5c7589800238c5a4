"""The Video-MME vocabulary (durations, domains, sub-categories and task types, in the
benchmark's order) and the layout of one result record."""

from __future__ import annotations

from typing import TypedDict

__all__ = [
    "DOMAINS",
    "DURATIONS",
    "SUB_CATEGORIES",
    "TASK_TYPES",
    "EvidenceItem",
    "Record",
    "Usage",
]

DURATIONS = ("short", "medium", "long")
DOMAINS = (
    "Knowledge",
    "Film & Television",
    "Sports Competition",
    "Artistic Performance",
    "Life Record",
    "Multilingual",
)
SUB_CATEGORIES = (
    "Humanity & History",
    "Literature & Art",
    "Biology & Medicine",
    "Finance & Commerce",
    "Astronomy",
    "Geography",
    "Law",
    "Life Tip",
    "Technology",
    "Animation",
    "Movie & TV Show",
    "Documentary",
    "News Report",
    "Esports",
    "Basketball",
    "Football",
    "Athletics",
    "Other Sports",
    "Stage Play",
    "Magic Show",
    "Variety Show",
    "Acrobatics",
    "Handicraft",
    "Food",
    "Fashion",
    "Daily Life",
    "Travel",
    "Pet & Animal",
    "Exercise",
    "Multilingual",
)
TASK_TYPES = (
    "Temporal Perception",
    "Spatial Perception",
    "Attribute Perception",
    "Action Recognition",
    "Object Recognition",
    "OCR Problems",
    "Counting Problem",
    "Temporal Reasoning",
    "Spatial Reasoning",
    "Action Reasoning",
    "Object Reasoning",
    "Information Synopsis",
)


class Usage(TypedDict, total=False):
    """What answering one question cost (``requests`` and ``retries`` since issue 13)."""

    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    frames_sent: int
    wall_s: float
    requests: int
    retries: int


class EvidenceItem(TypedDict):
    """One piece of evidence the answer cites."""

    start: float
    end: float
    source: str
    text: str


class Record(TypedDict, total=False):
    """One finished question, as the eval runner writes it (one JSON line).

    ``reply`` is the model's own final reply; ``response`` our answer text. ``index_usage``
    is this question's share of building its video's memory (captions, summaries): the
    build's cost divided by the video's questions in that run.
    """

    question_id: str
    video_id: str
    videoID: str
    duration: str
    domain: str
    sub_category: str
    task_type: str
    question: str
    options: list[str]
    answer: str
    mode: str
    reply: str
    response: str
    choice: str | None
    status: str
    confidence: float
    evidence: list[EvidenceItem]
    usage: Usage
    index_usage: Usage
    error: str | None
    config: dict[str, object]
    finished_at: str
