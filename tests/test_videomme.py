"""The Video-MME evaluation end to end on a small generated dataset in the exact parquet
schema, against the honest fake model server."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]
import pytest
from click.testing import CliRunner

from mcr_agent import Agent, AgentConfig
from mcr_agent.front.cli import main
from mcr_agent.front.media import make_scenes_video
from tests.agent_model import HonestAgentModel
from tests.fake_openai import HANG_GUARD_S, FakeOpenAIServer, Reply, Request, wait_for
from tests.official_scorer import official_counts
from tests.reply_styles import STYLES, StyledModel

# (video_id, videoID, duration, domain, sub_category, texts, speech, questions)
VIDEOS = [
    ("001", "vidRedCar01", "short", "Life Record", "Daily Life",
     ["SCORE 42", None, None], [None, "The red car is parked near the old bridge.", None],
     [("OCR Problems", "What number follows the word SCORE?", ["17", "42", "99", "7"], "B"),
      ("Action Recognition", "What does the speaker say is parked?",
       ["a blue truck", "a bicycle", "the red car", "a horse"], "C")]),
    ("002", "vidGate7B02", "medium", "Knowledge", "Geography",
     [None, "GATE 7B", None], None,
     [("OCR Problems", "Which gate does the sign show?",
       ["GATE 3A", "GATE 1C", "GATE 9D", "GATE 7B"], "D"),
      ("Counting Problem", "How many signs are shown?", ["1", "2", "3", "4"], "A")]),
]  # fmt: skip


def _rows() -> list[dict[str, object]]:
    rows = []
    for vid, name, duration, domain, sub, _, _, questions in VIDEOS:
        for i, (task, question, options, answer) in enumerate(questions, 1):
            rows.append({
                "video_id": vid, "duration": duration, "domain": domain, "sub_category": sub,
                "url": f"https://www.youtube.com/watch?v={name}", "videoID": name,
                "question_id": f"{vid}-{i}", "task_type": task, "question": question,
                "options": [f"{'ABCD'[j]}. {o}" for j, o in enumerate(options)],
                "answer": answer,
            })  # fmt: skip
    rows.append({**rows[0], "question_id": "001-3", "options": ["A. x", "B. y", "E. z"]})
    rows.append({**rows[0], "video_id": "003", "videoID": "vidMissing03", "question_id": "003-1"})
    return rows


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HF layout: videomme/test-00000-of-00001.parquet, videos/<videoID>.mp4, subtitle/*.srt."""
    root = tmp_path_factory.mktemp("videomme")
    (root / "videomme").mkdir()
    (root / "videos").mkdir()
    (root / "subtitle").mkdir()
    for _, name, _, _, _, texts, speech, _ in VIDEOS:
        make_scenes_video(root / "videos" / f"{name}.mp4", scene_seconds=[4.0, 5.0, 3.0],
                          texts=texts, speech=speech, fps=10)  # fmt: skip
    cue = (
        '1\n00:00:04,000 --> 00:00:08,500\n<font color="white" size=".72c">'
        "The red car is parked.</font>\n"
    )
    (root / "subtitle" / "vidRedCar01.srt").write_text(cue)
    pd.DataFrame(_rows()).to_parquet(root / "videomme" / "test-00000-of-00001.parquet")
    return root


@pytest.fixture(scope="module")
def dataset_memories(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache with the dataset videos' memories as a run builds them (captioned by the
    honest model), for the tests about resuming and failures rather than indexing."""
    cache = tmp_path_factory.mktemp("videomme-memories")
    with FakeOpenAIServer(HonestAgentModel()) as srv:
        config = AgentConfig(
            base_url=srv.base_url, model="fake-vlm", cache_dir=cache, timeout=HANG_GUARD_S
        )
        agent = Agent(config)
        for _, name, *_ in VIDEOS:
            agent.index(dataset / "videos" / f"{name}.mp4")
    return cache


@pytest.fixture
def indexed(dataset_memories: Path, tmp_path: Path) -> Path:
    """The test's cache folder (MCR_CACHE_DIR) holding a copy of `dataset_memories`."""
    return Path(shutil.copytree(dataset_memories, tmp_path / "cache", dirs_exist_ok=True))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["eval", "videomme", *args])
    return result.exit_code, result.stdout, result.stderr


def records(out: Path, mode: str) -> list[dict[str, object]]:
    lines = (out / f"{mode}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_agent_and_direct_runs_write_the_official_reports(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with FakeOpenAIServer(HonestAgentModel()) as srv:
        code, stdout, err = run("--data", str(dataset), "--out", str(out), "--base-url",
                                srv.base_url, "--concurrency", "2")  # fmt: skip
        assert code == 0, stdout + err
        flat = " ".join(stdout.split())
        assert "6 questions selected: 4 to run" in flat
        assert "1 videos not found" in flat and "vidMissing03" in flat
        assert "001-3: options are not" in flat
        agent_requests = len(srv.requests)
        code, stdout, err = run("--data", str(dataset), "--out", str(out), "--base-url",
                                srv.base_url, "--mode", "direct")  # fmt: skip
        assert code == 0, stdout + err
        direct_requests = len(srv.requests) - agent_requests
    agent = {r["question_id"]: r for r in records(out, "agent")}
    # Whole cost: the questions' calls and their shares of indexing add up to every request
    # the server got (captions and summaries included), in each mode.
    calls = sum(r["usage"]["model_calls"] + r["index_usage"].get("model_calls", 0)
                for r in agent.values())  # fmt: skip
    assert calls == pytest.approx(agent_requests)
    assert sum(r["usage"]["model_calls"] for r in records(out, "direct")) == direct_requests
    assert set(agent) == {"001-1", "001-2", "002-1", "002-2"}
    assert agent["001-2"]["choice"] == "C" and agent["002-1"]["choice"] == "D"
    assert agent["001-1"]["choice"] == "B" and agent["001-1"]["usage"]["model_calls"] >= 2
    assert all(r["config"]["mode"] == "agent" and r["error"] is None for r in agent.values())
    assert all(r["status"] == "answered" for r in agent.values())
    assert agent["001-2"]["reply"] == "C. the red car"  # the model's answer as it wrote it
    # the memories were built in this run: each question carries its video's share
    assert all(r["index_usage"]["model_calls"] > 0 for r in agent.values())
    assert all(r["usage"]["requests"] > r["usage"]["model_calls"] for r in agent.values())
    official = json.loads((out / "official_agent.json").read_text())
    assert [v["video_id"] for v in official] == ["001", "002", "003"]
    assert [v["missing"] for v in official] == [False, False, True]  # vidMissing03
    assert list(official[0]) == ["video_id", "duration", "domain", "sub_category", "missing",
                                 "questions"]  # fmt: skip
    question = official[0]["questions"][1]
    assert list(question)[:6] == ["question_id", "task_type", "question", "options", "answer",
                                  "response"]  # fmt: skip
    assert question["response"] == "C. the red car" and question["answer"] == "C"
    assert (question["choice"], question["status"]) == ("C", "answered")
    summary = json.loads((out / "summary.json").read_text())
    assert json.dumps(summary, allow_nan=False)
    assert (out / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "agent" in report and "direct" in report and "75.8" in report


def test_a_dead_server_stops_the_run_and_the_same_command_resumes(
    dataset: Path, indexed: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    honest = HonestAgentModel()
    budget = [3]

    def dies(request: Request) -> str | Reply:
        if request.body.get("tools"):
            budget[0] -= 1
            if budget[0] < 0:
                return Reply("gone", status=503)
        return honest(request)

    args = ["--data", str(dataset), "--out", str(out), "--concurrency", "1"]
    with FakeOpenAIServer(dies) as srv:
        code, stdout, err = run(*args, "--base-url", srv.base_url)
    assert code == 1 and "run the same command to resume" in err and len(err.splitlines()) == 1
    first = records(out, "agent")
    assert 1 <= len(first) < 4
    with FakeOpenAIServer(HonestAgentModel()) as srv:
        code, stdout, err = run(*args, "--base-url", srv.base_url)
    assert code == 0, stdout + err
    assert f"{len(first)} done earlier" in " ".join(stdout.split())
    ids = Counter(r["question_id"] for r in records(out, "agent"))
    assert set(ids) == {"001-1", "001-2", "002-1", "002-2"} and max(ids.values()) == 1


def test_a_killed_run_resumes_without_duplicates(
    dataset: Path, indexed: Path, tmp_path: Path
) -> None:
    """Killed between two questions: once the first record is on disk, the run's next model
    request is held until the run has been killed, so exactly one record came before."""
    out = tmp_path / "out"
    log = out / "agent.jsonl"
    args = ["--data", str(dataset), "--out", str(out), "--concurrency", "1"]
    env = {**os.environ, "MCR_CACHE_DIR": str(indexed)}
    honest = HonestAgentModel()
    held, release = threading.Event(), threading.Event()

    def hold_after_the_first_record(request: Request) -> str | Reply:
        if not release.is_set() and log.exists() and log.read_text().count("\n") >= 1:
            held.set()
            release.wait(HANG_GUARD_S)
        return honest(request)

    with FakeOpenAIServer(hold_after_the_first_record) as srv:
        proc = subprocess.Popen(
            [sys.executable, "-m", "evals.videomme", *args, "--base-url", srv.base_url],
            cwd=Path(__file__).parent.parent, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert wait_for(lambda: held.is_set() or proc.poll() is not None)
            assert held.is_set(), f"the run ended ({proc.returncode}) before its first record"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        finally:
            release.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        with log.open("a") as f:
            f.write('{"question_id": "002-1", "torn')  # as if killed mid-write
        before = len(records_lenient(log))
        assert 1 <= before < 4
        code, stdout, err = run(*args, "--base-url", srv.base_url)
    assert code == 0, stdout + err
    ids = Counter(json.loads(line)["question_id"] for line in log.read_text().splitlines())
    assert set(ids) == {"001-1", "001-2", "002-1", "002-2"} and max(ids.values()) == 1


def records_lenient(path: Path) -> list[dict[str, object]]:
    out = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


def test_bad_inputs_are_one_line_errors(dataset: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    pd.DataFrame([{"video_id": "001", "question": "?"}]).to_parquet(bad)
    with FakeOpenAIServer(HonestAgentModel()) as srv:
        code, _, err = run("--data", str(bad), "--base-url", srv.base_url)
        assert code == 1 and "lacks the columns" in err and "options" in err
        out = tmp_path / "out"
        (out).mkdir()
        (out / "agent.jsonl").write_text(json.dumps({"question_id": "001-1", "config": {
            "mode": "agent", "model": "other-model"}}) + "\n")  # fmt: skip
        code, _, err = run("--data", str(dataset), "--out", str(out), "--base-url", srv.base_url)
        assert code == 1 and "another configuration" in err
    code, _, err = run("--data", str(dataset))  # the autouse env: no server
    assert code == 1 and "no model server answers" in err


def test_an_unreadable_video_is_reported_and_the_run_goes_on(
    dataset: Path, indexed: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    (data / "videos").mkdir(parents=True)
    rows = [r for r in _rows() if r["videoID"] in ("vidGate7B02", "vidRedCar01")][:4]
    (data / "videos" / "vidRedCar01.mp4").write_bytes(b"not a video at all")
    (data / "videos" / "vidGate7B02.mp4").symlink_to(dataset / "videos" / "vidGate7B02.mp4")
    pd.DataFrame(rows).to_parquet(data / "questions.parquet")
    out = tmp_path / "out"
    with FakeOpenAIServer(HonestAgentModel()) as srv:
        code, stdout, err = run("--data", str(data), "--out", str(out), "--base-url",
                                srv.base_url)  # fmt: skip
    assert code == 0, stdout + err
    by_id = {r["question_id"]: r for r in records(out, "agent")}
    assert set(by_id) == {"001-1", "001-2", "002-1", "002-2"}
    assert by_id["001-1"]["error"] and "\n" not in str(by_id["001-1"]["error"])
    assert by_id["002-1"]["error"] is None and by_id["002-1"]["choice"] == "D"
    assert "2 failed" in " ".join(stdout.split())
    assert by_id["001-1"]["status"] == "failed" and by_id["002-1"]["status"] == "answered"


@pytest.mark.parametrize("mode", ["direct", "agent"])
def test_a_model_that_replies_noise_is_counted_as_fallback(
    mode: str, dataset: Path, tmp_path: Path
) -> None:
    """Our guesses are never the model's answers: fallbacks are counted apart, left out of
    the official denominator and wrong in the strict one."""
    out = tmp_path / "out"
    noise = "Lorem ipsum dolor sit amet, consectetur adipiscing elit."
    with FakeOpenAIServer(lambda r: noise) as srv:
        code, stdout, err = run("--data", str(dataset), "--out", str(out), "--base-url",
                                srv.base_url, "--mode", mode, "--max-steps", "1",
                                "--ids", "001")  # fmt: skip
    assert code == 0, stdout + err
    found = records(out, mode)
    assert len(found) == 2 and all(r["status"] == "fallback" for r in found)
    assert all(r["error"] and r["confidence"] <= 0.25 for r in found)
    assert f"{mode}: 2 questions: 0 answered, 2 fallback, 0 failed" in " ".join(stdout.split())
    summary = json.loads((out / "summary.json").read_text())["modes"][mode]
    assert (summary["answered"], summary["fallback"], summary["failed"]) == (0, 2, 0)
    assert summary["answered_official"] == 0 and summary["accuracy_strict"]["percent"] == 0.0
    official = json.loads((out / f"official_{mode}.json").read_text())
    # the model's own words go to the official scorer, which reads no letter in them
    assert [q["response"] for q in official[0]["questions"]] == [noise, noise]
    assert [q["status"] for q in official[0]["questions"]] == ["fallback", "fallback"]
    row = f"| {mode} | 2 | 0 | 2 | 0 | n/a 0/0 | n/a 0/0 | 0.0 [0.0, 65.8] 0/2 |"
    assert row in (out / "report.md").read_text()


def test_ray_builds_the_memories_and_the_official_json_is_the_same(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ray_runtime: None
) -> None:
    """Memories built as Ray tasks (a local runtime) while the driver runs the questions and
    alone writes the results: the same official JSON as a run without Ray."""
    plain, on_ray = tmp_path / "plain", tmp_path / "ray"
    args = ["--data", str(dataset), "--concurrency", "2"]
    with FakeOpenAIServer(HonestAgentModel()) as srv:
        code, stdout, err = run(*args, "--out", str(plain), "--base-url", srv.base_url)
        assert code == 0, stdout + err
        monkeypatch.setenv("MCR_CACHE_DIR", str(tmp_path / "ray-cache"))  # nothing to reuse
        code, stdout, err = run(*args, "--out", str(on_ray), "--base-url", srv.base_url,
                                "--ray", "local")  # fmt: skip
        assert code == 0, stdout + err
    assert "memories built by Ray at local" in stdout
    built = [p for p in (tmp_path / "ray-cache").iterdir() if (p / "manifest.json").exists()]
    assert len(built) == 2  # the two videos found; the missing one is skipped as before
    official = (plain / "official_agent.json").read_text()
    assert any(q["response"] for v in json.loads(official) for q in v["questions"])
    assert (on_ray / "official_agent.json").read_text() == official
    assert {r["question_id"] for r in records(on_ray, "agent")} == {
        "001-1", "001-2", "002-1", "002-2"
    }  # fmt: skip


# (answered, fallback, failed) per mode; the direct baseline (frames only) cannot hear the
# speech 001-2 asks about, and answers it with its honest guess "A".
EXPECTED = {
    "letters": {"agent": (4, 0, 0), "direct": (4, 0, 0)},
    "prose": {"agent": (4, 0, 0), "direct": (4, 0, 0)},
    "no-letter": {"agent": (0, 4, 0), "direct": (0, 4, 0)},
}


@pytest.mark.parametrize("style", STYLES)
def test_the_official_scorer_reads_the_models_own_replies(
    style: str, dataset: Path, indexed: Path, tmp_path: Path
) -> None:
    """Clean letters, letters in prose, no letter: the official JSON holds the model's final
    reply, the official scorer (reproduced from its rules) counts in it what our summary
    says it counts, and a reply without a letter is never an answer of ours."""
    out = tmp_path / "a-results-folder-with-a-name-long-enough-to-be-wrapped-by-a-console"
    args = ["--data", str(dataset), "--out", str(out), "--frames", "16", "--concurrency", "2"]
    with FakeOpenAIServer(StyledModel(style)) as srv:
        for mode in ("agent", "direct"):
            code, stdout, err = run(*args, "--base-url", srv.base_url, "--mode", mode)
            assert code == 0, stdout + err
    assert stdout.splitlines()[-1].startswith(f"reports: {out}/report.md, ")  # one line
    summary = json.loads((out / "summary.json").read_text())
    for mode in ("agent", "direct"):
        ours = summary["modes"][mode]
        assert (ours["answered"], ours["fallback"], ours["failed"]) == EXPECTED[style][mode]
        assert ours["missing"] == 1
        theirs = official_counts(out / f"official_{mode}.json")
        read = ours["accuracy_official"]
        assert (theirs.answered, theirs.correct) == (read["questions"], read["right"])
        assert theirs.skipped_videos == 1
        by_id = {r["question_id"]: r for r in records(out, mode)}
        official = json.loads((out / f"official_{mode}.json").read_text())
        for q in (q for v in official if not v["missing"] for q in v["questions"]):
            record = by_id[q["question_id"]]
            assert q["response"] == record["reply"] and q["status"] == record["status"]
            if style == "prose":
                assert q["response"] == f"The correct option is ({record['choice']})."
            if style == "no-letter":
                assert q["response"] and not any(f"({x})" in q["response"] for x in "ABCD")
        right = sum(r["status"] == "answered" and r["choice"] == r["answer"]
                    for r in by_id.values())  # fmt: skip
        assert ours["accuracy_strict"]["right"] == right
        assert ours["accuracy_answered"]["questions"] == ours["answered"]
    if style != "no-letter":  # the agent finds every answer; the baseline misses the speech
        assert summary["modes"]["agent"]["accuracy_strict"]["right"] == 4
        assert summary["modes"]["direct"]["accuracy_strict"]["right"] == 3
    overall = summary["deltas_agent_minus_direct_pp"]["overall"]
    assert overall["pairs"] == 4 and overall["paired_low"] <= overall["paired_strict"]
