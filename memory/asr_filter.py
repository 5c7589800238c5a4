"""Keep only speech that was said: transcript lines judged by faster-whisper's own signals.

Whisper writes text where nobody speaks (music and silence give "Thank you.", "you"),
loops on one phrase, and English-only models turn other languages into English-sounding
garbage. For every decoded segment faster-whisper reports the probability that it holds no
speech, the average log-probability of its tokens and the gzip compression ratio of its
text; Whisper's decoder rejects a decoding with the same numbers and the thresholds below
(openai/whisper ``transcribe.py``; faster-whisper ``WhisperModel.transcribe`` defaults).
The batched pipeline the memory uses (``BatchedInferencePipeline``) reports them but applies
none: it has no temperature fallback and ignores ``hallucination_silence_threshold``. So
they are applied here, after Silero VAD has removed the stretches without voice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from .records import Entry

__all__ = [
    "COMPRESSION_RATIO_THRESHOLD",
    "ENGLISH_ONLY_LOG_PROB_THRESHOLD",
    "FILTER",
    "LOG_PROB_THRESHOLD",
    "NO_SPEECH_THRESHOLD",
    "Drop",
    "SpeechStats",
    "Transcript",
    "drop_reason",
]

NO_SPEECH_THRESHOLD = 0.6
"""Whisper's ``no_speech_threshold``: above it, with a low log-probability, a segment is
silence or music."""
LOG_PROB_THRESHOLD = -1.0
"""Whisper's ``logprob_threshold``: below it the decoding failed."""
COMPRESSION_RATIO_THRESHOLD = 2.4
"""Whisper's ``compression_ratio_threshold``: above it the text repeats itself (a loop)."""
ENGLISH_ONLY_LOG_PROB_THRESHOLD = -0.8
"""Floor of the average log-probability for English-only models (``*.en``). Measured with
tiny.en: German, French, Dutch, Swedish, Spanish, Italian, Portuguese and Russian speech
(espeak-ng) decode to English-sounding text at -0.9 to -1.6, or loop (Chinese, Japanese,
Polish); English speech (espeak-ng voices, faster-whisper's test recordings, speech over
music) stays above -0.6."""
NON_ENGLISH_SHARE = 0.5
"""Share of the decoded speech (seconds) rejected as loops or low confidence from which an
English-only model's input is reported as non-English."""

NON_ENGLISH_MIN_SECONDS = 1.0
"""Less rejected speech than this says nothing about its language (a one-frame clip keeps a
fraction of a second of audio, whatever was said)."""

_VOICED_HINT_SECONDS = 3.0

FILTER: dict[str, float | int] = {
    "version": 1,
    "no_speech": NO_SPEECH_THRESHOLD,
    "log_prob": LOG_PROB_THRESHOLD,
    "compression_ratio": COMPRESSION_RATIO_THRESHOLD,
    "english_only_log_prob": ENGLISH_ONLY_LOG_PROB_THRESHOLD,
}
"""What decides which lines are kept; part of the memory's cache key."""


class Drop(str, Enum):
    """Why a transcript line was not stored."""

    NO_SPEECH = "no speech"
    REPETITION = "repetition loop"
    LOW_CONFIDENCE = "low confidence"
    ENDLESS = "endless decoding"


def drop_reason(
    *,
    no_speech_prob: float,
    avg_logprob: float,
    compression_ratio: float,
    english_only: bool,
    endless: bool = False,
) -> Drop | None:
    """Why a decoded segment (or a line of it) is not speech that was said, or None.

    Args:
        no_speech_prob: Probability of the no-speech token (faster-whisper ``Segment``).
        avg_logprob: Average log-probability of the segment's tokens.
        compression_ratio: gzip compression ratio of the text.
        english_only: The model is English-only, so a stricter log-probability floor holds.
        endless: The decoder stopped at Whisper's length limit (``sample_len``, half the
            text context: 224 tokens) instead of ending the text. Natural English needs at
            most about 150 tokens for the 30 s a segment can last; English-only models run
            on like this on foreign speech (a German reading gave 224 tokens of invented
            words at an average log-probability of -0.56, as confident as noisy English).
            Only English-only models are judged by it: Chinese or Japanese speech can fill
            224 tokens in 30 s.
    """
    if compression_ratio > COMPRESSION_RATIO_THRESHOLD:
        return Drop.REPETITION
    if english_only and endless:
        return Drop.ENDLESS
    if no_speech_prob > NO_SPEECH_THRESHOLD and avg_logprob < LOG_PROB_THRESHOLD:
        return Drop.NO_SPEECH
    floor = ENGLISH_ONLY_LOG_PROB_THRESHOLD if english_only else LOG_PROB_THRESHOLD
    return Drop.LOW_CONFIDENCE if avg_logprob < floor else None


@dataclass
class SpeechStats:
    """What a transcription kept and dropped.

    Attributes:
        model: The ASR model's name.
        english_only: The model transcribes English only.
        language: The language transcribed (given, or detected by a multilingual model).
        language_probability: Confidence of a detected language, None if it was given.
        voiced_seconds: Seconds of voice that voice activity detection passed to the model.
        kept: Lines stored.
        kept_seconds: Their total length in seconds.
        dropped: Lines not stored, per `Drop` value.
        dropped_seconds: Their total length in seconds, per `Drop` value.
    """

    model: str
    english_only: bool
    language: str | None = None
    language_probability: float | None = None
    voiced_seconds: float = 0.0
    kept: int = 0
    kept_seconds: float = 0.0
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_seconds: dict[str, float] = field(default_factory=dict)

    def count(self, start: float, end: float, reason: Drop | None) -> None:
        """Count one line, kept when `reason` is None."""
        seconds = max(0.0, end - start)
        if reason is None:
            self.kept += 1
            self.kept_seconds = round(self.kept_seconds + seconds, 3)
            return
        self.dropped[reason.value] = self.dropped.get(reason.value, 0) + 1
        total = self.dropped_seconds.get(reason.value, 0.0) + seconds
        self.dropped_seconds[reason.value] = round(total, 3)

    @property
    def failed_seconds(self) -> float:
        """Seconds of speech heard but not transcribable (loops, low confidence)."""
        failed = (Drop.REPETITION, Drop.LOW_CONFIDENCE, Drop.ENDLESS)
        return sum(self.dropped_seconds.get(d.value, 0.0) for d in failed)

    def looks_non_english(self) -> bool:
        """An English-only model failed on most of the speech it heard."""
        heard = self.failed_seconds + self.kept_seconds
        failed = self.failed_seconds
        return (
            self.english_only
            and failed >= NON_ENGLISH_MIN_SECONDS
            and failed >= NON_ENGLISH_SHARE * heard
        )

    def note(self) -> str:
        """One line for the index summary."""
        total = sum(self.dropped.values())
        why = ", ".join(f"{n} {reason}" for reason, n in sorted(self.dropped.items()))
        text = f"speech: {self.kept} transcript lines kept, {total} dropped" + (
            f" ({why})" if why else ""
        )
        if self.language and self.language_probability is not None:
            text += f"; language {self.language} (detected, p={self.language_probability:.2f})"
        elif (
            self.english_only
            and not self.kept
            and self.voiced_seconds >= _VOICED_HINT_SECONDS
            and not self.looks_non_english()
        ):
            text += (
                f"; nothing was understood in {self.voiced_seconds:.1f} s of voice-like sound "
                f"(music, or speech the English-only {self.model} cannot transcribe: then "
                "index with --asr-model small)"
            )
        return text

    def warning(self) -> str | None:
        """What the user should do, when the speech looks non-English; else None."""
        if not self.looks_non_english():
            return None
        decoded = self.failed_seconds + self.kept_seconds
        return (
            f"{self.failed_seconds:.1f} of the {decoded:.1f} s of speech look non-English: the "
            f"English-only ASR model {self.model} could not transcribe them (from "
            f"{self.voiced_seconds:.1f} s of voice), and they are not stored. "
            "For a transcript, index with a multilingual model: --asr-model small (or a local "
            "CTranslate2 folder), and --language CODE (e.g. de) to skip language detection"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpeechStats:
        return cls(**data)


@dataclass
class Transcript:
    """The lines kept, and the statistics of what was kept and dropped."""

    entries: list[Entry]
    stats: SpeechStats
