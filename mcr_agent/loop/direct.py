"""Single-pass question answering, the baseline the MCR loop is compared with
(``--mode direct``): uniformly sampled frames, the subtitles if given, one model call."""

from __future__ import annotations

import time
from pathlib import Path

import prompts
from memory import Entry, VideoInfo, frames_at, read_subtitles
from tools import data_block

from ..config import Budget
from ..errors import ModelReplyError
from ..model.messages import frame_parts, text_part
from ..model.meter import Meter
from .notes import entry_lines
from .options import OPEN_QUESTION, closest_option, extract_choice, option_letters, option_text
from .spans import clamp_spans, spans_in
from .state import CitedEvidence, Final, Step

__all__ = ["run_direct"]


def run_direct(
    meter: Meter,
    info: VideoInfo,
    question: str,
    options: tuple[str, ...],
    *,
    budget: Budget,
    subtitles: str | Path | None = None,
) -> tuple[Final, Step]:
    """One model call on `budget.direct_frames` uniformly sampled frames of the video.

    Returns:
        The answer (the reply's text, its letter, 0.5 confidence, the spans it names) and
        the step that produced it. A reply that names no option, or is unusable, gives a
        ``fallback`` answer: a best guess from the reply's words, said to be one.

    Raises:
        ModelServerError: The server is unreachable or keeps failing.
        SubtitleError: The subtitle file cannot be read.
    """
    started = time.perf_counter()
    count = min(budget.direct_frames, budget.max_frames)
    # Frame centres of `count` equal slices, as lmms-eval's uniform sampling does.
    times = [(i + 0.5) * info.duration / count for i in range(count)]
    # A frame within half a slice of its target is as uniform as the exact one, and often
    # the keyframe a seek lands on: 32 frames of a 10-minute video in 0.4 s instead of 7 s.
    frames = (
        frames_at(
            info.path,
            times,
            max_pixels=max(64 * 64, budget.call_pixels // max(1, count)),
            tolerance=info.duration / max(1, count) / 2,
        )
        if count
        else []
    )
    # Officially only the subtitles at the sampled frames' times go with them.
    cues = read_subtitles(subtitles) if subtitles else []
    shown = [c for c in cues if any(c.start <= f.time <= c.end for f in frames)]
    text = _prompt(info.duration, shown, question, options)
    parts = frame_parts(frames, max_frames=max(1, count), max_pixels=budget.call_pixels)
    try:
        said = meter.complete(
            [{"role": "user", "content": [*parts, text_part(text)]}], max_tokens=256
        ).text
        problem = None
    except ModelReplyError as exc:  # the server answered; the model's reply is unusable
        said, problem = "", str(exc)
    final = _final(said, options, info.duration, problem, meter.llm.model_name)
    summary = said.splitlines()[0][:160] if said else f"unusable reply: {problem}"[:160]
    step = Step("direct", None, {"frames": len(frames)}, summary,
                time.perf_counter() - started, model_s=meter.usage.model_s)  # fmt: skip
    return final, step


def _final(
    said: str, options: tuple[str, ...], duration: float, problem: str | None, model: str
) -> Final:
    """The model's answer; a labelled best guess when it named no option (or said nothing).
    The reply's text is the answer's `Final.reply` either way."""
    spans = clamp_spans(spans_in(said)[:4], duration)
    evidence = tuple(CitedEvidence(a, b, "direct", "", "model") for a, b in spans)
    if not options:
        if said:
            return Final(said, None, 0.5, evidence, reply=said)
        return Final("No answer from the model.", None, 0.0, (), "fallback", problem)
    letters = option_letters(options)
    choice = extract_choice(said, letters)
    if choice is not None:
        return Final(said, choice, 0.5, evidence, reply=said)
    why = problem or f"the reply of the model {model} names no option: {said[:120]!r}"
    guess = closest_option(said, options) if said else None
    if guess is None:
        text = "No answer from the model, and its reply favours no option."
        return Final(text, None, 0.0, (), "fallback", " ".join(why.split()), said)
    chosen = option_text(options[letters.index(guess)])
    text = f"No answer from the model; best guess from its reply: {guess}. {chosen}"
    return Final(text, guess, round(1 / len(options), 3), evidence, "fallback",
                 " ".join(why.split()), said)  # fmt: skip


def _prompt(duration: float, cues: list[Entry], question: str, options: tuple[str, ...]) -> str:
    """Video-MME's official prompt for multiple choice (subtitles kept as data); a short
    open-answer prompt otherwise."""
    lines = "\n".join(c.text for c in cues) if options else entry_lines(cues, limit=400)
    if options:
        letters = option_letters(options)
        listed = ", ".join(letters[:-1]) + f", or {letters[-1]}" if len(letters) > 1 else letters[0]
        subtitles = (
            f"This video's subtitles are listed below:\n{data_block('subtitles', lines)}\n"
            if cues
            else ""
        )
        return prompts.render(
            "direct_mcq",
            subtitles=subtitles,
            letters=listed,
            question=question,
            options="\n".join(options),
        )
    return prompts.render(
        "direct_answer",
        duration=f"{duration:.1f}",
        subtitles=f"This video's subtitles follow.\n{data_block('subtitles', lines)}\n"
        if cues
        else "",
        question=question,
        options=OPEN_QUESTION,
    )
