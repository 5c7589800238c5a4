"""Option letters, letters read from replies, spans and data blocks kept sane."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from mcr_agent.front.report import print_step
from mcr_agent.loop.notes import balanced
from mcr_agent.loop.options import closest_option, extract_choice, normalize_options, option_letters
from mcr_agent.loop.route import classify
from mcr_agent.loop.spans import clamp_span, clamp_spans
from mcr_agent.loop.state import Step


@pytest.mark.parametrize(
    ("reply", "letter"),
    [
        ("The answer is (B).", "B"),
        ("B. Berries", "B"),
        ("(c)", "C"),
        ("D", "D"),
        ("Best answer: b", "B"),
        ("<think>Maybe A?</think>\nC", "C"),
        ("After the game, B", "B"),  # never the "A" of "After"
        ("Option A shows a dog, but the answer is B.", "B"),
        ("Not option A; the answer is (C).", "C"),
        ("Answer: A man is walking, so C.", "C"),
        ("I think it is D.", "D"),
        ("A man walks in.", None),
        ("the answer is a dog", None),
        ("E", None),  # not an option
        ("", None),
    ],
)
def test_extract_choice(reply: str, letter: str | None) -> None:
    assert extract_choice(reply, "ABCD") == letter


# How models state a letter in the wild (vLLM/Qwen/DeepSeek replies, benchmark logs), in
# English, Chinese and German; word boundaries that assume Latin text miss most of these.
PHRASINGS: list[tuple[str, str | None]] = [
    # English
    ("(B)", "B"),
    ("**B**", "B"),
    ("B) The red car", "B"),
    ("The correct option is (B).", "B"),
    ("Final answer: **C**", "C"),
    ("**Answer:** D", "D"),
    ("\\boxed{A}", "A"),
    ("$\\boxed{B}$", "B"),
    ("I'd go with C.", "C"),
    ("I\u2019d pick B", "B"),
    ("A is correct.", "A"),
    ("The answer is probably D.", "D"),
    ("Option C is wrong; the answer is B", "B"),
    ("<think>The sign says GATE 7B, so the answer is C</think>", "C"),  # only thinking
    ("<think>I think it's B", "B"),  # never closed
    ("Answer: Berries", None),  # the B of a word is no letter
    # Chinese (simplified, traditional, full-width forms)
    ("答案是B。", "B"),
    ("答案\uff1a\uff22", "B"),
    ("选项B", "B"),
    ("B选项", "B"),
    ("正确答案是C选项。", "C"),
    ("我选D", "D"),
    ("故选A。", "A"),
    ("答案为 C", "C"),
    ("【C】", "C"),
    ("选项A是错误的\uff0c答案是D。", "D"),
    ("根据视频内容\uff0c正确答案应该是B。", "B"),
    ("答\uff1aA", "A"),
    ("我认为是C", "C"),
    ("选择B", "B"),
    ("答案是\uff1aA。", "A"),
    ("\uff08\uff22\uff09", "B"),
    ("\uff24", "D"),
    ("正確答案是選項C", "C"),
    ("我不知道。", None),
    # German
    ("Die richtige Antwort ist B.", "B"),
    ("Antwort: (C)", "C"),
    ("Richtig ist D.", "D"),
    ("Ich wähle Option A.", "A"),
    ("Lösung: C", "C"),
    ("B ist richtig.", "B"),
    ("Die Antwort lautet D.", "D"),
    ("Meiner Meinung nach ist es B.", "B"),
    ("Es ist C.", "C"),
    ("Option A ist falsch, die Antwort ist C.", "C"),
    ("Das Auto ist rot.", None),
    # Letters a reply rules out, or only mentions, are not its choice
    ("Neither A nor B; it is C.", "C"),
    ("A and B are both wrong, so C.", "C"),
    ("Not A.", None),
    ("The answer cannot be D.", None),
    ("Nicht A, sondern B.", "B"),
    ("答案不是A\uff0c是B。", "B"),
    ("It could be B or it could be C.", None),
]


@pytest.mark.parametrize(("reply", "letter"), PHRASINGS)
def test_extract_choice_in_three_languages(reply: str, letter: str | None) -> None:
    assert extract_choice(reply, "ABCD") == letter


def test_the_phrasings_are_broad() -> None:
    assert len(PHRASINGS) >= 30
    chinese = [p for p, _ in PHRASINGS if any("\u4e00" <= ch <= "\u9fff" for ch in p)]
    german = [p for p, _ in PHRASINGS if any(w in p for w in ("ist", "Antwort", "Lösung"))]
    assert len(chinese) >= 10 and len(german) >= 8


def test_one_letter_reader() -> None:
    """Every caller reads a model's letter with `extract_choice`; nothing else parses one."""
    root = Path(__file__).parent.parent
    sources = [
        p for d in ("mcr_agent", "tools", "memory", "evals") for p in (root / d).rglob("*.py")
    ]
    callers = {
        p.relative_to(root).as_posix() for p in sources if "extract_choice(" in p.read_text()
    }
    assert callers == {"mcr_agent/loop/options.py", "mcr_agent/loop/answer.py",
                       "mcr_agent/loop/reason.py", "mcr_agent/loop/direct.py",
                       "evals/mme_extract.py"}  # fmt: skip
    defined = [p for p in sources if "def extract_choice" in p.read_text()]
    assert [p.name for p in defined] == ["options.py"]


def test_one_json_reader() -> None:
    """Model JSON is read by `tools.replies` only: no other module parses it itself."""
    root = Path(__file__).parent.parent
    readers = {
        p.relative_to(root).as_posix()
        for d in ("mcr_agent", "tools")
        for p in (root / d).rglob("*.py")
        if "json.loads(" in p.read_text() or "literal_eval(" in p.read_text()
    }
    # The chat template file, ffprobe's output and the tool-schema cache are not model JSON.
    assert readers == {"tools/replies.py", "mcr_agent/serve/loading.py",
                       "mcr_agent/front/media.py", "mcr_agent/loop/toolset.py"}  # fmt: skip


def test_options_are_lettered_once_for_everyone() -> None:
    assert normalize_options(["A. red", "B. blue"]) == ["A. red", "B. blue"]
    assert normalize_options(["(a) red", "(b) blue"]) == ["A. red", "B. blue"]
    assert normalize_options(["U.S. troops land", "Germany", "C. peace"]) == [
        "A. U.S. troops land",
        "B. Germany",
        "C. C. peace",
    ]
    assert option_letters(normalize_options(["Paris", "A. London"])) == ["A", "B"]
    assert closest_option("it was the blue one", ["A. red car", "B. blue car"]) == "B"


@pytest.mark.parametrize(
    ("span", "clamped"),
    [
        ((3, 1), (1, 3)),
        ((100, 120), None),
        ((-10, -5), None),
        ((-2, 5), (0, 5)),
        ((8, 30), (8, 20)),
    ],
)
def test_spans_are_ordered_and_clamped(
    span: tuple[float, float], clamped: tuple[float, float] | None
) -> None:
    assert clamp_span(*span, 20.0) == clamped
    assert clamp_spans([span, (float("nan"), 1.0)], 20.0) == ((clamped,) if clamped else ())


def test_cut_data_blocks_are_closed() -> None:
    text = '<data source="web">\nfirst\n</data>\n<data source="web">\nsecond, cut her'
    out = balanced(text, suffix=" …")
    assert out.count("<data source=") == out.count("</data>") and out.endswith("</data>")


def test_model_text_cannot_break_the_terminal_output() -> None:
    console = Console(record=True, width=120)
    print_step(console, Step("reason", "inspect", {}, "42 [/INST] [link=x]y[/link] [/]"))
    assert "[/INST]" in console.export_text()


@pytest.mark.parametrize(
    ("question", "route"),
    [
        ("What does the narrator say about the bridge?", "speech"),
        ("How many people are wearing red jerseys?", "fine-grained"),
        ("What happens right after the car stops?", "temporal"),
        ("What is the main topic of the video?", "global"),
        ("In which country was the building in the video founded?", "knowledge"),
    ],
)
def test_routes(question: str, route: str) -> None:
    assert classify(question) == route


def test_steps_print_strict_json_arguments() -> None:
    step = Step("act", "inspect", {"start": float("nan"), "end": [float("inf"), 1.0]})
    assert step.to_dict()["args"] == {"start": None, "end": [None, 1.0]}
