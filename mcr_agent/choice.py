"""Multiple-choice letters: read the option letters, find the letter a reply chose, and fall
back to the option whose words a reply shares most, so a choice is always a letter."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .toolcalls import strip_think

__all__ = ["closest_option", "extract_choice", "option_letters", "option_text"]

_PREFIX = re.compile(r"^\s*\(?([A-Za-z])[.):]\s*")
# Ordered: explicit statements first, then a letter leading the reply, then a lone letter.
_PATTERNS = (
    r"(?:answer|choice|option)\s*(?:is|:)?\s*(?:option\s*)?[(\[]?\s*([A-Z])\b(?![a-z'])",
    r"^\s*[(\[]?([A-Z])[)\].:,]",
    r"^\s*([A-Z])\s*$",
    r"^\s*([A-Z])\s+(?=[-\u2013\u2014])",
    r"[(\[]([A-Z])[)\]]",
    r"\boption\s+([A-Z])\b",
)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
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
    ]
)


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

    Reads "The answer is (B).", "B. Berries", "(c)", a bare "D"; a capital inside a word
    (the "A" of "After") never counts, nor does a letter that is not an option.
    """
    body = strip_think(text).strip()
    allowed = {x.upper() for x in letters}
    for pattern in _PATTERNS:
        for m in re.finditer(pattern, body, re.IGNORECASE | re.MULTILINE):
            letter = m.group(1).upper()
            if letter in allowed and _not_a_word(body, m.start(1)):
                return letter
    return None


def _not_a_word(body: str, at: int) -> bool:
    """A lone "a"/"I" in prose is an article or pronoun unless written in capitals."""
    letter = body[at]
    return not (letter in "ai" and not body[max(0, at - 1) : at + 2].strip("([ )].:").isupper())


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
