"""Video-MME scoring: both answer parsers, both accuracies, the official JSON, the reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from evals.mme_markdown import accuracy_cell
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
    official_extract_2024,
    official_response,
    our_extract,
    record_letter,
    score,
)
from evals.mme_stats import paired_difference, wilson
from tests.official_scorer import PREFIXES_2024, official_counts, official_letter

# (response, official letter now, in 2024 ("" = unread), our letter)
RESPONSES: list[tuple[str, str, str, str | None]] = [
    ("The answer is (B).", "B", "B", "B"),
    ("B. Berries", "B", "B", "B"),
    ("b", "", "", "B"),  # the official parsers read capitals only
    ("c", "", "", "C"),
    ("answer: c", "", "", "C"),
    ("(C)", "C", "C", "C"),
    ("C) Berries", "C", "C", "C"),
    ("**C**", "C", "C", "C"),
    ("\\boxed{C}", "C", "C", "C"),
    ("Option C", "C", "C", "C"),
    ("A", "A", "A", "A"),
    # "Answer:" became a prefix: 2024 read the "A" of "Answer"
    ("Answer: D", "D", "A", "D"),
    ("Answer:B", "B", "A", "B"),
    ("Answer: (b)", "", "A", "B"),
    ("Answer: (C)", "C", "A", "C"),
    ("Final Answer: D", "D", "A", "D"),
    ("Option: D", "D", "D", "D"),
    ("Best Answer: D", "B", "B", "D"),  # "Answer:" goes, the "B" of "Best" stays
    ("The best answer is: A", "A", "A", "A"),
    ("The best answer is B", "B", "B", "B"),
    ("The correct answer is C", "C", "C", "C"),
    ("The correct answer: D", "D", "D", "D"),
    ("The answer: C", "C", "C", "C"),  # "The answer" is removed, then ": C"
    ("The answer is C. Because of D.", "C", "C", "C"),
    ("<think>Between A and C, the clock shows noon.</think>C", "B", "B", "C"),  # "Between"
    ("After careful analysis, the answer is C", "A", "A", "C"),  # the "A" of "After"
    ("During the video, the chef adds salt before pepper so it must be B", "D", "D", "B"),
    ("The correct option is B", "B", "B", "B"),
    ("The correct option is (C).", "C", "C", "C"),
    ("The best option is D", "D", "D", "D"),
    # "Best answer:" / "Best option:" are never removed: the "B" of "Best" is read.
    ("Best option: D", "B", "B", "D"),
    ("Best answer: C", "B", "B", "C"),
    ("Correct option: A", "C", "C", "A"),  # the "C" of "Correct"
    ("I think it's D because the man opens the door.", "D", "D", "D"),
    ("C\n\nExplanation: the clock shows noon.", "C", "C", "C"),
    ("Candles", "C", "C", None),  # an option's text alone: the official parser reads its "C"
    ("Berries", "B", "B", None),
    ("GATE 7B", "A", "A", None),  # the "A" of "GATE"
    ("A man is walking", "A", "A", None),
    ("the man walks to the kitchen and opens the fridge to take out some milk", "", "", None),
    ("I cannot determine the answer from the video frames provided to me here today.", "", "",
     None),
    ("I cannot determine the answer from the video frames provided, Dave.", "D", "D", None),
    ("None of the above", "", "", None),
    ("The answer is F.", "", "", None),
    ("E", "", "", None),
    ("", "", "", None),
    ("   ", "", "", None),
]  # fmt: skip


@pytest.mark.parametrize(("response", "official", "official_2024", "ours"), RESPONSES)
def test_extractors(response: str, official: str, official_2024: str, ours: str | None) -> None:
    assert official_extract(response) == official
    assert official_extract_2024(response) == official_2024
    assert our_extract(response) == ours
    # the tests' own reproduction of the official scorer, written from its documented rules
    assert official_letter(response) == official
    assert official_letter(response, PREFIXES_2024) == official_2024


def test_the_table_is_broad() -> None:
    assert len(RESPONSES) >= 40
    assert sum(1 for _, o, _, u in RESPONSES if o != (u or "")) >= 10
    assert sum(1 for _, o, o4, _ in RESPONSES if o != o4) >= 5


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
        "reply": response,
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
        make_record("001-1", "C", "Berries.", choice="C", reply="C. Berries."),  # right
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
    right_by_choice = make_record("001-1", "C", "Berries.", choice="C", reply="C. Berries.")
    assert record_letter(right_by_choice) == "C"
    assert official_response(right_by_choice) == "C. Berries."  # the model's own words
    assert record_letter(make_record("x-1", "C", "(b)", choice="Z")) == "B"
    guess = make_record("x-1", "C", "No answer from the model; best guess: C", choice="C",
                        status="fallback", reply="GATE 7B")  # fmt: skip
    assert record_letter(guess) is None and official_response(guess) == "GATE 7B"
    errored = make_record("x-1", "C", "C", choice="C", error="boom", reply="")
    assert record_letter(errored) is None and official_response(errored) == ""
    # written before `reply` existed: our answer text when answered, else nothing
    legacy = make_record("x-1", "C", "A man walks in.")
    del legacy["reply"]
    assert official_response(legacy) == "A man walks in."
    legacy["status"] = "fallback"
    assert official_response(legacy) == ""


def test_score_counts_every_denominator() -> None:
    s = score(sample_records())
    assert s.duplicates == ("002-1",)
    assert s.questions == 7
    assert s.failed == 1  # the errored record written before `status` existed
    assert (s.answered, s.fallback) == (6, 0)
    assert s.unparsed == 2  # 002-2 and 002-3
    assert s.correct == 3  # 001-1, 001-2, 002-1
    # The official parser reads 001-1, 001-2, 001-3 and "A" from "A man walks in."
    assert s.answered_official == 4
    assert s.correct_official == 3  # ...and the "A" of "A man" happens to be right
    assert s.accuracy_official == pytest.approx(100 * 3 / 4)
    assert s.accuracy_answered == pytest.approx(100 * 3 / 6)
    assert s.accuracy_strict == pytest.approx(100 * 3 / 7)
    assert (s.ci_strict.k, s.ci_strict.n) == (3, 7)
    assert s.ci_strict.low < 3 / 7 < s.ci_strict.high
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


def test_cost_counts_indexing_and_retries() -> None:
    usage = {"model_calls": 3, "prompt_tokens": 100, "completion_tokens": 10, "frames_sent": 8,
             "wall_s": 2.0, "requests": 5, "retries": 1}  # fmt: skip
    records = [
        make_record("001-1", "C", "C", usage=usage, index_usage={
            "model_calls": 4.5, "prompt_tokens": 300.0, "completion_tokens": 20.0,
            "frames_sent": 6.0, "requests": 5.0, "retries": 0.5}),
        make_record("001-2", "B", "B", usage={**usage, "retries": 0}, index_usage={
            "model_calls": 4.5, "prompt_tokens": 300.0, "completion_tokens": 20.0,
            "frames_sent": 6.0, "requests": 5.0, "retries": 0.5}),
        make_record("002-1", "B", "", error="unreadable", usage={}, index_usage={}),
    ]  # fmt: skip
    u = score(records).usage
    assert (u.records, u.model_calls, u.requests) == (2, 3.0, 5.0)
    assert u.index_calls == pytest.approx(3.0)  # 9 calls over all 3 questions
    assert u.index_tokens == pytest.approx(640 / 3)
    assert u.index_frames == pytest.approx(4.0)
    assert u.index_requests == pytest.approx(10 / 3)
    assert (u.retries, u.index_retries) == (1, 1)


def test_score_of_nothing() -> None:
    s = score([])
    assert (s.questions, s.accuracy_official, s.accuracy_strict) == (0, 0.0, 0.0)
    assert s.usage.records == 0


def test_compare_pairs_the_shared_questions() -> None:
    agent = score(sample_records())
    direct = score([make_record("001-1", "C", "C"), make_record("001-2", "B", "A")])
    d = compare(agent, direct)
    assert d["overall"]["accuracy_strict"] == pytest.approx(100 * 3 / 7 - 50)
    assert d["overall"]["accuracy_official"] == pytest.approx(75 - 50)
    assert d["overall"]["accuracy_answered"] == pytest.approx(50 - 50)
    paired = paired_difference([(True, True), (True, False)])
    assert (d["overall"]["pairs"], d["overall"]["only_agent"], d["overall"]["only_direct"]) == (
        2, 1, 0)  # fmt: skip
    assert d["overall"]["paired_strict"] == pytest.approx(50.0)
    assert d["overall"]["paired_low"] == pytest.approx(100 * paired.low)
    assert d["overall"]["paired_high"] == pytest.approx(100 * paired.high)
    assert list(d["by_duration"]) == ["short"]
    assert d["by_duration"]["short"]["accuracy_strict"] == pytest.approx(60 - 50)
    assert d["by_duration"]["short"]["pairs"] == 2
    assert list(d["by_task_type"]) == ["Counting Problem"]


def test_official_results_layout(tmp_path: Path) -> None:
    path = tmp_path / "official.json"
    absent = make_record("020-1", "A", "", duration="long")
    write_json(path, official_results(sample_records(), missing=[absent]))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert [v["video_id"] for v in data] == ["001", "002", "010", "020"]
    for video in data:
        assert list(video) == ["video_id", "duration", "domain", "sub_category", "missing",
                               "questions"]  # fmt: skip
        for q in video["questions"]:
            keys = ["question_id", "task_type", "question", "options", "answer", "response",
                    "choice", "status", "evidence"]  # fmt: skip
            assert list(q) == keys
    assert [v["missing"] for v in data] == [False, False, False, True]
    assert [q["question_id"] for q in data[0]["questions"]] == ["001-1", "001-2", "001-3"]
    first = data[0]["questions"][0]
    assert first == {
        "question_id": "001-1",
        "task_type": "Counting Problem",
        "question": "Question 001-1?",
        "options": OPTIONS,
        "answer": "C",
        "response": "C. Berries.",
        "choice": "C",
        "status": "answered",
        "evidence": [],
    }
    assert data[0]["duration"] == "short" and data[0]["sub_category"] == "Humanity & History"
    assert data[1]["questions"][0]["response"] == "c"  # the duplicate's last record
    assert data[1]["questions"][1]["response"] == "A man walks in."  # as the model wrote it
    assert data[2]["questions"][0]["response"] == ""
    assert data[2]["questions"][0]["status"] == "failed"
    assert data[3]["questions"][0]["status"] == "missing"
    s = score(sample_records())
    official = official_counts(path)  # the official scorer's counting, skip_missing on
    assert (official.answered, official.correct, official.skipped_videos) == (
        s.answered_official, s.correct_official, 1)  # fmt: skip
    with pytest.raises(KeyError):  # as the scorer fails without the key
        official_counts(_without_missing_key(path, tmp_path))


def _without_missing_key(path: Path, tmp_path: Path) -> Path:
    data = json.loads(path.read_text(encoding="utf-8"))
    for video in data:
        del video["missing"]
    out = tmp_path / "old.json"
    out.write_text(json.dumps(data), encoding="utf-8")
    return out


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
    summary = summary_json(scores, deltas, missing={"agent": 2})
    parsed = json.loads(json.dumps(summary, allow_nan=False))
    agent = parsed["modes"]["agent"]
    assert agent["accuracy_official"]["percent"] == pytest.approx(75.0)
    assert (agent["accuracy_official"]["right"], agent["accuracy_official"]["questions"]) == (3, 4)
    assert agent["accuracy_official"]["ci95"] == pytest.approx([30.06, 95.44], abs=0.01)
    assert agent["accuracy_answered"]["questions"] == 6
    assert agent["accuracy_strict"]["questions"] == 7 and agent["missing"] == 2
    assert agent["by_duration"]["long"]["failed"] == 1
    assert agent["by_sub_category"]["Humanity & History"]["accuracy_strict"]["right"] == 3
    assert agent["answered"] == 6 and agent["fallback"] == 0
    assert agent["usage_means"]["index_calls"] == 0.0
    assert parsed["deltas_agent_minus_direct_pp"]["overall"]["pairs"] == 2
    assert parsed["paper_reference"]["agentic"] == 75.8

    md = markdown_report(scores, deltas, config={"model": "fake", "fps": 1})
    for heading in ("## Overall", "## Cost", "## By duration", "## By task type",
                    "## By domain", "## By sub-category"):  # fmt: skip
        assert heading in md
    assert "## Agent minus direct" in md
    assert (
        "| mode | questions | answered | fallback | failed | official scorer | answered (ours) "
        "| strict | unparsed |" in md
    )
    cells = " | ".join(accuracy_cell(wilson(k, n)) for k, n in ((3, 4), (3, 6), (3, 7)))
    assert f"| agent | 7 | 6 | 0 | 1 | {cells} | 2 |" in md
    assert "75.0 [30.1, 95.4] 3/4" in md
    assert "| agent | 2.00 | 110 | 8.0 | 0.00 | 0.00 | 0 | 0.0 | 0.00 | 0 | 0 | 1.5 |" in md
    paired = paired_difference([(True, True), (True, False)])
    assert (f"| overall | +25.0 | +0.0 | -7.1 | +50.0 [{100 * paired.low:+.1f}, "
            f"{100 * paired.high:+.1f}] | 2 | 1 | 0 |") in md  # fmt: skip
    # the official parser read nothing of the long video's failed question
    assert "| long | 0/0/1 | n/a 0/0 | n/a 0/0 | 0.0 [0.0, 79.3] 0/1 | - | - | - | - |" in md
    assert "| Humanity & History | " in md
    assert "the InternVideo3 paper's numbers, not ours" in md and "75.8" in md
    assert "Duplicate question_ids in agent (last record kept): 002-1" in md
    assert '"fps": 1' in md

    alone = markdown_report({"direct": scores["direct"]}, None, config={})
    assert "## Agent minus direct" not in alone


def test_chart_writes_png(tmp_path: Path) -> None:
    path = tmp_path / "out" / "accuracy.png"
    chart(two_modes(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["accuracy.png"]  # no temp file left


def test_write_reports(tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in sample_records()]
    (tmp_path / "agent.jsonl").write_text("\n".join(lines) + '\n{"question_id": "09', "utf-8")
    absent = make_record("020-1", "A", "", duration="long")
    write_json(tmp_path / "missing_agent.json", [absent])
    scores = write_reports(tmp_path)
    assert list(scores) == ["agent"]
    assert scores["agent"].questions == 7  # the line cut short is skipped
    names = {p.name for p in tmp_path.iterdir()}
    assert {"official_agent.json", "summary.json", "report.md", "accuracy.png"} <= names
    assert '"model": "fake"' in (tmp_path / "report.md").read_text(encoding="utf-8")
    summary = json.loads((tmp_path / "summary.json").read_text())["modes"]["agent"]
    official = official_counts(tmp_path / "official_agent.json")
    read = summary["accuracy_official"]
    assert (official.answered, official.correct) == (read["questions"], read["right"])
    assert summary["missing"] == 1 and official.skipped_videos == 1


def test_a_fallback_is_never_counted_as_the_models_answer() -> None:
    """A fallback's letter is our guess: out of our answered denominator, wrong in strict,
    counted apart; the official JSON shows the model's own reply, in which the official
    parser may read a letter ("B" of "Berries") that we never took as its answer."""
    records = [
        make_record("001-1", "C", "C. Berries.", choice="C", status="answered"),
        make_record("001-2", "B", "No answer from the model; best guess from the evidence: B.",
                    choice="B", status="fallback", error="no answer within the budget",
                    reply="Berries or candles"),
        make_record("001-3", "A", "", status="failed", error="the model server failed"),
    ]  # fmt: skip
    s = score(records)
    assert (s.answered, s.fallback, s.failed) == (1, 1, 1)
    assert record_letter(records[1]) is None
    assert official_response(records[1]) == "Berries or candles"
    assert s.correct == 1 and s.accuracy_strict == pytest.approx(100 / 3)
    assert s.accuracy_answered == pytest.approx(100.0)
    assert s.answered_official == 2 and s.correct_official == 2
    assert s.unparsed == 0
    assert s.usage.records == 2  # the fallback's calls cost as much as any
    responses = [q["response"] for v in official_results(records) for q in v["questions"]]
    assert responses == ["C. Berries.", "Berries or candles", ""]
