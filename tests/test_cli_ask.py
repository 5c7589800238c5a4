"""`mcr-agent ask`: text, --json and --trace outputs, errors, and the graph in the README."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from mcr_agent.front.cli import main
from mcr_agent.loop.graph import build_graph
from tests.agent_model import HonestAgentModel
from tests.fake_openai import FakeOpenAIServer

QUESTION = "What does the speaker say is parked?"
OPTIONS = ["--option", "A. a blue truck", "--option", "B. the red car", "--option", "C. a bicycle"]
SECRET = "sk-test-DO-NOT-LEAK-0123456789"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def server(
    monkeypatch: pytest.MonkeyPatch, cache_with_speech_memory: Path
) -> Iterator[FakeOpenAIServer]:
    """The honest fake model at MCR_BASE_URL; the speech video already indexed in the cache."""
    monkeypatch.setenv("MCR_CACHE_DIR", str(cache_with_speech_memory))
    monkeypatch.setenv("MCR_API_KEY", SECRET)
    with FakeOpenAIServer(HonestAgentModel()) as srv:
        monkeypatch.setenv("MCR_BASE_URL", srv.base_url)
        yield srv


def test_ask_prints_steps_then_the_answer_with_times(
    server: FakeOpenAIServer, speech_video: Path
) -> None:
    code, out, err = run("ask", str(speech_video), QUESTION, *OPTIONS)
    assert code == 0, out + err
    lines = out.splitlines()
    assert any(re.search(r"\bobserve\b", ln) for ln in lines)
    assert any(re.search(r"\bverify\b.*supported", ln) for ln in lines)
    assert re.search(r"^B\s+the red car", out, re.MULTILINE)
    assert re.search(r"\[0:09\.\d-0:1\d\.\d\]", out)  # cited timestamps
    assert re.search(r"\d+ model calls, \d+ \+ \d+ tokens, \d+ frames", out)
    assert server.requests[-1].headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in out + err


def test_ask_uses_the_memory_index_built(
    server: FakeOpenAIServer,
    speech_video: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After `index --ocr --no-asr` (not the defaults), `ask` answers from that memory as it
    is: it neither rebuilds it with its own defaults nor drops the on-screen text."""
    cache = tmp_path / "own-cache"
    monkeypatch.setenv("MCR_CACHE_DIR", str(cache))
    code, _, err = run("index", str(speech_video), "--ocr", "--no-asr")
    assert code == 0, err
    [manifest] = cache.glob("*/manifest.json")
    built = manifest.read_bytes()
    assert json.loads(built)["settings"]["ocr"] is True
    code, out, err = run("ask", str(speech_video), QUESTION, *OPTIONS, "--json", "--max-steps", "2")
    assert code == 0, err
    assert json.loads(out)["video"]["fingerprint"] in manifest.parent.name
    assert [manifest] == list(cache.glob("*/manifest.json"))
    assert manifest.read_bytes() == built  # the memory was used, not rebuilt


def test_ask_json_is_exactly_the_documented_object(
    server: FakeOpenAIServer, speech_video: Path, tmp_path: Path
) -> None:
    trace = tmp_path / "trace.json"
    code, out, err = run(
        "ask", str(speech_video), QUESTION, *OPTIONS, "--json", "--trace", str(trace)
    )
    assert code == 0, err
    data = json.loads(out)  # stdout holds nothing but the object
    assert list(data) == ["question", "options", "answer", "choice", "status", "error",
                          "confidence", "route", "evidence", "steps", "usage",
                          "video"]  # fmt: skip
    assert data["choice"] == "B" and data["options"][1] == "B. the red car"
    assert data["status"] == "answered" and data["error"] is None
    assert set(data["usage"]) == {"model_calls", "prompt_tokens", "completion_tokens",
                                  "frames_sent", "wall_s"}  # fmt: skip
    assert all(set(e) == {"start", "end", "source", "text", "cited_by"} for e in data["evidence"])
    assert {e["cited_by"] for e in data["evidence"]} == {"model"}  # the model cited spans
    assert all(set(s) == {"node", "tool", "args", "summary", "duration_s"} for s in data["steps"])
    assert data["video"]["duration"] == pytest.approx(20.0, abs=0.1)
    assert len(data["video"]["fingerprint"]) >= 16
    traced = json.loads(trace.read_text())
    assert traced["answer"] == data["answer"] and len(traced["scenes"]) == 4
    assert SECRET not in out + err + trace.read_text()


def test_ask_trace_html_is_a_page_with_the_timeline(
    server: FakeOpenAIServer, speech_video: Path, tmp_path: Path
) -> None:
    page = tmp_path / "trace.html"
    code, out, err = run("ask", str(speech_video), QUESTION, *OPTIONS, "--trace", str(page))
    assert code == 0, out + err
    html = page.read_text()
    HTMLParser().feed(html)
    assert "data:image/jpeg;base64," in html and "the red car" in html
    assert "verify" in html and 'src="http' not in html
    assert SECRET not in html


def test_ask_direct_mode_is_one_call(server: FakeOpenAIServer, speech_video: Path) -> None:
    before = len(server.requests)
    code, out, err = run("ask", str(speech_video), QUESTION, *OPTIONS, "--mode", "direct", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["route"] == "direct" and data["choice"] in ("A", "B", "C")
    assert data["usage"]["model_calls"] == 1 == len(server.requests) - before
    assert data["usage"]["frames_sent"] == len(server.requests[-1].images) >= 8


def test_ask_errors_are_one_line(speech_video: Path, tmp_path: Path) -> None:
    code, _, err = run("ask", str(speech_video), QUESTION)  # the autouse env: a dead URL
    assert code == 1 and "no model server answers" in err and len(err.strip().splitlines()) == 1
    code, out, err = run("ask", str(speech_video), QUESTION, "--json")
    assert code == 1 and len(err.strip().splitlines()) == 1
    failed = json.loads(out)  # the object too, saying the run failed and why
    assert failed["status"] == "failed" and "no model server answers" in failed["error"]
    code, _, err = run("ask", str(tmp_path / "missing.mp4"), QUESTION)
    assert code == 1 and len(err.strip().splitlines()) == 1
    code, _, err = run("ask", str(speech_video), QUESTION, "--trace", str(tmp_path / "t.pdf"))
    assert code == 2 and ".html or .json" in err


def test_readme_shows_the_graph_as_built() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    drawn = build_graph().get_graph().draw_mermaid().strip()
    blocks = re.findall(r"```mermaid\n(.*?)```", readme, re.DOTALL)
    assert blocks and blocks[0].strip() == drawn, "update the Mermaid block in README.md"
