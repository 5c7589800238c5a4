"""The official Video-MME scorer's counting, reproduced from its documented rules to check
our ``official_<mode>.json`` and summary against it (never imported by the package).

Rules (``eval_your_results.py`` the Video-MME README links to, thanku-all/parse_answer):
for each video object of the wanted durations, skipped when ``skip_missing`` and its
``missing`` key is true (a KeyError in the original when the key is absent), each
question's ``response`` is stripped, the listed prefixes are deleted in order wherever
they occur, and the first capital A-D left is the letter ("" if none); a question with a
letter is "answered", and correct when the letter equals ``answer``. Accuracy = correct /
answered, 0 with nothing answered.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["OfficialCounts", "official_counts", "official_letter"]

PREFIXES_2024 = ["The best answer is", "The correct answer is", "The answer is", "The answer",
                 "The best option isThe correct option is", "Best answer:Best option:"]  # fmt: skip
PREFIXES = [*PREFIXES_2024, "Answer:", "Option:", "The correct answer", "The correct option"]


def official_letter(response: str, prefixes: list[str] = PREFIXES) -> str:
    text = response.strip()
    for prefix in prefixes:
        text = text.replace(prefix, "")
    found = re.search("[ABCD]", text)
    return found.group(0) if found else ""


@dataclass(frozen=True)
class OfficialCounts:
    answered: int
    correct: int
    skipped_videos: int

    @property
    def accuracy(self) -> float:
        return 100 * self.correct / self.answered if self.answered else 0.0


def official_counts(
    path: Path, durations: tuple[str, ...] = ("short", "medium", "long"), *,
    skip_missing: bool = True,
) -> OfficialCounts:  # fmt: skip
    answered = correct = skipped = 0
    for item in json.loads(path.read_text(encoding="utf-8")):
        if item["duration"] not in durations:
            continue
        if skip_missing and item["missing"]:
            skipped += 1
            continue
        for question in item["questions"]:
            letter = official_letter(question["response"])
            if letter:
                answered += 1
                correct += letter == question["answer"]
    return OfficialCounts(answered, correct, skipped)
