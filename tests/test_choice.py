"""Option letters, letters read from replies, spans and data blocks kept sane."""

from __future__ import annotations

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
