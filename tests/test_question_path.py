"""The question path in fresh processes, as a user runs it: `--help`, `doctor`, a search by
meaning and `ask` import neither torch, transformers nor sentence-transformers once the
embedding model's ONNX export is in the cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent_model import HonestAgentModel
from tests.fake_openai import HANG_GUARD_S, FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[1]
TORCH_STACK = ("torch", "transformers", "sentence_transformers")
# Runs the CLI, then writes the names of every module the process imported; with "first",
# also those imported when the first model call was sent, into the same file plus ".first".
_WRAPPER = """
import atexit, sys
out, mode, sys.argv = sys.argv[1], sys.argv[2], ["mcr-agent", *sys.argv[3:]]
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
if mode == "first":
    from mcr_agent.model.meter import Meter
    complete = Meter.complete
    def first(self, *args, **kwargs):
        if not first.seen:
            first.seen = True
            open(out + ".first", "w").write("\\n".join(sorted(sys.modules)))
        return complete(self, *args, **kwargs)
    first.seen = False
    Meter.complete = first
from mcr_agent.front.cli import main
main()
"""


@pytest.fixture
def cache(cache_with_speech_memory: Path, embedder_exports: Path) -> Path:
    """The speech video's memory, with the embedding model's export beside it."""
    exports = embedder_exports / "embedders"
    shutil.copytree(exports, cache_with_speech_memory / "embedders", dirs_exist_ok=True)
    return cache_with_speech_memory


def run_cli(
    args: list[str], cache: Path, tmp_path: Path, *, first_call: bool = False
) -> tuple[str, set[str]]:
    """Run ``mcr-agent ARGS`` in a fresh process; its stdout and the modules it imported
    (those imported by its first model call in ``tmp_path / "modules.txt.first"``)."""
    modules = tmp_path / "modules.txt"
    env = dict(os.environ, MCR_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(modules), "first" if first_call else "", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, set(modules.read_text().split())


def test_search_by_meaning_without_torch(speech_video: Path, cache: Path, tmp_path: Path) -> None:
    query = ["memory", "search", str(speech_video), "a vehicle by the bridge"]
    out, modules = run_cli([*query, "--mode", "semantic", "--json"], cache, tmp_path)
    hits = json.loads(out)
    assert hits and "red car" in hits[0]["text"].lower()
    assert "onnxruntime" in modules  # the query was embedded, by ONNX Runtime
    assert not modules & set(TORCH_STACK)
    assert "openai" not in modules  # a search never talks to the model server
    assert "av" not in modules  # the video's info and tracks come from its memory
    out, modules = run_cli(query, cache, tmp_path)  # hybrid, the default
    assert "car" in out.lower() and not modules & set(TORCH_STACK)


def test_ask_without_torch(speech_video: Path, cache: Path, tmp_path: Path) -> None:
    with FakeOpenAIServer(HonestAgentModel()) as srv:
        question = ["ask", str(speech_video), "What does the speaker say is parked?"]
        options = ["--option", "A. a blue truck", "--option", "B. the red car"]
        server = ["--base-url", srv.base_url, "--model", "fake-vlm", "--json"]
        out, modules = run_cli([*question, *options, *server], cache, tmp_path)
    answer = json.loads(out)
    assert answer["choice"] == "B" and answer["usage"]["model_calls"] >= 1
    assert {"onnxruntime", "openai", "langgraph"} <= modules
    assert not modules & {*TORCH_STACK, "scipy", "bm25s"}


def test_ask_sends_its_first_request_before_importing_langgraph(
    speech_video: Path, cache: Path, tmp_path: Path
) -> None:
    """LangGraph (and LangChain's tracing models under it) load while the model answers the
    first call; the tool schemas come from the cache, where indexing put them."""
    assert (cache / "tool-schemas.json").is_file()  # written when the memory was built
    with FakeOpenAIServer(HonestAgentModel()) as srv:
        args = ["ask", str(speech_video), "What does the speaker say is parked?",
                "--base-url", srv.base_url, "--model", "fake-vlm", "--json"]  # fmt: skip
        out, modules = run_cli(args, cache, tmp_path, first_call=True)
    before_first_call = set((tmp_path / "modules.txt.first").read_text().split())
    assert json.loads(out)["usage"]["model_calls"] >= 1
    assert {"openai", "onnxruntime", "faiss"} <= before_first_call
    assert not before_first_call & {"langgraph", "langchain_core", "langsmith", "av"}
    # openai's types of the other APIs stay unread (mcr_agent.model.sdk), the whole run long
    assert "openai.types.chat.chat_completion" in modules
    assert not modules & {"openai.types.responses.response", "openai.types.eval_create_params"}
    assert {"langgraph", "langchain_core"} <= modules  # the graph ran after all


def test_help_and_doctor_without_torch(cache: Path, tmp_path: Path) -> None:
    out, modules = run_cli(["--help"], cache, tmp_path)
    assert "ask" in out and not modules & {*TORCH_STACK, "numpy", "openai", "langgraph"}
    with FakeOpenAIServer() as srv:
        out, modules = run_cli(["doctor", "--base-url", srv.base_url], cache, tmp_path)
    assert "embedding model: all-MiniLM-L6-v2, 384 dimensions, onnxruntime" in out
    assert not modules & set(TORCH_STACK)
