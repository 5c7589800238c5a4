"""Multiple-choice letters: read the option letters, find the letter a reply chose, and fall
back to the option whose words a reply shares most, so a choice is always a letter."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..model.replies import strip_think

__all__ = [
    "OPEN_QUESTION",
    "closest_option",
    "extract_choice",
    "normalize_options",
    "option_letters",
    "option_text",
]

OPEN_QUESTION = "(none: open question, answer in one or two sentences)"
"""What prompts list as the options of a question that has none."""

_PREFIX = re.compile(r"^\s*\(?([A-Za-z])[.):]\s+")
_L = r"[(\[]?\s*([A-Z])\s*[)\]]?"
# Tiers, most explicit first; in tier 0 the last statement wins (reasoning often names
# options it rejects before the one it picks), elsewhere the first.
_TIERS = (
    rf"\b(?:answer|choice|option|pick|select)\s*(?:is|would be|should be|:|=)\s*"
    rf"(?:option\s*|choice\s*)?{_L}",
    rf"\A\s*{_L}(?=[.:,)\]\s]|\Z)",
    r"[(\[]([A-Z])[)\]]",
    r"^\s*([A-Z])\s*$",
    r"\b(?:option|choice)\s+([A-Z])\b",
    r"(?-i:\b([A-Z])\b)",  # a lone capital anywhere, as the official parser reads it
)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "is",
        "are",
        "was",
        "were",
        "and",
        "or",
        "it",
        "this",
        "that",
        "with",
        "by",
    }
)


def normalize_options(options: Sequence[str]) -> list[str]:
    """Options as ``"X. text"``.

    Kept as they are when every option carries its own distinct letter (``"B. red"``,
    ``"(b) red"``); otherwise lettered A, B, C... by position, so the model, the parser and
    the trace all use the same letters.
    """
    found = [_PREFIX.match(o) for o in options]
    letters = [m.group(1).upper() for m in found if m]
    if found and all(found) and len(set(letters)) == len(letters):
        return [
            f"{m.group(1).upper()}. {o[m.end() :].strip()}"
            for m, o in zip(found, options, strict=True)
            if m
        ]
    return [f"{chr(ord('A') + i)}. {o.strip()}" for i, o in enumerate(options)]


def option_letters(options: Sequence[str]) -> list[str]:
    """The letter of each option: its own ``"B. ..."`` prefix, else its position."""
    letters = []
    for i, option in enumerate(options):
        m = _PREFIX.match(option)
        letters.append(m.group(1).upper() if m else chr(ord("A") + i))
    return letters


def option_text(option: str) -> str:
    """An option without its letter prefix."""
    return _PREFIX.sub("", option, count=1).strip()


def extract_choice(text: str, letters: Sequence[str]) -> str | None:
    """The option letter a reply states, or None.

    Reads "The answer is (B).", "B. Berries", "(c)", a bare "D", and "Option A is wrong;
    the answer is C" as C. A capital inside a word (the "A" of "After"), an article ("A man
    ...") and a letter that is not an option never count.
    """
    body = strip_think(text).strip()
    allowed = {x.upper() for x in letters}
    for tier, pattern in enumerate(_TIERS):
        found = [
            m.group(1).upper()
            for m in re.finditer(pattern, body, re.IGNORECASE | re.MULTILINE)
            if m.group(1).upper() in allowed and _is_choice(body, m.start(1))
        ]
        if found:
            return found[-1] if tier == 0 else found[0]
    return None


def _is_choice(body: str, at: int) -> bool:
    """False for a letter that is really a word: "A man", "I think", "a dog"."""
    after = body[at + 1 : at + 3]
    return not (body[at] in "AaIi" and len(after) == 2 and after[0] == " " and after[1].islower())


def closest_option(text: str, options: Sequence[str]) -> str | None:
    """The letter of the option sharing most content words with `text` (None on no overlap)."""
    words = set(_WORD.findall(text.lower())) - _STOP
    best, best_score = None, 0.0
    for letter, option in zip(option_letters(options), options, strict=True):
        mine = set(_WORD.findall(option_text(option).lower())) - _STOP
        if not mine:
            continue
        score = len(words & mine) / len(mine)
        if score > best_score:
            best, best_score = letter, score
    return best
