"""Evidence fetched before the first reasoning step, shaped by the question's route."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from memory import Entry, Frame, IndexSettings, Level, VideoMemory, frames_at
from tools.asr import MAX_ON_DEMAND_SECONDS
from tools.summarize import keyframes_in

from ..config import Budget
from ..errors import VideoError
from .notes import memory_note
from .spans import merge_spans
from .state import Note, Route

__all__ = ["keyframes", "prefetch", "speech_ahead"]

logger = logging.getLogger(__name__)
_KEYFRAME_PIXELS = IndexSettings().keyframe_max_pixels
_SPEECH = (Level.SUBTITLE, Level.ASR)


def keyframes(memory: VideoMemory, spans: Sequence[tuple[float, float]], most: int) -> list[Frame]:
    """Up to `most` memory keyframes inside the spans, spread over them, in time order."""
    found: list[Frame] = []
    per_span = max(1, most // max(1, len(spans)))
    for lo, hi in spans:
        frames = keyframes_in(memory, lo, hi, per_span)
        if not frames:  # a short span between keyframes: take the nearest one
            middle = (lo + hi) / 2
            nearest = min(memory.keyframes(0, memory.duration),
                          key=lambda k: abs(k.time - middle), default=None)  # fmt: skip
            frames = keyframes_in(memory, nearest.time, nearest.time, 1) if nearest else []
        found += frames
    unique = {f.time: f for f in found}
    return [unique[t] for t in sorted(unique)][:most]


def prefetch(
    route: Route, memory: VideoMemory, candidates: Sequence[tuple[float, float]], budget: Budget
) -> tuple[list[Note], list[Frame], str]:
    """Notes and frames for the route, and a one-line summary of what was fetched."""
    top = list(candidates[:2]) or [(0.0, memory.duration)]
    frames_most = min(4, budget.frames_per_call, budget.max_frames)
    if route == "speech":
        windows = merge_spans([(max(0.0, a - 10), min(memory.duration, b + 10)) for a, b in top])
        lines = [e for a, b in windows for e in memory.window(a, b, levels=_SPEECH)]
        note = memory_note(
            "Speech around the candidate spans:", list(dict.fromkeys(lines))[:40], source="speech"
        )
        return [note], keyframes(memory, top, frames_most), f"{len(lines)} speech lines"
    info = memory.info
    kept = int(memory.manifest.get("settings", {}).get("keyframe_max_pixels", _KEYFRAME_PIXELS))
    if route == "fine-grained" and info.width * info.height <= kept * 1.25:
        # The keyframes already hold (nearly) every pixel of a small video: decoding again
        # would send the same detail for ~100 ms more.
        return [], keyframes(memory, top, frames_most), "keyframes (full resolution)"
    if route == "fine-grained":
        per = max(1, frames_most // len(top))
        times = [a + (i + 0.5) * (b - a) / per for a, b in top for i in range(per)]
        # Any frame within half a slot of its target will do, and the keyframe a seek lands
        # on usually is one: 2 windows in ~10 ms instead of ~110 ms of decoding GOPs.
        slot = min((b - a) / per for a, b in top)
        try:
            frames = frames_at(
                memory.info.path,
                sorted(times),
                max_pixels=budget.inspect_pixels,
                tolerance=slot / 2,
            )
        except VideoError as exc:  # the memory's keyframes still show something
            logger.warning("cannot re-sample frames (%s); using keyframes", exc)
            return [], keyframes(memory, top, frames_most), "keyframes (video unreadable)"
        return [], frames, f"{len(frames)} high-resolution frames"
    if route == "temporal":
        scenes = _captioned(memory.level(Level.SCENE)) or memory.level(Level.OCR) + memory.level(
            Level.ASR
        )
        note = memory_note("Timeline of the video:", scenes[:60], limit=140)
        return [note], keyframes(memory, top, frames_most), f"timeline of {len(scenes)} entries"
    if route == "global":
        parts = memory.level(Level.SEGMENT) or _captioned(memory.level(Level.SCENE))[:30]
        note = memory_note("Parts of the video:", parts, limit=600)
        spread = [(i * memory.duration / 4, (i + 1) * memory.duration / 4) for i in range(4)]
        return [note], keyframes(memory, spread, frames_most), f"{len(parts)} parts"
    return [], keyframes(memory, top, frames_most), "web search offered first"


def speech_ahead(
    memory: VideoMemory, candidates: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Windows worth transcribing before the model asks: none unless the memory was built
    without speech recognition and has no subtitles while the video has audio; then the
    whole video when the asr tool would transcribe it in one call, else the windows around
    the two best candidate spans."""
    if not memory.info.has_audio or memory.manifest.get("settings", {}).get("asr", True):
        return []
    if memory.level(Level.SUBTITLE) or memory.level(Level.ASR):
        return []
    if memory.duration <= MAX_ON_DEMAND_SECONDS:
        return [(0.0, memory.duration)]
    around = [(max(0.0, a - 10), min(memory.duration, b + 10)) for a, b in candidates[:2]]
    return [(a, min(b, a + MAX_ON_DEMAND_SECONDS)) for a, b in merge_spans(around)]


def _captioned(entries: list[Entry]) -> list[Entry]:
    """Without placeholder entries of scenes the model has not captioned yet."""
    return [e for e in entries if e.source != "uncaptioned"]
