"""Multiple-choice letters: read the option letters, and find the letter a reply chose.

`extract_choice` is the one reader of a model's letter, for every caller (the loop, the
single-pass mode, the Video-MME scorer). `closest_option` is not a reader: it scores how
much text shares an option's words, for best guesses that are labelled as such.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from ..model.replies import reply_text

__all__ = [
    "OPEN_QUESTION",
    "closest_option",
    "content_words",
    "covered",
    "distinctive_words",
    "extract_choice",
    "normalize_options",
    "option_letters",
    "option_support",
    "option_text",
]

OPEN_QUESTION = "(none: open question, answer in one or two sentences)"
"""What prompts list as the options of a question that has none."""

_PREFIX = re.compile(r"^\s*\(?([A-Za-z])[.):]\s+")
# Letters are told from words by ASCII neighbours only: in "答案是B。" nothing Latin touches
# the B, while Python's \b sees 是 as a word character and finds no boundary.
_NOT_LATIN_BEFORE, _NOT_LATIN_AFTER = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"
_L = rf"[(\[]?\s*{_NOT_LATIN_BEFORE}([A-Z]){_NOT_LATIN_AFTER}\s*[)\]]?"
_IS = r"(?:is|would be|should be|must be|lautet|ist|wäre|:|=|-)"
_SO = r"(?:\s+(?:probably|likely|clearly|definitely|therefore|thus|wohl|also|eindeutig))?"
_STATED = (  # "the answer is B" in English, German and Chinese; "B is correct"
    rf"\b(?:answer|antwort|lösung)\s*{_IS}?{_SO}\s*(?:option\s*|choice\s*)?{_L}",
    rf"\b(?:choice|option|pick|selection|auswahl|wahl)\s*{_IS}{_SO}\s*{_L}",
    rf"\b(?:I\s*(?:['\u2019]d|would|will|['\u2019]ll)?\s*(?:choose|pick|select|go with)|"
    rf"ich\s+(?:wähle|nehme|tippe auf|entscheide mich für)|"
    rf"(?:correct|right|richtig|korrekt)\s+(?:is|ist))\s*"
    rf"(?:option\s*|antwort\s*)?{_L}",
    rf"(?:正确答案|最佳答案|答案|正确选项|回答|答|正解)\s*(?:应该|应当|应|應該|应为|應為)?\s*"
    rf"(?:是|为|為|は|选|選)?\s*:?\s*(?:[选選][项項])?\s*{_L}",
    rf"(?:[选選]择?|[選选]擇|故[选選]|应[选選]|我[选選])\s*(?:是|:)?\s*{_L}",
    rf"{_L}\s*(?:is\s+(?:the\s+)?(?:correct|right|best)|ist\s+(?:die\s+)?(?:richtig|korrekt)|"
    rf"是?正确|是对的)",
    rf"\\boxed\{{\s*{_L}\s*\}}",
)
# Tiers, most explicit first; in tier 0 the last statement wins (reasoning often names
# options it rejects before the one it picks), elsewhere the first.
_TIERS = (
    "|".join(f"(?:{p})" for p in _STATED),
    rf"\A\s*{_L}(?=[.:,;)\]\s。、]|\Z)",  # NFKC made full-width marks ASCII
    r"[(\[]\s*([A-Z])\s*[)\]]",
    r"^\s*([A-Z])\s*[.。]?\s*$",
    rf"(?:\b(?:option|choice|antwort)|[选選][项項]|[选選])\s*{_L}",
    rf"(?-i:{_NOT_LATIN_BEFORE}([A-Z]){_NOT_LATIN_AFTER})",  # a lone capital anywhere
)
_CLAUSE_MARKS = ".;,:!?\n。、"  # the body is NFKC: full-width marks are ASCII
_RULED_OUT_BEFORE = re.compile(
    r"\b(?:not|never|cannot|can't|isn't|neither|nor|except|nicht|kein\w*|weder|noch)\b"
    r"|不是|不|非|并非|排除",
    re.IGNORECASE,
)
_RULED_OUT_AFTER = re.compile(
    r"\b(?:wrong|incorrect|false|ruled out|excluded|falsch)\b|错|不对|不正确", re.IGNORECASE
)
_COMPILED = tuple(re.compile(t, re.IGNORECASE | re.MULTILINE) for t in _TIERS)
# Brackets and emphasis that CJK and Markdown writers put around a letter.
_SAME = str.maketrans({"【": "(", "】": ")", "「": "(", "」": ")", "《": "(", "》": ")",
                       "\u3014": "(", "\u3015": ")", "*": " ", "_": " ", "`": " "})  # fmt: skip
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
    """The option letter a reply states, or None: the one reader of a model's letter.

    Reads "The answer is (B).", "B. Berries", "(c)", a bare "D", "**B**", "\\boxed{C}",
    "Option A is wrong; the answer is C" as C, German ("Die richtige Antwort ist B") and
    Chinese ("答案是B。", "选项B", "【B】", full-width letters and colons). The reply is read
    as `reply_text` reads it: a think block counts when nothing follows it. A capital inside
    a word (the "A" of "After"), an article ("A man ...") and a letter that is not an option
    never count.
    """
    body = unicodedata.normalize("NFKC", reply_text(text)).translate(_SAME).strip()
    allowed = {x.upper() for x in letters}
    for tier, pattern in enumerate(_COMPILED):
        found = [
            letter
            for m in pattern.finditer(body)
            for at, letter in _letters(m)
            if letter in allowed and _is_choice(body, at) and (tier == 0 or not _negated(body, at))
        ]
        if tier == len(_COMPILED) - 1 and len(set(found)) > 1:
            return None  # letters merely mentioned, more than one: no choice was stated
        if found:
            return found[-1] if tier == 0 else found[0]
    return None


def _negated(body: str, at: int) -> bool:
    """True for a letter its clause rules out: "Not A", "Neither A nor B", "cannot be D",
    "A and B are wrong", "Nicht A", "不是A"."""
    start = max((body.rfind(mark, 0, at) for mark in _CLAUSE_MARKS), default=-1) + 1
    ends = [i for i in (body.find(mark, at) for mark in _CLAUSE_MARKS) if i >= 0]
    return bool(
        _RULED_OUT_BEFORE.search(body[start:at])
        or _RULED_OUT_AFTER.search(body[at + 1 : min(ends, default=len(body))])
    )


def _letters(match: re.Match[str]) -> list[tuple[int, str]]:
    """The letter a match captured (tier 0 joins several patterns, one group each)."""
    return [(match.start(i), g.upper()) for i, g in enumerate(match.groups(), 1) if g]


def _is_choice(body: str, at: int) -> bool:
    """False for a letter that is really a word: "A man", "I think", "a dog"."""
    after = body[at + 1 : at + 3]
    if not (body[at] in "AaIi" and len(after) == 2 and after[0] == " " and after[1].islower()):
        return True
    # "A is correct", "A ist richtig": the verb makes it a letter again.
    return re.match(r"\s+(?:is|ist)\s+(?:the\s+|die\s+)?(?:correct|right|best|richtig|korrekt)",
                    body[at + 1 :]) is not None  # fmt: skip


def content_words(text: str) -> set[str]:
    """Lower-case words and numbers of `text`, without the commonest function words."""
    return set(_WORD.findall(text.lower())) - _STOP


def covered(words: Iterable[str], text: str) -> float:
    """The share of `words` that `text` contains (0 to 1; 0 for no words).

    A word counts when it is one of the text's words (also in the singular or plural), and
    a code of letters and digits also inside one (OCR writes "GATE 7B" as "GATE7B").
    """
    wanted = set(words)
    if not wanted:
        return 0.0
    have = set(_WORD.findall(text.lower()))
    return sum(1 for w in wanted if _found(w, have)) / len(wanted)


def _found(word: str, have: set[str]) -> bool:
    if word in have or f"{word}s" in have or f"{word}es" in have:
        return True
    if word.endswith("s") and word[:-1] in have:
        return True
    code = not word.isdigit() and not word.isalpha()
    return code and any(word in token for token in have)


def distinctive_words(options: Sequence[str]) -> dict[str, set[str]]:
    """Each option's words (by letter) without those every option shares ("GATE" of
    "GATE 3A" / "GATE 7B"): the words that tell it apart."""
    words = {x: content_words(option_text(o)) for x, o in zip(option_letters(options), options,
                                                             strict=True)}  # fmt: skip
    shared = set.intersection(*words.values()) if len(words) > 1 else set()
    return {x: (w - shared) or w for x, w in words.items()}


def option_support(text: str, options: Sequence[str]) -> dict[str, float]:
    """How much of each option's distinctive words `text` contains, by letter."""
    return {x: covered(w, text) for x, w in distinctive_words(options).items()}


def closest_option(texts: str | Iterable[str], options: Sequence[str]) -> str | None:
    """The letter of the option the texts support best, or None when none is supported or
    two are supported equally. A best guess, never a reading of the model's answer."""
    best: dict[str, float] = dict.fromkeys(option_letters(options), 0.0)
    for text in [texts] if isinstance(texts, str) else texts:
        for letter, share in option_support(text, options).items():
            best[letter] = max(best[letter], share)
    ranked = sorted(best.values(), reverse=True)
    if not ranked or ranked[0] == 0 or (len(ranked) > 1 and ranked[0] == ranked[1]):
        return None
    return max(best, key=lambda x: best[x])
