"""Value types of the video memory: every entry carries its time span in video seconds."""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from enum import Enum
from typing import Any

__all__ = ["Entry", "Frame", "Hit", "Keyframe", "Level", "Scene", "TextFrame", "VideoInfo"]


class Level(str, Enum):
    """The levels of the hierarchical memory, coarse to fine, plus the text streams."""

    VIDEO = "video"
    SEGMENT = "segment"
    SCENE = "scene"
    ASR = "asr"
    SUBTITLE = "subtitle"
    OCR = "ocr"


@dataclass(frozen=True)
class VideoInfo:
    """What probing a video file found.

    Attributes:
        path: Absolute path of the file.
        duration: Where the picture ends on the player's clock, in seconds.
        fps: Average frame rate.
        width: Width in pixels as shown (sample aspect ratio and rotation applied).
        height: Height in pixels as shown (after rotation).
        rotation: Clockwise rotation in degrees that the display matrix asks for.
        has_audio: Whether the file has an audio stream.
        vfr: Whether the frame rate varies (frame times then come from timestamps).
        codec: Name of the video codec.
        start_time: Where playback starts on the file's own timestamps, in seconds
            (libavformat's format start time; an MPEG-TS capture's is often 1.4 s or hours).
            Every time in the memory is on the player's clock: a stream timestamp in seconds
            minus this.
    """

    path: str
    duration: float
    fps: float
    width: int
    height: int
    rotation: int
    has_audio: bool
    vfr: bool
    codec: str
    start_time: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoInfo:
        """The info `to_dict` gave.

        Raises:
            KeyError, TypeError, ValueError: `data` is not what `to_dict` gives: a field
                missing or of another type, a time that is not finite, or a duration, frame
                rate or size that is not positive.
        """
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = data[f.name] if f.default is MISSING else data.get(f.name, f.default)
            if not _of_kind(value, str(f.type)):
                raise TypeError(f"{f.name} is {value!r}, not {f.type}")
            if f.type == "float" and not math.isfinite(value := float(value)):
                raise ValueError(f"{f.name} is not finite: {value}")
            values[f.name] = value
        if min(values["duration"], values["fps"], values["width"], values["height"]) <= 0:
            raise ValueError(f"a duration, frame rate or size that is not positive: {values}")
        return cls(**values)


_KINDS: dict[str, tuple[type, ...]] = {
    "str": (str,), "float": (int, float), "int": (int,), "bool": (bool,),
}  # fmt: skip


def _of_kind(value: Any, kind: str) -> bool:
    """Whether `value`, read from JSON, fits a field annotated `kind` (a bool fits only
    ``bool``, though Python counts it an int)."""
    kinds = _KINDS[kind]
    return isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))


@dataclass(frozen=True)
class Keyframe:
    """A frame kept for the model: its time and its JPEG file inside the memory folder."""

    time: float
    path: str


@dataclass(frozen=True)
class TextFrame:
    """A frame kept for OCR where on-screen text may have changed without a cut.

    Attributes:
        time: When the frame is shown, in video seconds.
        since: When the change it shows began (its text is on screen from then).
        path: JPEG file inside the memory folder.
    """

    time: float
    since: float
    path: str


@dataclass(frozen=True)
class Frame:
    """A frame decoded for the model: its time in video seconds and its JPEG bytes."""

    time: float
    jpeg: bytes = field(repr=False)
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class Scene:
    """A unit of the video between two cuts (or a slice of an over-long shot): its
    keyframes, and the frames where its on-screen text may have changed."""

    index: int
    start: float
    end: float
    keyframes: tuple[Keyframe, ...] = ()
    text_frames: tuple[TextFrame, ...] = ()

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start": self.start,
            "end": self.end,
            "keyframes": [asdict(k) for k in self.keyframes],
            "text_frames": [asdict(f) for f in self.text_frames],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        frames = tuple(Keyframe(float(k["time"]), str(k["path"])) for k in data["keyframes"])
        text = tuple(
            TextFrame(float(f["time"]), float(f["since"]), str(f["path"]))
            for f in data.get("text_frames", ())
        )
        return cls(int(data["index"]), float(data["start"]), float(data["end"]), frames, text)


@dataclass(frozen=True)
class Entry:
    """One piece of memory: a caption, summary, transcript line or on-screen text.

    Attributes:
        start: Start in video seconds.
        end: End in video seconds.
        level: Which level of the memory it belongs to.
        source: What produced it (``caption``, ``asr:tiny.en``, ``ocr``, ...).
        text: The text itself.
        frames: Keyframe files (relative to the memory folder) that show it, if any.
    """

    start: float
    end: float
    level: Level
    source: str
    text: str
    frames: tuple[str, ...] = field(default=())

    def overlaps(self, t0: float, t1: float) -> bool:
        """Whether the entry shares time with [t0, t1]; touching ends do not count,
        except for instants (an entry or window of zero length inside the other)."""
        lo, hi = max(self.start, t0), min(self.end, t1)
        return hi > lo or (hi == lo and (self.start == self.end or t0 == t1))

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "level": self.level.value,
            "source": self.source,
            "text": self.text,
            "frames": list(self.frames),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        return cls(
            float(data["start"]),
            float(data["end"]),
            Level(data["level"]),
            str(data["source"]),
            str(data["text"]),
            tuple(data.get("frames", ())),
        )


@dataclass(frozen=True)
class Hit:
    """A search result: the entry and its score (higher is better)."""

    entry: Entry
    score: float

    def to_dict(self) -> dict[str, Any]:
        e = self.entry
        return {
            "start": round(e.start, 3),
            "end": round(e.end, 3),
            "level": e.level.value,
            "source": e.source,
            "text": e.text,
            "score": round(self.score, 6),
        }
