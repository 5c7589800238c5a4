"""The opening (observe → route → first reason, ahead of the graph) changes what a run does
in no way, overlaps the graph's import with the first model call, and fails as the graph
did; the tool schemas it sends come from the cache as langchain-core makes them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcr_agent import Agent, AgentConfig, ModelServerError
from mcr_agent.front.answer import Answer
from mcr_agent.loop import graph as graph_module
from mcr_agent.loop import toolset
from mcr_agent.loop.opening import Opening, merged
from mcr_agent.loop.state import Step
from mcr_agent.model.client import OpenAIVideoLLM
from mcr_agent.model.completion import Completion
from tests.agent_model import HonestAgentModel
from tests.fake_openai import HANG_GUARD_S, FakeOpenAIServer, Reply, Request

QUESTION = "What does the speaker say is parked?"
OPTIONS = ["A. a blue truck", "B. the red car", "C. a bicycle"]


def _agent(srv: FakeOpenAIServer, cache: Path, llm: Any = None) -> Agent:
    config = AgentConfig(base_url=srv.base_url, model="fake-vlm", cache_dir=cache,
                         max_retries=0, timeout=HANG_GUARD_S)  # fmt: skip
    return Agent(config, llm=llm)


def _steps(answer: Answer) -> list[tuple[str, str | None, str]]:
    return [(s.node, s.tool, s.summary) for s in answer.steps]


@pytest.fixture
def without_opening(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every node runs in the graph, as before the opening existed."""

    def start(self: Opening, deps: object, state: object) -> None:
        self._busy.set()

    monkeypatch.setattr(Opening, "start", start)
    monkeypatch.setattr(Opening, "take", lambda self, name: None)
    yield


def _run(speech_video: Path, cache: Path) -> tuple[Answer, list[dict[str, Any]]]:
    with FakeOpenAIServer(HonestAgentModel()) as srv:
        agent = _agent(srv, cache)
        agent.index(speech_video)
        before = len(srv.requests)
        answer = agent.run(speech_video, QUESTION, OPTIONS)
        return answer, [r.body for r in srv.requests[before:]]


def test_opening_sends_what_the_graph_alone_sends(
    speech_video: Path, cache_with_speech_memory: Path, request: pytest.FixtureRequest
) -> None:
    ahead, sent_ahead = _run(speech_video, cache_with_speech_memory)
    request.getfixturevalue("without_opening")
    alone, sent_alone = _run(speech_video, cache_with_speech_memory)
    # The same requests, byte for byte (frames included), and no extra call.
    assert sent_ahead == sent_alone and len(sent_ahead) == ahead.usage["model_calls"] == 2
    assert _steps(ahead) == _steps(alone)
    assert [s.node for s in ahead.steps] == ["observe", "route", "reason", "verify", "answer"]
    assert (ahead.choice, ahead.answer, ahead.evidence) == (
        alone.choice,
        alone.answer,
        alone.evidence,
    )
    # The opening's steps keep their own durations; the reason step's includes the model's.
    reason = next(s for s in ahead.steps if s.node == "reason")
    assert reason.duration_s > 0 and reason.model_s > 0


def test_graph_is_built_while_the_first_call_waits(
    speech_video: Path, cache_with_speech_memory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's first reply waits until the graph has been built: with no overlap (the
    graph built only after the reply) it would wait out the hang guard."""
    graph_built = threading.Event()
    compiled = graph_module.compiled_graph

    def compiled_graph() -> Any:
        graph = compiled()
        graph_built.set()
        return graph

    monkeypatch.setattr(graph_module, "compiled_graph", compiled_graph)
    honest = HonestAgentModel()
    overlapped: list[bool] = []

    def gated(request: Request) -> str | Reply:
        if not overlapped:
            overlapped.append(graph_built.wait(HANG_GUARD_S))
        return honest(request)

    with FakeOpenAIServer(gated) as srv:
        answer = _agent(srv, cache_with_speech_memory).run(speech_video, QUESTION, OPTIONS)
    assert overlapped == [True]
    assert answer.choice == "B" and answer.usage["model_calls"] == 2


def test_a_failing_first_call_ends_the_run_as_before(
    speech_video: Path, cache_with_speech_memory: Path
) -> None:
    def down(request: Request) -> Reply:
        return Reply(content="the model crashed", status=500)

    with FakeOpenAIServer(down) as srv:
        agent = _agent(srv, cache_with_speech_memory)
        events = list(agent.stream(speech_video, QUESTION, OPTIONS))
        final = events[-1].answer
        assert final is not None and final.status == "failed" and final.error
        # observe and route ran (in the opening) and are reported before the failure.
        assert [s.node for s in final.steps] == ["observe", "route"]
        with pytest.raises(ModelServerError):
            agent.run(speech_video, QUESTION, OPTIONS)


def test_a_failing_observe_is_raised_by_the_graph_and_nothing_waits(
    speech_video: Path, cache_with_speech_memory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memory import VideoMemory

    def broken(self: VideoMemory, *args: object, **kwargs: object) -> object:
        raise RuntimeError("search failed")

    monkeypatch.setattr(VideoMemory, "search", broken)
    with FakeOpenAIServer(HonestAgentModel()) as srv:
        agent = _agent(srv, cache_with_speech_memory)
        agent.index(speech_video)
        before = len(srv.requests)
        with pytest.raises(RuntimeError, match="search failed"):
            agent.run(speech_video, QUESTION, OPTIONS)
        assert len(srv.requests) == before  # no model call was made


def test_take_hands_each_update_over_once() -> None:
    opening = Opening()
    opening._updates["observe"].set_result({"step": 0})
    assert opening.take("observe") == {"step": 0}
    assert opening.take("observe") is None  # the graph's later runs run the node
    assert opening.take("act") is None  # not an opening node
    opening._updates["route"].cancel()
    assert opening.take("route") is None


def test_merged_folds_updates_as_langgraph_does() -> None:
    first, second = Step("observe"), Step("route")
    state = merged({"question": "q", "options": []}, {"steps": [first], "step": 0})
    state = merged(state, {"steps": [second], "route": "speech", "step": 1})
    assert state == {"question": "q", "options": [], "steps": [first, second],
                     "step": 1, "route": "speech"}  # fmt: skip


def test_tool_schemas_come_from_the_cache_as_langchain_makes_them(tmp_path: Path) -> None:
    tools = toolset.default_tools()
    order = list(tools)
    made = toolset.schemas(tools, order)  # converted, not cached
    cached = toolset.schemas(tools, order, tmp_path)
    assert cached == made
    stored = json.loads((tmp_path / "tool-schemas.json").read_text())
    assert len(stored) == len(tools) + 1  # and `answer`
    toolset._loaded.clear()  # a fresh process: read from the file
    assert toolset.schemas(tools, order, tmp_path) == made
    assert made[-1]["function"]["name"] == "answer"


def test_a_damaged_or_unwritable_schema_cache_is_left_aside(tmp_path: Path) -> None:
    tools = toolset.default_tools()
    (tmp_path / "tool-schemas.json").write_text("{not json")
    toolset._loaded.clear()
    made = toolset.schemas(tools, list(tools), tmp_path)
    assert made == toolset.schemas(tools, list(tools))
    assert json.loads((tmp_path / "tool-schemas.json").read_text())  # rewritten whole
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")  # nothing can be written under it, even by root
    toolset._loaded.clear()
    assert toolset.schemas(tools, list(tools), not_a_folder) == made


def test_schema_entries_not_shaped_like_one_are_made_again(tmp_path: Path) -> None:
    tools = toolset.default_tools()
    made = toolset.schemas(tools, list(tools))
    toolset.schemas(tools, list(tools), tmp_path)
    stored = json.loads((tmp_path / "tool-schemas.json").read_text())
    for damaged in ("x", {"type": "function"}, {"type": "function", "function": {"name": "z"}}):
        (tmp_path / "tool-schemas.json").write_text(json.dumps(dict.fromkeys(stored, damaged)))
        toolset._loaded.clear()
        assert toolset.schemas(tools, list(tools), tmp_path) == made
    assert json.loads((tmp_path / "tool-schemas.json").read_text()) == stored


def test_when_calling_runs_as_the_request_is_sent(fake_server: FakeOpenAIServer) -> None:
    """At the HTTP send (inside the call's traffic count), not before the request is built;
    a client that sends nothing over HTTP runs it as the call ends."""
    from mcr_agent.config import Budget
    from mcr_agent.model.meter import Meter
    from mcr_agent.model.traffic import current
    from tests.scripted_llm import ScriptedLLM

    config = AgentConfig(base_url=fake_server.base_url, model="fake-vlm",
                         max_retries=0, timeout=HANG_GUARD_S)  # fmt: skip
    meter = Meter(OpenAIVideoLLM(config), Budget())
    seen: list[int | None] = []
    meter.when_calling(lambda: seen.append(getattr(current(), "requests", None)))
    meter.complete([{"role": "user", "content": "hello"}])
    meter.complete([{"role": "user", "content": "again"}])
    assert seen == [1]  # once, with the request counted: it was being sent
    scripted = Meter(ScriptedLLM([Completion("ok", 1, 1)]), Budget())
    ended: list[bool] = []
    scripted.when_calling(lambda: ended.append(True))
    scripted.complete([{"role": "user", "content": "hello"}])
    assert ended == [True]
