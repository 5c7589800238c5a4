"""asr: what is said in a time window, from subtitles, the memory's transcript, or fresh ASR.

When the memory holds no transcript for the window (built without ASR, or nothing heard
there) and the video has audio, just that window is transcribed on demand; its audio goes
to a temporary WAV file that is removed afterwards, so nothing is written anywhere else.
A run may start transcribing a window ahead of the request (`SpeechWindows.start`, while
the model thinks about its first reply); the tool then takes that window's transcript.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import wave
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from mcr_agent.errors import DependencyError, VideoError
from memory import Entry, Level, VideoMemory
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

__all__ = [
    "MAX_ON_DEMAND_SECONDS",
    "SpeechWindows",
    "Transcript",
    "TranscriptArgs",
    "transcribe_window",
]

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
            if ctx.speech is not None:
                entries = ctx.speech.entries(lo, upto)
            else:
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


def transcribe_window(
    memory: VideoMemory,
    start: float,
    end: float,
    *,
    should_stop: Callable[[], bool] | None = None,
) -> list[Entry]:
    """Transcribe the speech in [start, end] s of the memory's video with its ASR settings.

    Args:
        memory: The memory; its video file and ``asr_*`` settings are used.
        start: Window start in seconds.
        end: Window end in seconds.
        should_stop: Polled between recognized segments; True abandons the rest.

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
            heard = transcriber.transcribe(str(wav), should_stop=should_stop)
        except DependencyError as exc:
            raise ToolFailure(str(exc)) from exc
    shifted = [Entry(e.start + offset, e.end + offset, e.level, e.source, e.text) for e in heard]
    logger.debug("window [%.1f, %.1f] s: %d lines transcribed", start, end, len(shifted))
    return [e for e in shifted if e.overlaps(start, end)]


_HEARD: dict[tuple[str, str], list[_Job]] = {}
"""Windows transcribed in this process, per memory folder and ASR settings: a long-lived
process (the MCP server, an evaluation) asked again about a video does not transcribe the
same speech twice. Bounded by `_HEARD_PER_MEMORY` windows per memory."""
_HEARD_PER_MEMORY = 16
_HEARD_LOCK = threading.Lock()


class SpeechWindows:
    """Windows of one run's video transcribed on demand, some of them ahead of the request.

    `start` transcribes a window in a worker thread, so the work overlaps the model's reply;
    `entries` answers a request from a window that covers it (waiting for it if it is still
    running; windows finished earlier in this process count) or transcribes the window now.
    `close` abandons unfinished work.

    Args:
        memory: The memory whose video is transcribed.
    """

    def __init__(self, memory: VideoMemory) -> None:
        self.memory = memory
        settings = memory.manifest.get("settings", {})
        asr = [settings.get(k) for k in ("asr_model", "asr_language", "asr_beam_size")]
        self._key = (str(memory.folder), repr(asr))
        self._started: list[_Job] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def start(self, start: float, end: float) -> bool:
        """Begin transcribing [start, end] s in the background, unless a window already
        covers it; True if a new window was started."""
        with self._lock:
            if self._closed.is_set() or self._covering(start, end) is not None:
                return False
            job = _Job(start, end)
            self._started.append(job)
        # Not a daemon: at exit the interpreter waits for it, and after `close` that is one
        # segment at most; a daemon thread stopped inside CTranslate2 aborts the process
        # ("terminate called without an active exception") and leaves its temporary audio.
        work = threading.Thread(target=self._run, args=(job,), name="mcr-asr-ahead")
        work.start()
        logger.debug("transcribing [%.1f, %.1f] s ahead of the request", start, end)
        return True

    def entries(self, start: float, end: float) -> list[Entry]:
        """What is heard in [start, end] s (`asr` entries overlapping it, in video time).

        Raises:
            ToolFailure: The audio cannot be decoded or the ASR model cannot be loaded.
        """
        with self._lock:
            job = self._covering(start, end)
        if job is None:
            job = _Job(start, end)
            self._run(job, stoppable=False)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return [e for e in job.entries if e.overlaps(start, end)]

    def close(self) -> None:
        """Stop unfinished windows at their next segment; later `start` calls do nothing."""
        self._closed.set()

    def _covering(self, start: float, end: float) -> _Job | None:
        with _HEARD_LOCK:
            jobs = [*self._started, *_HEARD.get(self._key, [])]
        return next((j for j in jobs if j.start <= start and end <= j.end), None)

    def _run(self, job: _Job, *, stoppable: bool = True) -> None:
        stop = self._closed.is_set if stoppable else None
        try:
            job.entries = transcribe_window(self.memory, job.start, job.end, should_stop=stop)
        except Exception as exc:  # handed to whoever asks for the window
            job.error = exc if isinstance(exc, ToolFailure) else ToolFailure(str(exc))
        job.done.set()
        if job.error is None and not (stoppable and self._closed.is_set()):
            with _HEARD_LOCK:  # complete windows only: a stopped one may lack its end
                done = _HEARD.setdefault(self._key, [])
                done[:] = [*done, job][-_HEARD_PER_MEMORY:]


class _Job:
    """A window transcribed in the background."""

    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end
        self.entries: list[Entry] = []
        self.error: ToolFailure | None = None
        self.done = threading.Event()


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
