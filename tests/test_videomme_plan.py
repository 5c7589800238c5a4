"""Video-MME runs find their files as the published dataset lays them out
(``DIR/data/*.mp4``, ``DIR/subtitle/*.srt``), and list up front what they cannot run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]
import pytest
from click.testing import CliRunner

from evals.mme_data import Question, find_subtitles
from evals.mme_log import ResultLog
from evals.videomme import plan_run
from mcr_agent.front.cli import main
from mcr_agent.front.media import make_scenes_video
from tests.agent_model import HonestAgentModel
from tests.fake_openai import FakeOpenAIServer
from tests.official_scorer import official_counts

CUE = "1\n00:00:00,000 --> 00:00:03,000\nThe gate is number seven.\n"


def question(video: str, qid: str) -> Question:
    return Question(qid.split("-")[0], video, "short", "Knowledge", "Geography",
                    "OCR Problems", qid, "Which gate does the sign show?",
                    ("A. GATE 3A", "B. GATE 7B", "C. GATE 9D", "D. GATE 1C"), "B")  # fmt: skip


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DIR/data/{vidSub,vidNoSub}.mp4, DIR/subtitle/vidSub.srt, DIR/questions.parquet."""
    root = tmp_path_factory.mktemp("published")
    (root / "data").mkdir()
    (root / "subtitle").mkdir()
    make_scenes_video(root / "data" / "vidSub.mp4", scene_seconds=[3.0], texts=["GATE 7B"],
                      fps=5)  # fmt: skip
    (root / "data" / "vidNoSub.mp4").symlink_to(root / "data" / "vidSub.mp4")
    (root / "subtitle" / "vidSub.srt").write_text(CUE, encoding="utf-8")
    rows = [question("vidSub", "001-1").__dict__, question("vidNoSub", "002-1").__dict__]
    pd.DataFrame([{**r, "options": list(r["options"])} for r in rows]).to_parquet(
        root / "questions.parquet"
    )
    return root


def test_subtitles_are_found_beside_the_data_folder(published: Path, tmp_path: Path) -> None:
    data = published / "data"
    assert find_subtitles(data, "vidSub") == published / "subtitle" / "vidSub.srt"
    assert find_subtitles(published, "vidSub") == published / "subtitle" / "vidSub.srt"
    assert find_subtitles(data, "vidNoSub") is None
    log = ResultLog(tmp_path / "direct.jsonl")
    questions = [question("vidSub", "001-1"), question("vidNoSub", "002-1"),
                 question("vidGone", "003-1")]  # fmt: skip
    plan = plan_run(questions, log, videos=data, subtitle_dir=data)
    assert [(v.name, s.name if s else None) for v, s, _ in plan.todo] == [
        ("vidSub.mp4", "vidSub.srt")]  # fmt: skip
    assert (plan.missing_videos, plan.missing_subtitles) == (["vidGone"], ["vidNoSub"])
    assert [q.question_id for q in plan.skipped] == ["002-1", "003-1"]
    without = plan_run(questions, log, videos=data, subtitle_dir=None)  # no --subtitles
    assert [len(qs) for _, _, qs in without.todo] == [1, 1] and not without.missing_subtitles


def test_a_question_without_its_subtitles_is_listed_and_not_run(
    published: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["eval", "videomme", "--data", str(published / "questions.parquet"),
            "--videos", str(published / "data"), "--subtitles", "--mode", "direct",
            "--out", str(out)]  # fmt: skip
    with FakeOpenAIServer(HonestAgentModel()) as srv:
        result = CliRunner().invoke(main, [*args, "--base-url", srv.base_url])
        assert result.exit_code == 0, result.stdout + result.stderr
        prompts = [r.texts for r in srv.requests]
    lines = result.stdout.splitlines()
    assert lines[0] == "2 questions selected: 1 to run, 0 done earlier"
    assert lines[1].startswith("1 subtitle files (.srt) not found in ") and "vidNoSub" in lines[1]
    assert len(prompts) == 1 and "The gate is number seven." in prompts[0]
    assert [json.loads(x)["question_id"] for x in (out / "direct.jsonl").open()] == ["001-1"]
    official = json.loads((out / "official_direct.json").read_text())
    assert [(v["video_id"], v["missing"]) for v in official] == [("001", False), ("002", True)]
    assert official_counts(out / "official_direct.json").skipped_videos == 1
