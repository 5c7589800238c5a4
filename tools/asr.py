"""asr: what is said in a time window, from subtitles, the memory's transcript, or fresh ASR.

When the memory holds no transcript for the window (built without ASR, or nothing heard
there) and the video has audio, just that window is transcribed on demand; its audio goes
to a temporary WAV file that is removed afterwards, so nothing is written anywhere else.
"""

from __future__ import annotations

import logging
import tempfile
import wave
from pathlib import Path
from typing import ClassVar

from memory import DependencyError, Entry, Level, VideoError, VideoMemory
from memory.asr import DEFAULT_ASR_MODEL, WhisperTranscriber
from memory.clock import AUDIO_RATE, decode_audio

from .base import (
    Evidence,
    ToolArgs,
    ToolContext,
    ToolFailure,
    ToolResult,
    WindowArgs,
    clamp_window,
    data_block,
)

__all__ = ["MAX_ON_DEMAND_SECONDS", "Transcript", "TranscriptArgs", "transcribe_window"]

logger = logging.getLogger(__name__)

MAX_ON_DEMAND_SECONDS = 300.0
"""Longest window transcribed in one call; ASR on CPU takes seconds per minute of audio."""


class TranscriptArgs(WindowArgs):
    """Arguments of asr."""


class Transcript:
    """The speech heard in a window, line by line with times."""

    name: ClassVar[str] = "asr"
    description: ClassVar[str] = (
        "Transcript of the speech in [start, end] seconds (subtitles when the video has "
        "them), one timed line per utterance. Transcribes the window on demand when the "
        "memory has no transcript for it."
    )
    args: ClassVar[type[ToolArgs]] = TranscriptArgs

    def run(self, args: TranscriptArgs, ctx: ToolContext) -> ToolResult:
        memory = ctx.memory
        lo, hi, note = clamp_window(args.start, args.end, memory.duration)
        notes = [note] if note else []
        entries = memory.window(lo, hi, levels=[Level.SUBTITLE])
        if not entries:
            entries = memory.window(lo, hi, levels=[Level.ASR])
        if not entries and memory.info.has_audio:
            upto = min(hi, lo + MAX_ON_DEMAND_SECONDS)
            if upto < hi:
                notes.append(
                    f"only [{lo:.1f}, {upto:.1f}] s was transcribed: ask again for the rest"
                )
            entries = transcribe_window(memory, lo, upto)
            notes.append("the memory had no transcript here: this window was transcribed now")
        if not entries:
            silent = "" if memory.info.has_audio else " (the video has no audio track)"
            return ToolResult(
                f"no speech heard in [{lo:.1f}, {hi:.1f}] s{silent}", notes=tuple(notes)
            )
        evidence = tuple(Evidence(e.start, e.end, e.source, e.text) for e in entries)
        lines = "\n".join(f"[{e.start:.1f}-{e.end:.1f} s] {e.text}" for e in entries)
        return ToolResult(data_block("speech", lines), evidence, notes=tuple(notes))


def transcribe_window(memory: VideoMemory, start: float, end: float) -> list[Entry]:
    """Transcribe the speech in [start, end] s of the memory's video with its ASR settings.

    Args:
        memory: The memory; its video file and ``asr_*`` settings are used.
        start: Window start in seconds.
        end: Window end in seconds.

    Returns:
        `asr` entries in video time, overlapping the window.

    Raises:
        ToolFailure: The audio cannot be decoded or the ASR model cannot be loaded.
    """
    settings = memory.manifest.get("settings", {})
    transcriber = WhisperTranscriber(
        str(settings.get("asr_model") or DEFAULT_ASR_MODEL),
        language=settings.get("asr_language"),
        beam_size=int(settings.get("asr_beam_size") or 5),
    )
    with tempfile.TemporaryDirectory(prefix="mcr-asr-") as tmp:
        wav = Path(tmp) / "window.wav"
        offset = _write_window_wav(memory.info.path, start, end, wav)
        if offset is None:
            return []
        try:
            heard = transcriber.transcribe(str(wav))
        except DependencyError as exc:
            raise ToolFailure(str(exc)) from exc
    shifted = [Entry(e.start + offset, e.end + offset, e.level, e.source, e.text) for e in heard]
    logger.debug("window [%.1f, %.1f] s: %d lines transcribed", start, end, len(shifted))
    return [e for e in shifted if e.overlaps(start, end)]


def _write_window_wav(video: str, start: float, end: float, out: Path) -> float | None:
    """Write [start, end] s (player's clock) of the first audio stream as 16 kHz mono WAV.

    Returns:
        The video time of the WAV's first sample, or None if there is no audio there.
    """
    import numpy as np

    try:
        samples, first = decode_audio(video, start=start, end=end)
    except VideoError as exc:
        raise ToolFailure(f"the audio of [{start:.1f}, {end:.1f}] s cannot be read: {exc}") from exc
    if samples.size == 0:
        return None
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(AUDIO_RATE)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return first
