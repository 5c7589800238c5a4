"""Text subtitle tracks embedded in a video (mov_text in MP4, SRT/ASS/WebVTT in MKV), read
with PyAV and placed on the player's clock."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mcr_agent.errors import SubtitleError

from .clock import playback_origin
from .records import Entry
from .settings import SUBTITLE_READER
from .store import read_json, write_json
from .subtitles import Cue, cue_entries

__all__ = [
    "SubtitleTrack",
    "TrackOutcome",
    "TrackReading",
    "choose_track",
    "embedded_subtitles",
    "read_track",
    "subtitle_tracks",
    "track_note",
]

logger = logging.getLogger(__name__)

_MAX_CUE_SECONDS = 5.0
"""Shown this long when a cue has no duration and no cue follows it."""


@dataclass(frozen=True)
class SubtitleTrack:
    """A subtitle stream of a video file.

    Attributes:
        number: Position among the file's subtitle streams, from 0 (ffmpeg's ``0:s:N``).
        stream: Index of the stream among all streams of the file.
        codec: FFmpeg codec name (``mov_text``, ``subrip``, ``ass``, ``hdmv_pgs_subtitle``).
        language: ISO 639 code from the stream's metadata, if any.
        title: The stream's title, if any.
        text: True for text tracks; image tracks (DVD, Blu-ray, DVB) are not read.
        default: The container marks the track to show by default.
        forced: The track holds only forced parts (signs, foreign lines).
    """

    number: int
    stream: int
    codec: str
    language: str | None
    title: str | None
    text: bool
    default: bool
    forced: bool

    def describe(self) -> str:
        """E.g. ``track 0 (eng, mov_text, default)``."""
        parts = [self.language, self.title, self.codec, "default" if self.default else None]
        parts += ["forced" if self.forced else None, None if self.text else "image"]
        return f"track {self.number} ({', '.join(p for p in parts if p)})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrackReading:
    """The cues of one track and how reading went."""

    track: SubtitleTrack
    entries: list[Entry]
    bad_packets: int = 0


def subtitle_tracks(path: str | Path) -> list[SubtitleTrack]:
    """The subtitle streams of a video, in file order (no packet is read).

    Raises:
        SubtitleError: The file cannot be opened.
    """
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            return [_track(n, s) for n, s in enumerate(container.streams.subtitles)]
    except (av.FFmpegError, OSError) as exc:
        raise SubtitleError(f"{path}: its subtitle tracks cannot be listed ({exc})") from exc


def _track(number: int, stream: Any) -> SubtitleTrack:
    import av

    codec = stream.codec_context.codec if stream.codec_context is not None else None
    meta = {k.lower(): v for k, v in (stream.metadata or {}).items()}
    disposition = stream.disposition
    language = meta.get("language")
    return SubtitleTrack(
        number=number,
        stream=stream.index,
        codec=codec.name if codec is not None else "unknown",
        language=None if language in (None, "", "und") else language,
        title=meta.get("title") or None,
        text=bool(codec is not None and codec.text_sub),
        default=bool(disposition & av.stream.Disposition.default),
        forced=bool(disposition & av.stream.Disposition.forced),
    )


def choose_track(tracks: list[SubtitleTrack], number: int | None) -> SubtitleTrack | None:
    """The track to read: `number` if given, else the default text track, else the first
    text track that is not forced-only, else the first text track, else None.

    Raises:
        SubtitleError: `number` names no track, or an image track.
    """
    texts = [t for t in tracks if t.text]
    if number is None:
        for pick in ([t for t in texts if t.default], [t for t in texts if not t.forced], texts):
            if pick:
                return pick[0]
        return None
    listed = "; ".join(t.describe() for t in tracks) or "none"
    if not 0 <= number < len(tracks):
        raise SubtitleError(
            f"the video has no subtitle track {number} (its subtitle tracks: {listed}): "
            "pick one of them with --subtitle-track N"
        )
    chosen = tracks[number]
    if not chosen.text:
        raise SubtitleError(
            f"subtitle {chosen.describe()} is made of images, which are not read as text "
            f"(its subtitle tracks: {listed}): pick a text track, or pass an .srt file"
        )
    return chosen


def read_track(
    path: str | Path,
    track: SubtitleTrack,
    *,
    on_progress: Callable[[float], None] | None = None,
) -> TrackReading:
    """Read the cues of a text track; packets that do not decode are counted and skipped.

    Times are on the player's clock: the container's start time is 0 (see
    `playback_origin`).

    Raises:
        SubtitleError: The file cannot be opened, or fails before any cue was read.
    """
    import av

    cues: list[tuple[float, float | None, str]] = []
    bad = 0
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            bad = _demux_cues(container, container.streams[track.stream], cues, on_progress)
    except (av.FFmpegError, OSError) as exc:
        if not cues:
            msg = f"{path}: subtitle {track.describe()} cannot be read ({exc})"
            raise SubtitleError(msg) from exc
        bad += 1  # a damaged tail: keep what was read before it
    source = f"subtitle:track {track.number}" + (f" ({track.language})" if track.language else "")
    return TrackReading(track, cue_entries(_timed(cues), source), bad)


def _demux_cues(
    container: Any,
    stream: Any,
    cues: list[tuple[float, float | None, str]],
    on_progress: Callable[[float], None] | None,
) -> int:
    """Append (start, duration or None, text) of every cue of `stream`; return how many
    packets did not decode."""
    import av

    origin = playback_origin(container)
    bad = 0
    for packet in container.demux(stream):
        if packet.pts is None or packet.size == 0:
            continue
        start = float(packet.pts * stream.time_base) - origin
        try:
            texts = [_rect_text(r) for r in stream.decode(packet)]
        except (av.FFmpegError, UnicodeDecodeError, ValueError):
            bad += 1
            continue
        length = float(packet.duration * stream.time_base) if packet.duration else None
        cues += [(start, length, t) for t in texts if t]
        if on_progress is not None:
            on_progress(start)
    return bad


def _rect_text(rect: Any) -> str:
    """The text of a decoded subtitle rectangle (FFmpeg turns text codecs into ASS events);
    image rectangles have none."""
    ass = getattr(rect, "ass", None)
    if not ass:
        return ""
    # An ASS event line: ReadOrder, Layer, Style, Name, MarginL, MarginR, MarginV, Effect, Text
    raw = ass.decode("utf-8", errors="replace").split(",", 8)[-1]
    import pysubs2

    return str(pysubs2.SSAEvent(text=raw).plaintext)


def _timed(cues: list[tuple[float, float | None, str]]) -> list[Cue]:
    """Give every cue an end: its duration, else until the next cue (at most 5 s)."""
    starts = sorted({start for start, _, _ in cues})
    timed: list[Cue] = []
    for start, length, text in cues:
        if length is None:
            i = bisect.bisect_right(starts, start)
            later = starts[i] - start if i < len(starts) else _MAX_CUE_SECONDS
            length = min(_MAX_CUE_SECONDS, later)
        timed.append((start, start + length, text))
    return timed


def track_note(chosen: SubtitleTrack | None, tracks: list[SubtitleTrack], cues: int) -> str:
    """One line for the index summary: which track was read, and how to choose another."""
    if chosen is None:
        listed = "; ".join(t.describe() for t in tracks)
        return (
            f"subtitles: the video's subtitle tracks are images ({listed}), which are not "
            "read; pass a text file with --subtitles"
        )
    others = len(tracks) - 1
    how = "--subtitle-track N picks another, " if others else ""
    return (
        f"subtitles: {cues} cues from the video's {chosen.describe()}, one of {len(tracks)} "
        f"subtitle track(s) ({how}--no-subtitles skips them)"
    )


@dataclass
class TrackOutcome:
    """The cues of the chosen track, and the summary lines about them."""

    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def embedded_subtitles(
    video: str,
    folder: Path,
    tracks: list[SubtitleTrack],
    number: int | None,
    *,
    on_progress: Callable[[float], None] | None = None,
) -> TrackOutcome:
    """The cues of the chosen track of `video`, read once and kept in ``subtitles.json``.

    A track that cannot be read, or holds no cue, gives a warning, not an error: the rest
    of the memory does not depend on it.

    Args:
        video: The video file.
        folder: The memory folder.
        tracks: The video's subtitle tracks (`subtitle_tracks`).
        number: The track asked for, or None for `choose_track`'s pick.
        on_progress: Called with the time of each cue read.
    """
    track = choose_track(tracks, number)
    if track is None:
        return TrackOutcome(notes=[track_note(None, tracks, 0)])
    key = {"track": track.to_dict(), "reader": SUBTITLE_READER}
    saved = read_json(folder / "subtitles.json")
    if saved is not None and saved.get("settings") == key:
        entries = [Entry.from_dict(e) for e in saved["entries"]]
        bad = int(saved.get("bad_packets", 0))
    else:
        try:
            reading = read_track(video, track, on_progress=on_progress)
        except SubtitleError as exc:
            return TrackOutcome(warnings=[f"{exc}; the memory has no subtitles"])
        entries, bad = reading.entries, reading.bad_packets
        rows = [e.to_dict() for e in entries]
        write_json(
            folder / "subtitles.json", {"settings": key, "entries": rows, "bad_packets": bad}
        )
    outcome = TrackOutcome(entries, [track_note(track, tracks, len(entries))])
    if bad:
        outcome.warnings.append(
            f"{bad} packet(s) of subtitle {track.describe()} could not be decoded and were skipped"
        )
    if not entries:
        outcome.warnings.append(f"subtitle {track.describe()} holds no readable cue")
    return outcome
