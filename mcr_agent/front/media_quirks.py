"""Files with the quirks real files have, with their ground truth: a variable frame rate,
a display rotation, and broken or degenerate files (used by the tests of decoding).

Ground truth:
    * ``make_vfr_video``: one hard cut at ``VFR_CUT_TIME`` seconds, 30 fps before and 10 fps after.
    * ``make_rotated_video``: stored ``ROTATED_STORED_SIZE``, display-matrix rotation
      ``ROTATION_DEGREES``, so it displays as ``ROTATED_DISPLAY_SIZE``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from .media import FFMPEG, FONT, encode, require_tools, run, style_frames

VFR_FPS = (30, 10)
VFR_SECONDS = (4.0, 3.0)
VFR_CUT_TIME = 4.0
"""The single hard cut of ``make_vfr_video``, in seconds."""
VFR_DURATION = 7.0

ROTATION_DEGREES = 90
"""Display rotation of ``make_rotated_video`` (ffprobe ``rotation``, PyAV ``frame.rotation``)."""
ROTATED_STORED_SIZE = (320, 240)
ROTATED_DISPLAY_SIZE = (240, 320)


def make_vfr_video(path: str | Path, *, size: tuple[int, int] = (320, 240)) -> Path:
    """Make a variable-frame-rate mp4: 4 s at 30 fps, hard cut at t=4.0 s, then 3 s at 10 fps.

    The two parts are CFR clips joined with the concat demuxer (stream copy), so the frame
    durations really change at the cut (``VFR_CUT_TIME``); ``r_frame_rate != avg_frame_rate``.
    """
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        parts = []
        # The concat demuxer needs identical time bases for stream copy.
        same_tb = ["-bf", "0", "-video_track_timescale", "90000"]
        for i, (fps, secs) in enumerate(zip(VFR_FPS, VFR_SECONDS, strict=True)):
            frames = style_frames(3 * i, size, round(secs * fps), fps)  # red, then yellow
            part = Path(tmp) / f"part{i}.mp4"
            parts.append(encode(part, frames, fps=fps, size=size, extra=same_tb))
        listing = Path(tmp) / "list.txt"
        listing.write_text("".join(f"file '{p}'\n" for p in parts))
        path.parent.mkdir(parents=True, exist_ok=True)
        run([str(FFMPEG), "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i", listing,
              "-c", "copy", "-fflags", "+bitexact", path])  # fmt: skip
    return path


def make_rotated_video(path: str | Path, *, seconds: float = 3.0, fps: float = 25) -> Path:
    """Make a 320x240 (stored) mp4 tagged with a 90 degree display rotation.

    Uses ``-metadata:s:v rotate=90`` on a stream copy (ffmpeg 5.1 has no ``-display_rotation``).
    ffprobe then reports side_data ``rotation=90`` and PyAV ``frame.rotation == 90`` (degrees
    counter-clockwise); frames decode as 320x240 and display as 240x320. The stored top-left
    corner holds a solid red square (and "TOP" beside it); ffmpeg's autorotate shows that square
    at the bottom-left.
    """
    w, h = ROTATED_STORED_SIZE

    def frames() -> Iterable[np.ndarray]:
        for frame in style_frames(5, ROTATED_STORED_SIZE, round(seconds * fps), fps):
            cv2.rectangle(frame, (0, 0), (w // 4, h // 4), (0, 0, 255), -1)
            cv2.putText(frame, "TOP", (w // 4 + 8, 40), FONT, 1.2, (0, 0, 0), 3, cv2.LINE_AA)
            yield frame

    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        plain = encode(Path(tmp) / "plain.mp4", frames(), fps=fps, size=ROTATED_STORED_SIZE)
        tag = f"rotate={ROTATION_DEGREES}"
        run([str(FFMPEG), "-loglevel", "error", "-y", "-i", plain, "-c", "copy",
              "-metadata:s:v:0", tag, "-fflags", "+bitexact", path])  # fmt: skip
    return path


def make_corrupt_files(directory: str | Path) -> dict[str, Path]:
    """Make broken or degenerate media files in ``directory``.

    Returns:
        Paths keyed by kind: ``text`` (an .mp4 holding plain text), ``empty`` (0 bytes),
        ``truncated`` (first 30% of an mp4 whose moov atom is at the end: unreadable),
        ``truncated_tail`` (first 60% of a faststart mp4: header valid, media data missing),
        ``audio_only`` (.mp4 with only an AAC stream), ``zero_length`` (fragmented mp4 with a
        video stream and 0 frames), ``single_frame`` (a valid 1-frame, 0.04 s video).
    """
    require_tools()
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out = {"text": d / "text.mp4", "empty": d / "empty.mp4"}
    out["text"].write_text("this is not a video\n" * 20)
    out["empty"].write_bytes(b"")
    rng = np.random.default_rng(1234)
    noise = [rng.integers(0, 256, (240, 320, 3), dtype=np.uint8) for _ in range(50)]
    ff = [str(FFMPEG), "-loglevel", "error", "-y"]
    with tempfile.TemporaryDirectory() as tmp:
        for key, frac, flags in (("truncated", 0.3, []), ("truncated_tail", 0.6, ["+faststart"])):
            full = Path(tmp) / f"{key}.mp4"
            extra = ["-movflags", *flags] if flags else []
            encode(full, noise, fps=25, size=(320, 240), extra=extra)
            data = full.read_bytes()
            out[key] = d / f"{key}.mp4"
            out[key].write_bytes(data[: int(len(data) * frac)])
    out["audio_only"] = d / "audio_only.mp4"
    run([*ff, "-f", "lavfi", "-i", "sine=frequency=440:duration=2:sample_rate=16000",
          "-c:a", "aac", "-fflags", "+bitexact", out["audio_only"]])  # fmt: skip
    out["zero_length"] = d / "zero_length.mp4"
    run([*ff, "-f", "lavfi", "-i", "color=c=red:size=64x64:rate=25", "-frames:v", "0",
          "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "frag_keyframe+empty_moov",
          out["zero_length"]])  # fmt: skip
    out["single_frame"] = d / "single_frame.mp4"
    encode(out["single_frame"], noise[:1], fps=25, size=(320, 240))
    return out
