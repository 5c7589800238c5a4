"""Videos made the way real files are made, with their ground truth on the player's clock.

Streams that start at different times, MPEG-TS captures, non-square pixels, extreme shapes,
one frame, slides whose text changes without a cut, and a spread of footage for comparing
scene cuts with PySceneDetect's own. Everything is generated with OpenCV, ffmpeg and
espeak-ng and is deterministic.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from mcr_agent.front import media

FONT = cv2.FONT_HERSHEY_SIMPLEX
SENTENCE = "The red car is parked near the old bridge."
PICTURE_SECONDS = 20.0
PICTURE_CUT = 10.0
"""`offset_streams_video`: the picture (ALPHA then BRAVO) is 20 s long with a cut at 10 s."""
ELEMENTS = ("HYDROGEN", "MAGNESIUM", "PLATINUM", "TUNGSTEN")
SLIDE_SECONDS = 8.0
"""`slide_video`: the last line names ``ELEMENTS[i]`` from ``8 i`` to ``8 (i + 1)`` s."""


def run(cmd: Sequence[str | Path]) -> None:
    """Run ffmpeg (or another tool) quietly; raise with its error output if it fails."""
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {proc.stderr.decode(errors='replace')[-800:]}")


def ffmpeg(*args: str | Path) -> None:
    """Run ffmpeg with `args`, overwriting outputs, bit-exact."""
    media.require_tools()
    run([str(media.FFMPEG), "-loglevel", "error", "-y", *args])


def encode(
    path: Path,
    frames: Iterable[np.ndarray],
    *,
    fps: float,
    size: tuple[int, int],
    extra: Sequence[str] = (),
    codec: str = "libx264",
) -> Path:
    """Pipe BGR frames of `size` (width, height) into a 4:2:0 file at `path` (H.264, or
    another ffmpeg encoder)."""
    media.require_tools()
    w, h = size
    cmd = [str(media.FFMPEG), "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24"]
    cmd += ["-s", f"{w}x{h}", "-framerate", str(fps), "-i", "-", "-c:v", codec]
    cmd += ["-preset", "veryfast"] if codec == "libx264" else ["-deadline", "realtime"]
    cmd += ["-pix_fmt", "yuv420p", "-fflags", "+bitexact", *extra, str(path)]
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None
    try:
        for frame in frames:
            proc.stdin.write(np.ascontiguousarray(frame, np.uint8).tobytes())
    finally:
        proc.stdin.close()
        err = proc.stderr.read()
        proc.stderr.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed: {err.decode(errors='replace')[-800:]}")
    return path


def offset_streams_video(path: str | Path, *, audio_offset: float) -> Path:
    """A 20 s picture (cut at 10 s) and a spoken `SENTENCE`, the audio shifted in time.

    Made as the issue says real files are: ``-itsoffset`` on the audio input (it starts
    `audio_offset` s after the picture) or, for a negative offset, on the picture input (the
    audio starts first). On the player's clock (0 = the earlier stream's start) the picture
    spans ``[p, p + 20]`` and the speech starts at ``a``, where ``p = max(0, -audio_offset)``
    and ``a = max(0, audio_offset)``.
    """
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        picture = media.make_scenes_video(
            Path(tmp) / "picture.mp4",
            scene_seconds=[PICTURE_CUT, PICTURE_SECONDS - PICTURE_CUT],
            texts=["ALPHA", "BRAVO"],
        )
        speech = media.make_speech_wav(Path(tmp) / "speech.wav", SENTENCE)
        late: list[str | Path] = ["-itsoffset", f"{abs(audio_offset):g}"]
        inputs: list[str | Path] = (
            ["-i", picture, *late, "-i", speech]
            if audio_offset >= 0
            else [*late, "-i", picture, "-i", speech]
        )
        ffmpeg(*inputs, "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", path)
    return path


def to_mpegts(source: str | Path, path: str | Path, *, ts_offset: float | None = None) -> Path:
    """`source` remuxed to MPEG-TS (its timestamps start at 1.4 s, the muxer's default
    delay, or `ts_offset` + 1.4 s, as broadcast captures start at arbitrary times)."""
    offset = ["-output_ts_offset", f"{ts_offset:g}"] if ts_offset is not None else []
    ffmpeg("-i", source, "-c", "copy", *offset, "-f", "mpegts", path)
    return Path(path)


def strip_video(
    path: str | Path, *, size: tuple[int, int] = (4000, 16), seconds: float = 2.0
) -> Path:
    """A ticker strip: black capitals ("MARKETS RISE ...") on white, `size` pixels."""
    w, h = size
    text = "BREAKING NEWS MARKETS RISE AS RAIN FALLS ON THE CITY"
    scale = 0.9 * h / cv2.getTextSize("H", FONT, 1.0, 1)[0][1] * 0.7

    def frames() -> Iterator[np.ndarray]:
        for _ in range(round(seconds * 25)):
            img = np.full((h, w, 3), 255, np.uint8)
            cv2.putText(img, text, (4, h - max(2, h // 5)), FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
            yield img

    return encode(Path(path), frames(), fps=25, size=size)


def one_frame_video(path: str | Path, source: str | Path) -> Path:
    """The first frame of `source` alone, as ``ffmpeg -i v.mp4 -frames:v 1 one.mp4`` makes it."""
    ffmpeg("-i", source, "-frames:v", "1", "-an", path)
    return Path(path)


def anamorphic_video(
    path: str | Path, *, stored: tuple[int, int] = (720, 576), sar: tuple[int, int] = (64, 45)
) -> Path:
    """Non-square pixels: `stored` frames with sample aspect ratio `sar` (PAL 16:9 by default,
    shown 1024x576), holding a red disc that is round as shown (an ellipse as stored)."""
    w, h = stored
    ry = h // 4
    rx = round(ry * sar[1] / sar[0])

    def frames() -> Iterator[np.ndarray]:
        for _ in range(50):
            img = np.full((h, w, 3), 255, np.uint8)
            cv2.ellipse(img, (w // 2, h // 2), (rx, ry), 0, 0, 360, (0, 0, 230), -1)
            yield img

    return encode(
        Path(path), frames(), fps=25, size=stored, extra=["-vf", f"setsar={sar[0]}/{sar[1]}"]
    )


def slide_video(
    path: str | Path,
    *,
    size: tuple[int, int] = (1280, 720),
    fps: float = 25,
    seconds: float = SLIDE_SECONDS,
) -> Path:
    """One lecture slide (a title bar, a few shapes) whose last line, "Element of the day:
    X", names ``ELEMENTS[i]`` from ``i * seconds`` to ``(i + 1) * seconds``; nothing else
    moves (32 s at the default 8 s per element)."""
    w, h = size
    k = w / 1280

    def slide(word: str) -> np.ndarray:
        img = np.full((h, w, 3), 245, np.uint8)
        cv2.rectangle(img, (0, 0), (w, int(110 * k)), (120, 60, 20), -1)
        title = "Introduction to Chemistry"
        cv2.putText(img, title, (int(40 * k), int(75 * k)), FONT, 1.8 * k, (255, 255, 255), 3)
        cv2.circle(img, (int(300 * k), int(350 * k)), int(90 * k), (40, 40, 200), -1)
        cv2.rectangle(img, (int(700 * k), int(250 * k)), (int(1000 * k), int(450 * k)),
                      (40, 160, 40), -1)  # fmt: skip
        line = f"Element of the day: {word}"
        cv2.putText(
            img, line, (int(60 * k), int(620 * k)), FONT, 1.6 * k, (0, 0, 0), 3, cv2.LINE_AA
        )
        return img

    per = round(seconds * fps)
    frames = (slide(word) for word in ELEMENTS for _ in range(per))
    return encode(Path(path), frames, fps=fps, size=size)


# --- footage for comparing scene cuts with PySceneDetect's own detect() ---------------------

FOOTAGE = ("cuts", "fades", "flashes", "pan", "portrait", "small", "large", "noise", "dissolve")
"""Kinds `footage` makes."""


def _texture(seed: int, size: tuple[int, int]) -> np.ndarray:
    """A smooth random colour texture (so no two shots look alike)."""
    rng = np.random.default_rng(seed)
    w, h = size
    small = rng.integers(0, 256, (max(2, h // 40), max(2, w // 40), 3), dtype=np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    hue = (seed * 37) % 180
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    hsv[..., 0] = (hsv[..., 0] // 4 + hue) % 180
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)


def _shot(seed: int, size: tuple[int, int], count: int, fps: float) -> Iterator[np.ndarray]:
    """`count` frames of one shot: a texture with a disc and a box moving smoothly."""
    base = _texture(seed, size)
    w, h = size
    r = max(3, min(w, h) // 10)
    for i in range(count):
        t = i / fps
        img = base.copy()
        cx = int(w / 2 + (w / 2 - 2 * r) * math.sin(0.8 * t + seed))
        cy = int(h / 2 + (h / 2 - 2 * r) * math.sin(1.1 * t + 2 * seed))
        cv2.circle(img, (cx, cy), r, (255 - 40 * (seed % 6), 200, 40 * (seed % 5)), -1)
        x0 = int((w - 3 * r) * (0.5 + 0.5 * math.cos(0.6 * t + seed)))
        cv2.rectangle(img, (x0, h // 3), (x0 + 2 * r, h // 3 + r), (250, 250, 250), -1)
        yield img


def footage(kind: str, path: str | Path, *, fps: float = 25) -> Path:
    """One clip of a `FOOTAGE` kind, ~20 s: hard cuts between moving textured shots,
    fades through black, white flashes inside shots, a slow pan over one picture, the same
    cuts at portrait, tiny and full-HD sizes, sensor-like noise, and a cross-dissolve."""
    size = {"portrait": (360, 640), "small": (160, 90), "large": (1920, 1080)}.get(kind, (640, 360))
    lengths = [3.0, 2.2, 4.0, 1.2, 3.6, 2.8, 3.2]
    counts = [round(s * fps) for s in lengths]

    def frames() -> Iterator[np.ndarray]:
        if kind == "pan":
            yield from _pan(size, round(20 * fps))
            return
        for i, n in enumerate(counts):
            shot = list(_shot(i + 1, size, n, fps))
            if kind == "noise":
                rng = np.random.default_rng(i)
                shot = [
                    np.clip(f + rng.normal(0, 12, f.shape), 0, 255).astype(np.uint8) for f in shot
                ]
            if kind == "fades":  # out to black and in from black over half a second each
                m = round(fps / 2)
                for j in range(min(m, n // 2)):
                    shot[j] = (shot[j] * (j / m)).astype(np.uint8)
                    shot[-1 - j] = (shot[-1 - j] * (j / m)).astype(np.uint8)
            if kind == "flashes" and n > fps:
                for j in (n // 2, n // 2 + 1):
                    shot[j] = np.full_like(shot[j], 255)
            if kind == "dissolve" and i > 0:
                prev = _texture(i, size)
                m = min(round(fps), n // 2)
                for j in range(m):
                    a = (j + 1) / (m + 1)
                    shot[j] = cv2.addWeighted(prev, 1 - a, shot[j], a, 0)
            yield from shot

    return encode(Path(path), frames(), fps=fps, size=size)


def _pan(size: tuple[int, int], count: int) -> Iterator[np.ndarray]:
    w, h = size
    world = _texture(99, (w * 3, h))
    for i in range(count):
        x = int(2 * w * i / max(1, count - 1))
        yield world[:, x : x + w].copy()


SCORES = ("HOME 0 AWAY 0", "HOME 1 AWAY 0", "HOME 1 AWAY 1", "HOME 2 AWAY 1")
SCORE_SECONDS = 4.0
"""`scoreboard_video`: the box reads ``SCORES[i]`` from ``4 i`` to ``4 (i + 1)`` s."""


def scoreboard_video(
    path: str | Path, *, size: tuple[int, int] = (1280, 720), fps: float = 25
) -> Path:
    """16 s of moving footage (a panning texture, a moving disc) under a still score box in
    the bottom-left corner whose text changes every 4 s to the next of `SCORES`."""
    w, h = size
    world = _texture(7, (w * 2, h))
    box_w, box_h = int(w * 0.36), int(h * 0.11)
    y0 = h - box_h - int(h * 0.05)

    def frames() -> Iterator[np.ndarray]:
        count = round(SCORE_SECONDS * fps)
        for k in range(len(SCORES) * count):
            x = int(w * k / (len(SCORES) * count))
            img = world[:, x : x + w].copy()
            t = k / fps
            cx, cy = int(w / 2 + w / 4 * math.sin(t)), int(h / 3 + h / 6 * math.cos(1.3 * t))
            cv2.circle(img, (cx, cy), h // 10, (30, 200, 230), -1)
            x0 = int(w * 0.04)
            cv2.rectangle(img, (x0, y0), (x0 + box_w, y0 + box_h), (20, 20, 20), -1)
            text = SCORES[k // count]
            cv2.putText(img, text, (x0 + 20, y0 + int(box_h * 0.72)), FONT, h / 480,
                        (255, 255, 255), 3, cv2.LINE_AA)  # fmt: skip
            yield img

    return encode(Path(path), frames(), fps=fps, size=size)
