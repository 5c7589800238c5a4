"""Synthetic videos with known ground truth (scene cuts, speech, on-screen text).

Used by `mcr-agent demo`, the benchmarks under `evals/` and the tests.

Everything is generated locally with ffmpeg, espeak-ng, OpenCV and numpy, and is deterministic:
the same arguments produce the same frames and the same audio samples.

Ground truth:
    * ``make_scenes_video``: hard cuts at ``scene_cut_times(scene_seconds)`` (cumulative sums,
      exact when every ``seconds * fps`` is an integer, otherwise rounded to the nearest frame);
      ``texts[i]`` is drawn on every frame of scene i; ``speech[i]`` starts at scene i's start.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
ESPEAK = shutil.which("espeak-ng")
FFMPEG_AVAILABLE = FFMPEG is not None and FFPROBE is not None
SPEECH_AVAILABLE = ESPEAK is not None

AUDIO_RATE = 16000
"""Sample rate (Hz) of the mono AAC track of ``make_scenes_video``."""
TEXT_CAP_HEIGHT_PX = 40
"""Target height in pixels of capital letters drawn by ``make_scenes_video``."""

_INSTALL_HINT = "apt-get install ffmpeg espeak-ng"
FONT = cv2.FONT_HERSHEY_SIMPLEX
# Consecutive entries differ strongly in hue and brightness (BGR).
_PALETTE: tuple[tuple[int, int, int], ...] = (
    (40, 40, 210),  # red
    (210, 120, 20),  # blue
    (40, 190, 40),  # green
    (30, 220, 250),  # yellow
    (190, 40, 190),  # magenta
    (230, 230, 60),  # cyan
    (20, 130, 250),  # orange
    (70, 70, 70),  # dark grey
)


def require_tools(*, speech: bool = False) -> None:
    """Raise if the external programs the generators need are missing.

    Args:
        speech: Also require espeak-ng.

    Raises:
        RuntimeError: A tool is missing; the message names the apt-get command.
    """
    missing = [n for n, p in (("ffmpeg", FFMPEG), ("ffprobe", FFPROBE)) if p is None]
    if speech and ESPEAK is None:
        missing.append("espeak-ng")
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)}; install with: {_INSTALL_HINT}")


def run(cmd: Sequence[str | Path]) -> None:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"{Path(str(cmd[0])).name} failed ({proc.returncode}): {err}")


def ffprobe_json(path: str | Path) -> dict[str, Any]:
    """Return ``ffprobe -show_streams -show_format`` output as a dict."""
    require_tools()
    out = subprocess.run(
        [str(FFPROBE), "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=True,
    )
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def scene_cut_times(scene_seconds: Sequence[float]) -> list[float]:
    """Return the cut times (seconds) of ``make_scenes_video``: interior cumulative sums."""
    return [float(x) for x in np.cumsum(scene_seconds)[:-1]]


def _scene_background(style: int, size: tuple[int, int]) -> np.ndarray:
    """A static, strongly patterned background; consecutive styles look very different."""
    w, h = size
    base = np.array(_PALETTE[style % len(_PALETTE)], dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    kind = style % 6
    if kind == 0:
        mask = (yy // 24) % 2
    elif kind == 1:
        mask = (xx // 32) % 2
    elif kind == 2:
        mask = ((xx // 40) + (yy // 40)) % 2
    elif kind == 3:
        mask = (np.hypot(xx - w / 2, yy - h / 2) // 20) % 2
    elif kind == 4:
        mask = ((xx + yy) // 30) % 2
    else:
        mask = np.hypot(xx - w / 2, yy - h / 2) / math.hypot(w / 2, h / 2)
    shade = 0.55 + 0.45 * mask
    image: np.ndarray = np.clip(base[None, None, :] * shade[..., None], 0, 255).astype(np.uint8)
    return image


def _draw_moving(frame: np.ndarray, style: int, k: int, fps: float, speed: float = 1.0) -> None:
    """Draw shapes whose position depends on frame index ``k`` (slow, smooth motion)."""
    h, w = frame.shape[:2]
    t = k / fps * speed
    r = max(6, min(w, h) // 12)
    cx = int(w / 2 + (w / 2 - 2 * r) * math.sin(0.9 * t + style))
    cy = int(h / 2 + (h / 2 - 2 * r) * math.sin(1.3 * t + 2 * style))
    accent = tuple(255 - c for c in _PALETTE[style % len(_PALETTE)])
    cv2.circle(frame, (cx, cy), r, accent, -1, cv2.LINE_AA)
    x0 = int((w - 3 * r) * (0.5 + 0.5 * math.cos(0.7 * t + style)))
    y0 = int((h - 2 * r) * (0.5 + 0.5 * math.sin(0.5 * t)))
    cv2.rectangle(frame, (x0, y0), (x0 + 3 * r, y0 + 2 * r), (255, 255, 255), -1)
    cv2.rectangle(frame, (x0, y0), (x0 + 3 * r, y0 + 2 * r), (0, 0, 0), 2)


def style_frames(
    style: int, size: tuple[int, int], count: int, fps: float, speed: float = 1.0
) -> Iterable[np.ndarray]:
    """Yield ``count`` frames of one scene style with moving shapes."""
    bg = _scene_background(style, size)
    for k in range(count):
        frame = bg.copy()
        _draw_moving(frame, style, k, fps, speed)
        yield frame


def _wrap(text: str, scale: float, thick: int, max_w: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        cand = f"{lines[-1]} {word}" if lines else word
        if lines and cv2.getTextSize(cand, FONT, scale, thick)[0][0] <= max_w:
            lines[-1] = cand
        else:
            lines.append(word)
    return lines or [""]


def _text_overlay(
    text: str, size: tuple[int, int], cap_height: int = TEXT_CAP_HEIGHT_PX
) -> tuple[np.ndarray, tuple[int, int]]:
    """Render black text on a white box; returns (box image, top-left position)."""
    w, h = size
    scale = cap_height / cv2.getTextSize("H", FONT, 1.0, 2)[0][1]
    while True:
        thick = max(2, round(scale * 2))
        lines = _wrap(text, scale, thick, w - 40)
        (_, lh), _ = cv2.getTextSize("H", FONT, scale, thick)
        widths = [cv2.getTextSize(s, FONT, scale, thick)[0][0] for s in lines]
        gap = lh // 2
        box_h = len(lines) * lh + (len(lines) + 1) * gap + gap
        if (max(widths) <= w - 40 and box_h <= h - 20) or scale < 0.5:
            break
        scale *= 0.9
    box_w = max(widths) + 2 * gap
    box = np.full((box_h, box_w, 3), 255, np.uint8)
    for i, line in enumerate(lines):
        y = gap + (i + 1) * lh + i * gap + gap // 2
        cv2.putText(box, line, (gap, y), FONT, scale, (0, 0, 0), thick, cv2.LINE_AA)
    return box, ((w - box_w) // 2, max(0, (h - box_h) // 2))


def encode(
    path: Path,
    frames: Iterable[np.ndarray],
    *,
    fps: float,
    size: tuple[int, int],
    crf: int = 23,
    audio: Path | None = None,
    extra: Sequence[str] = (),
) -> Path:
    """Pipe BGR frames into ffmpeg (libx264 yuv420p mp4), optionally muxing a WAV as AAC."""
    require_tools()
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    cmd = [str(FFMPEG), "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24"]
    cmd += ["-s", f"{w}x{h}", "-framerate", str(fps), "-i", "-"]
    if audio is not None:
        cmd += ["-i", str(audio), "-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "64k"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p"]
    cmd += ["-g", str(max(1, round(2 * fps))), "-fflags", "+bitexact", *extra, str(path)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err)
        assert proc.stdin is not None
        try:
            for frame in frames:
                if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
                    raise ValueError(f"bad frame {frame.shape} {frame.dtype}, want {(h, w, 3)}")
                proc.stdin.write(frame.tobytes())
        except BrokenPipeError:
            pass
        finally:
            proc.stdin.close()
            code = proc.wait()
        if code != 0:
            err.seek(0)
            raise RuntimeError(f"ffmpeg failed ({code}): {err.read().decode(errors='replace')}")
    return path


def _read_wav_mono(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wf:
        return np.frombuffer(wf.readframes(wf.getnframes()), dtype="<i2").copy()


def _write_wav_mono(path: Path, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(samples.astype("<i2").tobytes())


def make_speech_wav(
    path: str | Path, text: str, *, rate: int = AUDIO_RATE, voice: str = "en-us", speed: int = 150
) -> Path:
    """Synthesize ``text`` with espeak-ng into a mono 16-bit WAV at ``rate`` Hz.

    Args:
        path: Output .wav path.
        text: What to say.
        rate: Output sample rate.
        voice: espeak-ng voice.
        speed: Words per minute.

    Returns:
        The output path.
    """
    require_tools(speech=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "espeak.wav"
        run([str(ESPEAK), "-v", voice, "-s", str(speed), "-w", str(raw), text])
        run([str(FFMPEG), "-loglevel", "error", "-y", "-i", raw, "-ac", "1", "-ar", str(rate),
              "-c:a", "pcm_s16le", "-fflags", "+bitexact", path])  # fmt: skip
    return path


def make_scenes_video(
    path: str | Path,
    *,
    scene_seconds: Sequence[float],
    fps: float = 25,
    size: tuple[int, int] = (640, 360),
    texts: Sequence[str | None] | None = None,
    speech: Sequence[str | None] | None = None,
    crf: int = 23,
    text_height: int = TEXT_CAP_HEIGHT_PX,
) -> Path:
    """Make an mp4 of visually distinct scenes with hard cuts at ``scene_cut_times``.

    Scene i uses style i (its own colour and pattern) with slowly moving shapes. Scene i covers
    frames ``round(cum[i-1]*fps)`` .. ``round(cum[i]*fps) - 1`` where ``cum`` is the cumulative
    sum of ``scene_seconds``. A keyframe is forced at each cut.

    Args:
        path: Output .mp4 path.
        scene_seconds: Duration of each scene in seconds.
        fps: Constant frame rate.
        size: Frame (width, height).
        texts: Optional text per scene, drawn black-on-white (~40 px capitals) on every frame.
        speech: Optional sentence per scene, spoken (espeak-ng en-us, 150 wpm) from the scene
            start. With ``speech=None`` the file has no audio stream; otherwise it has a mono
            AAC track at ``AUDIO_RATE`` Hz that is silent outside the speech.
        crf: libx264 quality.
        text_height: Cap height of the text in pixels (small text tests re-perception).

    Returns:
        The output path.

    Raises:
        ValueError: Bad lengths, or a spoken sentence longer than its scene.
    """
    path = Path(path)
    n = len(scene_seconds)
    if n == 0 or any(s <= 0 for s in scene_seconds):
        raise ValueError("scene_seconds must be non-empty and positive")
    for name, seq in (("texts", texts), ("speech", speech)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"{name} has {len(seq)} entries for {n} scenes")
    bounds = [0, *(math.floor(c * fps + 0.5) for c in np.cumsum(scene_seconds))]
    overlays = [_text_overlay(t, size, text_height) if t else None for t in (texts or [None] * n)]

    def frames() -> Iterable[np.ndarray]:
        for i in range(n):
            bg = _scene_background(i, size)
            for k in range(bounds[i], bounds[i + 1]):
                frame = bg.copy()
                _draw_moving(frame, i, k, fps)
                ov = overlays[i]
                if ov is not None:
                    box, (x, y) = ov
                    frame[y : y + box.shape[0], x : x + box.shape[1]] = box
                yield frame

    keys = ["-force_key_frames", ",".join(f"{b / fps:.6f}" for b in bounds[1:-1]) or "0"]
    if speech is None:
        return encode(path, frames(), fps=fps, size=size, crf=crf, extra=keys)
    require_tools(speech=True)
    track = np.zeros(round(bounds[-1] / fps * AUDIO_RATE), dtype=np.int16)
    with tempfile.TemporaryDirectory() as tmp:
        for i, sentence in enumerate(speech):
            if not sentence:
                continue
            clip = _read_wav_mono(make_speech_wav(Path(tmp) / f"s{i}.wav", sentence))
            start = round(bounds[i] / fps * AUDIO_RATE)
            room = round(bounds[i + 1] / fps * AUDIO_RATE) - start
            if len(clip) > room:
                secs = (len(clip) / AUDIO_RATE, room / AUDIO_RATE)
                raise ValueError(f"speech {i} lasts {secs[0]:.2f}s, scene {i} is {secs[1]:.2f}s")
            track[start : start + len(clip)] = clip
        wav = Path(tmp) / "track.wav"
        _write_wav_mono(wav, track, AUDIO_RATE)
        return encode(path, frames(), fps=fps, size=size, crf=crf, audio=wav, extra=keys)


def make_long_static_video(
    path: str | Path, seconds: float = 60.0, *, fps: float = 10, size: tuple[int, int] = (320, 180)
) -> Path:
    """Make one uncut scene of ``seconds`` with slowly drifting shapes (no audio)."""
    frames = style_frames(2, size, round(seconds * fps), fps, speed=0.3)
    return encode(Path(path), frames, fps=fps, size=size, crf=28)
