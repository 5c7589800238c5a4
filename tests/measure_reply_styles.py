"""Issue 13's closing-note measurement: ``eval videomme`` on the generated dataset of
tests/test_videomme.py in the three reply styles of `tests.reply_styles`, both modes,
against the fake model server; then our ``official_<mode>.json`` scored by the official
scorer's rules (`tests.official_scorer`) beside our own numbers.

    python -m tests.measure_reply_styles OUT
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]

from mcr_agent.front.media import make_scenes_video
from tests.fake_openai import FakeOpenAIServer
from tests.official_scorer import official_counts
from tests.reply_styles import STYLES, StyledModel
from tests.test_videomme import VIDEOS, _rows


def make_dataset(root: Path) -> None:
    """The test dataset: videomme/*.parquet and videos/*.mp4 (one video missing)."""
    (root / "videomme").mkdir(parents=True, exist_ok=True)
    (root / "videos").mkdir(exist_ok=True)
    for _, name, _, _, _, texts, speech, _ in VIDEOS:
        path = root / "videos" / f"{name}.mp4"
        if not path.exists():
            make_scenes_video(path, scene_seconds=[4.0, 5.0, 3.0], texts=texts, speech=speech,
                              fps=10)  # fmt: skip
    pd.DataFrame(_rows()).to_parquet(root / "videomme" / "test-00000-of-00001.parquet")


def main(out: Path) -> None:
    make_dataset(out / "data")
    env = {**os.environ, "MCR_CACHE_DIR": str(out / "cache")}
    rows = []
    for style in STYLES:
        with FakeOpenAIServer(StyledModel(style)) as srv:
            for mode in ("agent", "direct"):
                command = [sys.executable, "-m", "evals.videomme", "--data", str(out / "data"),
                           "--out", str(out / style), "--base-url", srv.base_url,
                           "--mode", mode, "--concurrency", "2"]  # fmt: skip
                subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        summary = json.loads((out / style / "summary.json").read_text())["modes"]
        for mode in ("agent", "direct"):
            ours = summary[mode]
            theirs = official_counts(out / style / f"official_{mode}.json")
            answered, strict = ours["accuracy_answered"], ours["accuracy_strict"]
            rows.append(
                f"| {style} | {mode} | {answered['percent']:.1f} ({answered['right']}/"
                f"{answered['questions']}) | {theirs.accuracy:.1f} ({theirs.correct}/"
                f"{theirs.answered}) | {strict['percent']:.1f} ({strict['right']}/"
                f"{strict['questions']}) | {ours['answered']}/{ours['fallback']}/"
                f"{ours['failed']} |"
            )
    print("| style | mode | ours (official denominator) | official scorer | strict |"
          " answered/fallback/failed |\n| --- | --- | --- | --- | --- | --- |")  # fmt: skip
    print("\n".join(rows))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
