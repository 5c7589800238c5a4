"""What the MCP tools and resources return: typed results and their short texts.

Pure functions of a memory (or an answer); no MCP here, so the shapes are tested and read
without the `mcp` package. Every time is in video seconds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from memory import BuildReport, Entry, Hit, Level, VideoMemory

from ..answer import Answer

__all__ = [
    "AnswerResult",
    "IndexResult",
    "SearchResult",
    "Span",
    "WindowResult",
    "answer_text",
    "index_result",
    "index_text",
    "resource_uris",
    "search_result",
    "search_text",
    "summary_document",
    "transcript_document",
    "window_result",
    "window_text",
]

_TEXT_ITEMS = 8
"""Items the short text of a result lists; the structured content has them all."""


class Span(BaseModel):
    """A piece of the memory with its time span."""

    start: float = Field(description="Start, video seconds.")
    end: float = Field(description="End, video seconds.")
    source: str = Field(description="What produced it: caption, summary, asr:MODEL, ocr, ...")
    text: str


class IndexResult(BaseModel):
    """What `index_video` built or found."""

    path: str = Field(description="The video file, absolute.")
    fingerprint: str = Field(description="Content fingerprint; names the video's resources.")
    duration: float = Field(description="Length, seconds.")
    scenes: int = Field(description="Scenes (units between cuts, a few tens of seconds at most).")
    entries: int = Field(description="Searchable memory entries of every level.")
    counts: dict[str, int] = Field(description="Items per kind: scenes, asr, subtitle, ocr, ...")
    reused: bool = Field(description="True when everything came from the cache.")
    missing_captions: list[int] = Field(description="Indexes of scenes without a caption.")
    caption_error: str | None = Field(description="Why those scenes lack captions, if any do.")
    warnings: list[str]
    resources: list[str] = Field(description="URIs of the video's summary and transcript.")


class HitView(BaseModel):
    """One search hit."""

    start: float = Field(description="Start, video seconds.")
    end: float = Field(description="End, video seconds.")
    level: str = Field(description="video, segment, scene, asr, subtitle or ocr.")
    source: str
    text: str
    score: float = Field(description="Higher is better; comparable within one search only.")


class SearchResult(BaseModel):
    """The hits of `search_video`, best first."""

    path: str
    query: str
    hits: list[HitView]


class SceneView(BaseModel):
    """A scene of a window."""

    index: int
    start: float = Field(description="Start, video seconds.")
    end: float = Field(description="End, video seconds.")
    caption: str | None = Field(description="The model's caption; null until one is written.")
    keyframes: list[float] = Field(description="Times of the scene's keyframes, seconds.")


class WindowResult(BaseModel):
    """Everything the memory holds for a window, in time order."""

    path: str
    duration: float = Field(description="Length of the whole video, seconds.")
    start: float = Field(description="Window start, video seconds.")
    end: float = Field(description="Window end, video seconds.")
    scenes: list[SceneView]
    speech: list[Span] = Field(description="Transcript lines (speech recognition).")
    on_screen_text: list[Span] = Field(description="Text read from keyframes (OCR).")
    subtitles: list[Span]
    summaries: list[Span] = Field(description="Segment and video summaries overlapping it.")
    images: list[float] = Field(description="Times of the keyframes attached as images.")


class EvidenceView(BaseModel):
    """A span an answer rests on."""

    model_config = ConfigDict(extra="allow")

    start: float = Field(description="Start, video seconds.")
    end: float = Field(description="End, video seconds.")
    source: str
    text: str
    cited_by: str = Field(description="model (a span it cited) or agent (found to support it).")


class AnswerResult(BaseModel):
    """The object of ``mcr-agent ask --json`` (fields beyond these pass through)."""

    model_config = ConfigDict(extra="allow")

    answer: str
    choice: str | None = Field(description="Option letter when options were given.")
    status: str = Field(
        description="answered (the model's answer), fallback (it gave none: the letter is a "
        "best guess from the evidence) or failed (the model server failed)."
    )
    error: str | None = Field(description="Why the model gave no answer, else null.")
    confidence: float = Field(description="0 to 1; high only when the evidence checked out.")
    evidence: list[EvidenceView]
    usage: dict[str, float] = Field(description="Model calls, tokens, frames sent, wall seconds.")


def resource_uris(fingerprint: str) -> list[str]:
    """The URIs of a video's summary and transcript resources."""
    return [f"mcr://video/{fingerprint}/summary", f"mcr://video/{fingerprint}/transcript"]


def index_result(memory: VideoMemory, report: BuildReport, base_url: str) -> IndexResult:
    """The result of indexing; `base_url` names the server when captions are missing."""
    counts = report.counts or {k: int(v) for k, v in memory.manifest.get("counts", {}).items()}
    missing = report.missing_captions
    refused = "; ".join(dict.fromkeys(report.refused_captions.values()))
    why = (
        report.caption_error
        or refused
        or (f"no model server answers at {base_url}" if missing else None)
    )
    return IndexResult(
        path=memory.info.path,
        fingerprint=memory.fingerprint,
        duration=round(memory.duration, 3),
        scenes=len(memory.scenes),
        entries=len(memory.entries),
        counts=counts,
        reused=report.reused,
        missing_captions=missing,
        caption_error=why,
        warnings=list(report.warnings),
        resources=resource_uris(memory.fingerprint),
    )


def index_text(result: IndexResult) -> str:
    """Two or three lines on what indexing produced and what is missing."""
    lines = [
        f"{result.path}: {result.duration:.1f} s, {result.scenes} scenes, "
        f"{result.entries} memory entries" + (" (from the cache)" if result.reused else "")
    ]
    if result.missing_captions:
        lines.append(
            f"{len(result.missing_captions)} of {result.scenes} scenes lack captions "
            f"({result.caption_error}); call index_video again once the model server is up "
            "to complete them (everything else is saved)."
        )
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines)


def answer_text(answer: Answer) -> str:
    """The answer, its letter, status and confidence, and the first cited spans."""
    data = answer.to_dict()
    if data.get("status") == "failed":  # no answer at all: the one-line error, as `ask` prints
        return str(answer.error)
    head = answer.answer
    answered = data.get("status", "answered") == "answered"  # a fallback's letter is a guess
    if answered and answer.choice and not re.match(rf"\(?{answer.choice}\b", head):
        head = f"{answer.choice}. {head}"
    status = f"{data['status']}, " if data.get("status") else ""
    lines = [head, f"({status}confidence {answer.confidence:.2f})"]
    if data.get("error"):
        lines.append(f"error: {data['error']}")
    for e in answer.evidence[:_TEXT_ITEMS]:
        lines.append(_line(e.start, e.end, f"{e.source} (cited by {e.cited_by})", e.text))
    return "\n".join(lines)


def search_result(path: str, query: str, hits: Sequence[Hit]) -> SearchResult:
    """Search hits as the tool's structured result."""
    return SearchResult(
        path=path, query=query, hits=[HitView.model_validate(h.to_dict()) for h in hits]
    )


def search_text(result: SearchResult) -> str:
    """One line per hit (the first few), or that nothing matched."""
    if not result.hits:
        return f"no entry of the memory matches {result.query!r}"
    return "\n".join(
        _line(h.start, h.end, f"{h.level} {h.score:.3f}", h.text) for h in result.hits[:_TEXT_ITEMS]
    )


def window_result(
    memory: VideoMemory, start: float, end: float, images: Sequence[float] = ()
) -> WindowResult:
    """What the memory holds for [start, end] seconds, grouped by kind."""
    entries = memory.window(start, end)
    captions = {e.start: e.text for e in memory.level(Level.SCENE) if e.source == "caption"}
    scenes = [
        SceneView(
            index=s.index,
            start=s.start,
            end=s.end,
            caption=captions.get(s.start),
            keyframes=[k.time for k in s.keyframes],
        )
        for s in memory.scenes
        if _overlaps(s.start, s.end, start, end)
    ]

    def spans(*levels: Level) -> list[Span]:
        return [_span(e) for e in entries if e.level in levels]

    return WindowResult(
        path=memory.info.path,
        duration=round(memory.duration, 3),
        start=start,
        end=end,
        scenes=scenes,
        speech=spans(Level.ASR),
        on_screen_text=spans(Level.OCR),
        subtitles=spans(Level.SUBTITLE),
        summaries=spans(Level.SEGMENT, Level.VIDEO),
        images=list(images),
    )


def window_text(result: WindowResult) -> str:
    """A time-ordered listing of the window: captions, speech, text, subtitles."""
    rows: list[tuple[float, str]] = []
    for s in result.scenes:
        caption = s.caption if s.caption is not None else "(no caption yet)"
        rows.append((s.start, _line(s.start, s.end, f"scene {s.index}", caption)))
    for kind, items in (
        ("speech", result.speech),
        ("on screen", result.on_screen_text),
        ("subtitle", result.subtitles),
    ):
        rows += [(e.start, _line(e.start, e.end, kind, e.text)) for e in items]
    head = f"{result.path} [{result.start:g}-{result.end:g} s]"
    if not rows:
        return f"{head}: the memory holds nothing here (the video is {result.duration:.1f} s long)"
    return "\n".join([head, *(row for _, row in sorted(rows, key=lambda r: r[0]))])


def summary_document(memory: VideoMemory, base_url: str) -> str:
    """The video's summary resource: the whole-video summary, then one line per segment."""
    head = _head(memory)
    video = memory.summary
    segments = memory.level(Level.SEGMENT)
    if video is None and not segments:
        missing = len(memory.missing_captions)
        return (
            f"{head}\nNo summary yet: {missing} of {len(memory.scenes)} scenes lack captions "
            f"(the model server at {base_url} did not write them while indexing). Call "
            "index_video again once it is up; the transcript resource is complete already."
        )
    lines = [head]
    if video is not None:
        lines += ["", video.text]
    if segments:
        lines += ["", "Segments:"] + [_line(e.start, e.end, "", e.text) for e in segments]
    return "\n".join(lines)


def transcript_document(memory: VideoMemory) -> str:
    """The video's transcript resource: speech and subtitles, one timed line each."""
    lines = sorted(
        (e for e in memory.entries if e.level in (Level.ASR, Level.SUBTITLE)),
        key=lambda e: (e.start, e.end),
    )
    sources = sorted({e.source for e in lines})
    head = _head(memory)
    if not lines:
        why = "no audio track" if not memory.info.has_audio else "no speech was recognized"
        return f"{head}\nNo transcript: {why}, and no subtitles were imported."
    tag = len(sources) > 1
    body = [_line(e.start, e.end, e.source if tag else "", e.text) for e in lines]
    return "\n".join([f"{head}\nTranscript ({', '.join(sources)}):", *body])


def _head(memory: VideoMemory) -> str:
    return (
        f"{Path(memory.info.path).name}: {memory.duration:.1f} s, {len(memory.scenes)} scenes "
        f"({memory.info.path})"
    )


def _overlaps(lo: float, hi: float, start: float, end: float) -> bool:
    """Whether [lo, hi] shares time with the window (an instant window: contains it)."""
    return hi > start and lo < end if end > start else lo <= start <= hi


def _span(e: Entry) -> Span:
    return Span(start=round(e.start, 3), end=round(e.end, 3), source=e.source, text=e.text)


def _line(start: float, end: float, label: str, text: Any) -> str:
    flat = " ".join(str(text).split())
    flat = flat if len(flat) <= 200 else flat[:199] + "…"
    return f"[{start:.1f}-{end:.1f} s] " + (f"{label}: " if label else "") + flat
