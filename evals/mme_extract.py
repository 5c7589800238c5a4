"""Reading an answer letter from a model's reply: the official Video-MME parser, its 2024
predecessor, and ours.

The official parser is the one that decides published Video-MME numbers, so it is
reproduced rule for rule, odd cases included (see `official_extract`). Ours
(`our_extract`) is the agent's own letter reader.
"""

from __future__ import annotations

import re

from mcr_agent.loop.options import extract_choice

__all__ = ["LETTERS", "official_extract", "official_extract_2024", "our_extract"]

LETTERS = "ABCD"

# The 2024 list in its order. Two commas are missing in it, so Python joined four prefixes
# into two that never occur in a real reply; kept that way on purpose.
_PREFIXES_2024 = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option is" + "The correct option is",
    "Best answer:" + "Best option:",
)
# The current list: the 2024 one (joined strings included) and four more, in this order.
_PREFIXES = (*_PREFIXES_2024, "Answer:", "Option:", "The correct answer", "The correct option")
_CAPITAL = re.compile(r"[ABCD]")


def official_extract(response: str) -> str:
    """The letter the official Video-MME scorer reads from a response, or "".

    The scorer the Video-MME README links to today (``eval_your_results.py`` of
    thanku-all/parse_answer, which replaced BradyFU/Video-MME's ``evaluation/`` copy):

    1. ``strip()``, then delete every occurrence (``str.replace``: case-sensitive,
       anywhere, one prefix after another in this order) of "The best answer is",
       "The correct answer is", "The answer is", "The answer", two strings that never occur
       ("The best option isThe correct option is", "Best answer:Best option:": commas
       missing in the original), "Answer:", "Option:", "The correct answer",
       "The correct option".
    2. More than 10 whitespace-separated words and no capital A-D: "" (step 3 gives the
       same, so this rule never changes a result).
    3. Otherwise the FIRST capital A, B, C or D anywhere, even inside a word ("After ...",
       "During ..."); a lower-case "c" is never read. No capital A-D at all: "".

    So "Answer: D" reads "D", "The correct option is (C)." reads "C", "Best option: D"
    still reads "B" (of "Best").
    """
    return _first_capital(response, _PREFIXES)


def official_extract_2024(response: str) -> str:
    """The letter the 2024 official scorer read (BradyFU/Video-MME
    ``evaluation/eval_your_results.py`` before commit 49a2e67), or "".

    Kept because numbers published in 2024 were scored with it: the rules of
    `official_extract` with only the first six prefixes, so "Answer: D" reads "A" (of
    "Answer") and "The correct option is (C)." reads "C" only because no earlier capital
    A-D precedes it.
    """
    return _first_capital(response, _PREFIXES_2024)


def _first_capital(response: str, prefixes: tuple[str, ...]) -> str:
    s = response.strip()
    for prefix in prefixes:
        s = s.replace(prefix, "")
    match = _CAPITAL.search(s)
    return match[0] if match else ""


def our_extract(response: str) -> str | None:
    """The letter a response states, read with the agent's own parser, or None.

    Handles "The answer is (B).", "B. Berries", lower case and think blocks, and never takes
    the "A" of "After" (`mcr_agent.loop.options.extract_choice`).
    """
    return extract_choice(response, LETTERS)
