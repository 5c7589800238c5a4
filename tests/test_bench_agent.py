"""The agent benchmark runs end to end (--quick) and writes every figure it prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals import bench_agent

FIGURES = (
    "accuracy",
    "evidence_recall",
    "evidence_recall_model",
    "evidence_recall_agent",
    "evidence_model_questions",
    "evidence_agent_questions",
    "fallbacks",
    "model_calls_per_q",
    "tokens_per_q",
    "frames_per_q",
    "wall_s_per_q",
    "overhead_s_per_step",
    "tools_s_per_step",
    "overhead_share",
    "overhead_share_at_1s",
    "breakdown",
)


def test_quick_run_writes_the_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench_agent.main(["--quick", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    result = json.loads((tmp_path / "bench_agent.json").read_text())
    assert result["question_count"] == bench_agent.QUICK_QUESTIONS
    assert result["latency_s"] == bench_agent.QUICK_LATENCY
    assert result["machine"]["nproc"] >= 1 and result["date"] and not result["server_errors"]
    agent, direct = result["summary"]["agent"], result["summary"]["direct"]
    uncited = result["summary"]["uncited"]  # the agent grounds every answer itself
    for mode in (agent, uncited, direct):
        assert all(key in mode for key in FIGURES)
        assert mode["model_calls_per_q"] >= 1 and mode["overhead_s_per_step"] > 0
    assert agent["accuracy"] > direct["accuracy"]  # two answers are only in speech
    assert agent["evidence_model_questions"] >= 1 and agent["evidence_recall_model"] > 0
    assert uncited["evidence_model_questions"] == 0 and uncited["evidence_agent_questions"] >= 1
    assert uncited["evidence_recall_agent"] > 0
    assert "recall (model)" in printed and "recall (agent)" in printed
    modes = len(bench_agent.MODES)
    assert len(result["records"]) == modes * bench_agent.QUICK_QUESTIONS
    assert len(result["targets"]) == 2 * modes and ("PASS" in printed or "FAIL" in printed)
