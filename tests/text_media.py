"""Generated media for the text tracks, with known ground truth.

Music without a voice, speech in other languages (espeak-ng), subtitle text in the dialects
sites and tools write, and videos with subtitle tracks embedded (ffmpeg). Deterministic: the
same arguments give the same samples and cues.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mcr_agent.front.media import AUDIO_RATE, FFMPEG, make_long_static_video, make_speech_wav

Cue = tuple[float, float, str]


def _ffmpeg(*args: str | Path) -> None:
    assert FFMPEG is not None, "ffmpeg is missing: apt-get install ffmpeg"
    cmd = [FFMPEG, "-loglevel", "error", "-y", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.decode(errors='replace')}")


def _write_wav(path: Path, samples: np.ndarray) -> Path:
    peak = float(np.abs(samples).max()) or 1.0
    pcm = (samples / peak * 0.6 * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(AUDIO_RATE)
        wf.writeframes(pcm.tobytes())
    return path


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wf:
        return np.frombuffer(wf.readframes(wf.getnframes()), dtype="<i2").astype(np.float64)


def make_melody_wav(path: str | Path, *, seconds: float = 20.0, seed: int = 2) -> Path:
    """A sung-like synthetic melody, no words: notes of 0.6 s whose harmonics follow vowel
    formants, with vibrato. Voice activity detection lets parts of it through, and Whisper
    writes "Thank you." on it."""
    rng = np.random.default_rng(seed)
    notes = (220.0, 247.0, 262.0, 294.0, 330.0, 349.0, 392.0)
    vowels = ((700, 1200, 2600), (300, 2300, 3000), (500, 900, 2500))
    t = np.arange(int(0.6 * AUDIO_RATE)) / AUDIO_RATE
    envelope = np.minimum(1, t * 20) * np.minimum(1, (0.6 - t) * 20)
    parts = []
    for _ in range(round(seconds / 0.6)):
        f0 = notes[rng.integers(len(notes))]
        formants = vowels[rng.integers(len(vowels))]
        phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.02 * np.sin(2 * np.pi * 5.5 * t))) / AUDIO_RATE
        note = np.zeros_like(t)
        for k in range(1, int(7000 / f0)):
            gain = sum(np.exp(-(((f0 * k - f) / 120) ** 2)) for f in formants) + 0.05 / k
            note += gain * np.sin(k * phase)
        parts.append(envelope * note)
    return _write_wav(Path(path), np.concatenate(parts))


def make_speech_track(
    path: str | Path, lines: Sequence[tuple[float, str, str]], *, seconds: float
) -> Path:
    """A WAV of `seconds` with each (start, espeak-ng voice, text) spoken from its start.

    Raises:
        ValueError: A line does not fit before the next one (or the end).
    """
    track = np.zeros(round(seconds * AUDIO_RATE))
    with tempfile.TemporaryDirectory() as tmp:
        ends = [round(start * AUDIO_RATE) for start, _, _ in lines[1:]] + [len(track)]
        for i, (start, voice, text) in enumerate(lines):
            clip = _read_wav(make_speech_wav(Path(tmp) / f"{i}.wav", text, voice=voice))
            at = round(start * AUDIO_RATE)
            if at + len(clip) > ends[i]:
                raise ValueError(f"line {i} ({len(clip) / AUDIO_RATE:.1f} s) does not fit")
            track[at : at + len(clip)] += clip
    return _write_wav(Path(path), track)


def make_video_with_audio(path: str | Path, wav: str | Path, *, seconds: float) -> Path:
    """A plain video of `seconds` with `wav` as its AAC audio track (both start at 0)."""
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        video = make_long_static_video(Path(tmp) / "v.mp4", seconds, fps=10)
        _ffmpeg("-i", video, "-i", wav, "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                "-c:a", "aac", "-b:a", "96k", "-fflags", "+bitexact", path)  # fmt: skip
    return path


def srt_text(cues: Sequence[Cue]) -> str:
    """SubRip text of `cues` (numbered, blank lines between)."""

    def stamp(t: float) -> str:
        ms = round(t * 1000)
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "".join(
        f"{i}\n{stamp(a)} --> {stamp(b)}\n{text}\n\n" for i, (a, b, text) in enumerate(cues, 1)
    )


def make_video_with_subtitles(
    path: str | Path,
    tracks: Sequence[tuple[Sequence[Cue], str | None]],
    *,
    codec: str,
    seconds: float = 12.0,
    start_time: float = 0.0,
) -> Path:
    """A video with one embedded subtitle track per (cues, language), encoded as `codec`
    (``mov_text`` for .mp4; ``srt``, ``ass`` or ``webvtt`` for .mkv).

    Args:
        path: Output file; its suffix picks the container.
        tracks: Cues (player times in seconds) and ISO 639-2 language of each track.
        codec: ffmpeg subtitle encoder.
        seconds: Length of the video.
        start_time: The container's start time in seconds (a player shows it as 0).
    """
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        video = make_long_static_video(Path(tmp) / "v.mp4", seconds, fps=10)
        inputs: list[str | Path] = ["-i", video]
        maps: list[str] = ["-map", "0:v"]
        meta: list[str] = []
        for i, (cues, language) in enumerate(tracks):
            srt = Path(tmp) / f"t{i}.srt"
            srt.write_text(srt_text(cues), encoding="utf-8")
            inputs += ["-i", srt]
            maps += ["-map", f"{i + 1}:s"]
            if language:
                meta += [f"-metadata:s:s:{i}", f"language={language}"]
        offset = ["-output_ts_offset", f"{start_time}"] if start_time else []
        _ffmpeg(*inputs, *maps, "-c:v", "copy", "-c:s", codec, *meta, *offset, path)
    return path


def break_subtitle_text(path: str | Path, text: str) -> Path:
    """Overwrite the first occurrence of `text` in the file with bytes that are not UTF-8,
    so the subtitle packet holding it no longer decodes (the rest of the file is intact)."""
    path = Path(path)
    data = path.read_bytes()
    at = data.index(text.encode())
    path.write_bytes(data[:at] + bytes([0xFF, 0xFE, 0xC0, 0xC1]) + data[at + 4 :])
    return path
