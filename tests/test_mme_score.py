"""Video-MME scoring: both answer parsers, both accuracies, the official JSON, the reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from evals.mme_report import (
    chart,
    markdown_report,
    official_results,
    summary_json,
    write_json,
    write_reports,
)
from evals.mme_score import (
    Record,
    compare,
    official_extract,
    official_response,
    our_extract,
    record_letter,
    score,
)

# (response, official letter ("" = unread), our letter)
RESPONSES: list[tuple[str, str, str | None]] = [
    ("The answer is (B).", "B", "B"),
    ("B. Berries", "B", "B"),
    ("b", "", "B"),  # the official parser reads capitals only
    ("c", "", "C"),
    ("answer: c", "", "C"),
    ("(C)", "C", "C"),
    ("C) Berries", "C", "C"),
    ("**C**", "C", "C"),
    ("\\boxed{C}", "C", "C"),
    ("Option C", "C", "C"),
    ("A", "A", "A"),
    ("Answer: D", "A", "D"),  # "Answer:" is not an official prefix: the "A" of "Answer"
    ("Answer: (b)", "A", "B"),
    ("The best answer is: A", "A", "A"),
    ("The best answer is B", "B", "B"),
    ("The correct answer is C", "C", "C"),
    ("The answer: C", "C", "C"),  # "The answer" is removed, then ": C"
    ("The answer is C. Because of D.", "C", "C"),
    ("<think>Between A and C, the clock shows noon.</think>C", "B", "C"),  # "Between"
    ("After careful analysis, the answer is C", "A", "C"),  # the "A" of "After"
    ("During the video, the chef adds salt before pepper so it must be B", "D", "B"),
    # The concatenation bug leaves this prefix in place; no capital A-D precedes the B.
    ("The correct option is B", "B", "B"),
    ("The best option is D", "D", "D"),
    # "Best answer:" / "Best option:" are never removed: the "B" of "Best" is read.
    ("Best option: D", "B", "D"),
    ("Best answer: C", "B", "C"),
    ("Correct option: A", "C", "A"),  # the "C" of "Correct"
    ("I think it's D because the man opens the door.", "D", "D"),
    ("C\n\nExplanation: the clock shows noon.", "C", "C"),
    ("Candles", "C", None),  # an option's text alone: the official parser reads its "C"
    ("Berries", "B", None),
    ("A man is walking", "A", None),
    ("the man walks to the kitchen and opens the fridge to take out some milk", "", None),
    ("I cannot determine the answer from the video frames provided to me here today.", "", None),
    ("I cannot determine the answer from the video frames provided, Dave.", "D", None),
    ("None of the above", "", None),
    ("E", "", None),
    ("", "", None),
    ("   ", "", None),
]


@pytest.mark.parametrize(("response", "official", "ours"), RESPONSES)
def test_extractors(response: str, official: str, ours: str | None) -> None:
    assert official_extract(response) == official
    assert our_extract(response) == ours


def test_the_table_is_broad() -> None:
    assert len(RESPONSES) >= 25
    assert sum(1 for _, o, u in RESPONSES if o != (u or "")) >= 10


OPTIONS = ["A. Apples.", "B. Candles.", "C. Berries.", "D. The same number."]


def make_record(qid: str, answer: str, response: str, **extra: Any) -> Record:
    video_id = qid.split("-")[0]
    record: dict[str, Any] = {
        "question_id": qid,
        "video_id": video_id,
        "videoID": f"yt{video_id}",
        "duration": "short",
        "domain": "Knowledge",
        "sub_category": "Humanity & History",
        "task_type": "Counting Problem",
        "question": f"Question {qid}?",
        "options": list(OPTIONS),
        "answer": answer,
        "mode": "agent",
        "response": response,
        "choice": None,
        "confidence": 0.5,
        "evidence": [],
        "usage": {
            "model_calls": 2,
            "prompt_tokens": 100,
            "completion_tokens": 10,
            "frames_sent": 8,
            "wall_s": 1.5,
        },
        "error": None,
        "config": {"model": "fake"},
        "finished_at": "2026-01-01T00:00:00+00:00",
    }
    record.update(extra)
    return cast(Record, record)


def sample_records() -> list[Record]:
    """8 lines, 7 questions; known outcomes below."""
    return [
        make_record("002-1", "C", "wrong first try", choice="A"),  # replaced below
        make_record("001-2", "B", "The answer is (B)."),  # right
        make_record("001-1", "C", "whatever", choice="C"),  # right, by its own choice
        make_record("001-3", "A", "Best option: D"),  # wrong; official reads "B"
        make_record("002-1", "C", "c"),  # duplicate, last wins: right
        make_record("002-2", "A", "A man walks in."),  # unparsed; official reads "A"
        make_record(
            "010-1", "B", "", error="video unreadable", usage={}, duration="long", task_type="OCR"
        ),
        make_record(
            "002-3",
            "D",
            "I cannot say what happens in this clip because the frames are too dark.",
            duration="medium",
            domain="Film & Television",
        ),  # unparsed by both
    ]


def test_record_letter_and_official_response() -> None:
    right_by_choice = make_record("001-1", "C", "hmm", choice="C")
    assert record_letter(right_by_choice) == "C"
    assert official_response(right_by_choice) == "C. Berries."
    assert record_letter(make_record("x-1", "C", "(b)", choice="Z")) == "B"
    assert official_response(make_record("x-1", "C", "(b)")) == "B. Candles."
    assert official_response(make_record("x-1", "C", "A man walks in.")) == "A man walks in."
    errored = make_record("x-1", "C", "C", choice="C", error="boom")
    assert record_letter(errored) is None


def test_score_counts_both_denominators() -> None:
    s = score(sample_records())
    assert s.duplicates == ("002-1",)
    assert s.questions == 7
    assert s.failed == 1  # the errored record written before `status` existed
    assert (s.answered, s.fallback) == (6, 0)
    assert s.unparsed == 2  # 002-2 and 002-3
    assert s.correct == 3  # 001-1, 001-2, 002-1
    # The official parser reads 001-1, 001-2, 001-3, 002-1 and "A" from "A man walks in."
    assert s.answered_official == 5
    assert s.correct_official == 4  # ...and the "A" of "A man" happens to be right
    assert s.accuracy_official == pytest.approx(100 * 4 / 5)
    assert s.accuracy_strict == pytest.approx(100 * 3 / 7)
    assert list(s.by_duration) == ["short", "medium", "long"]
    assert s.by_duration["short"].questions == 5
    assert s.by_duration["long"].failed == 1
    assert s.by_duration["long"].accuracy_official == 0.0
    assert s.by_duration["medium"].unparsed == 1
    assert list(s.by_domain) == ["Knowledge", "Film & Television"]
    assert list(s.by_task_type) == ["Counting Problem", "OCR"]  # unknown names last
    assert s.by_sub_category["Humanity & History"].questions == 7
    assert s.usage.records == 6  # the errored question's cost is left out
    assert s.usage.model_calls == pytest.approx(2.0)
    assert s.usage.wall_s == pytest.approx(1.5)


def test_score_of_nothing() -> None:
    s = score([])
    assert (s.questions, s.accuracy_official, s.accuracy_strict) == (0, 0.0, 0.0)
    assert s.usage.records == 0


def test_compare_only_shared_categories() -> None:
    agent = score(sample_records())
    direct = score([make_record("001-1", "C", "C"), make_record("001-2", "B", "A")])
    d = compare(agent, direct)
    assert d["overall"]["accuracy_strict"] == pytest.approx(100 * 3 / 7 - 50)
    assert d["overall"]["accuracy_official"] == pytest.approx(80 - 50)
    assert list(d["by_duration"]) == ["short"]
    assert d["by_duration"]["short"]["accuracy_strict"] == pytest.approx(60 - 50)
    assert list(d["by_task_type"]) == ["Counting Problem"]


def test_official_results_layout(tmp_path: Path) -> None:
    path = tmp_path / "official.json"
    write_json(path, official_results(sample_records()))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert [v["video_id"] for v in data] == ["001", "002", "010"]
    for video in data:
        assert list(video) == ["video_id", "duration", "domain", "sub_category", "questions"]
        for q in video["questions"]:
            keys = ["question_id", "task_type", "question", "options", "answer", "response"]
            assert list(q) == keys
    assert [q["question_id"] for q in data[0]["questions"]] == ["001-1", "001-2", "001-3"]
    first = data[0]["questions"][0]
    assert first == {
        "question_id": "001-1",
        "task_type": "Counting Problem",
        "question": "Question 001-1?",
        "options": OPTIONS,
        "answer": "C",
        "response": "C. Berries.",
    }
    assert data[0]["duration"] == "short" and data[0]["sub_category"] == "Humanity & History"
    assert data[1]["questions"][0]["response"] == "C. Berries."  # the duplicate's last record
    assert data[1]["questions"][1]["response"] == "A man walks in."  # raw when unparsed
    assert data[2]["questions"][0]["response"] == ""


def test_write_json_is_strict(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_json(tmp_path / "x.json", {"a": float("nan")})
    assert not (tmp_path / "x.json").exists()
    write_json(tmp_path / "x.json", {"é": 1})
    assert (tmp_path / "x.json").read_text(encoding="utf-8") == '{\n  "é": 1\n}\n'


def two_modes() -> dict[str, Any]:
    agent = score(sample_records())
    direct = score([make_record("001-1", "C", "C"), make_record("001-2", "B", "A")])
    return {"agent": agent, "direct": direct}


def test_summary_and_markdown() -> None:
    scores = two_modes()
    deltas = compare(scores["agent"], scores["direct"])
    summary = summary_json(scores, deltas)
    parsed = json.loads(json.dumps(summary, allow_nan=False))
    assert parsed["modes"]["agent"]["accuracy_official"] == pytest.approx(80.0)
    assert parsed["modes"]["agent"]["by_duration"]["long"]["failed"] == 1
    assert parsed["modes"]["agent"]["answered"] == 6 and parsed["modes"]["agent"]["fallback"] == 0
    assert parsed["paper_reference"]["agentic"] == 75.8

    md = markdown_report(scores, deltas, config={"model": "fake", "fps": 1})
    for heading in ("## Overall", "## By duration", "## By task type", "## By domain"):
        assert heading in md
    assert "## Agent vs direct" in md
    assert (
        "| mode | questions | answered | fallback | failed | accuracy official | accuracy strict "
        "| unparsed |" in md
    )
    assert "| agent | 7 | 6 | 0 | 1 | 80.0 | 42.9 | 2 | 2.00 | 110 | 8.0 | 1.5 |" in md
    assert "| overall | +30.0 | -7.1 |" in md
    assert "| long | 1 | n/a | 0.0 | - | - | - |" in md  # the official parser read nothing
    assert "the InternVideo3 paper's numbers, not ours" in md and "75.8" in md
    assert "Duplicate question_ids in agent (last record kept): 002-1" in md
    assert '"fps": 1' in md

    alone = markdown_report({"direct": scores["direct"]}, None, config={})
    assert "## Agent vs direct" not in alone


def test_chart_writes_png(tmp_path: Path) -> None:
    path = tmp_path / "out" / "accuracy.png"
    chart(two_modes(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["accuracy.png"]  # no temp file left


def test_write_reports(tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in sample_records()]
    (tmp_path / "agent.jsonl").write_text("\n".join(lines) + '\n{"question_id": "09', "utf-8")
    scores = write_reports(tmp_path)
    assert list(scores) == ["agent"]
    assert scores["agent"].questions == 7  # the line cut short is skipped
    names = {p.name for p in tmp_path.iterdir()}
    assert {"official_agent.json", "summary.json", "report.md", "accuracy.png"} <= names
    assert '"model": "fake"' in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_a_fallback_is_never_counted_as_the_models_answer() -> None:
    """A fallback's letter is our guess: out of the official denominator, wrong in strict,
    an empty response in the official JSON, and counted apart."""
    records = [
        make_record("001-1", "C", "C. Berries.", choice="C", status="answered"),
        make_record("001-2", "B", "No answer from the model; best guess from the evidence: B.",
                    choice="B", status="fallback", error="no answer within the budget"),
        make_record("001-3", "A", "", status="failed", error="the model server failed"),
    ]  # fmt: skip
    s = score(records)
    assert (s.answered, s.fallback, s.failed) == (1, 1, 1)
    assert record_letter(records[1]) is None and official_response(records[1]) == ""
    assert s.correct == 1 and s.accuracy_strict == pytest.approx(100 / 3)
    assert s.answered_official == 1 and s.accuracy_official == pytest.approx(100.0)
    assert s.unparsed == 0
    assert s.usage.records == 2  # the fallback's calls cost as much as any
    responses = [q["response"] for v in official_results(records) for q in v["questions"]]
    assert responses == ["C. Berries.", "", ""]
