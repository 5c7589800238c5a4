"""Node tests of the MCR loop with a scripted model (every scripted reply must be used)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from langgraph.runtime import Runtime

from mcr_agent import Agent, AgentConfig
from mcr_agent.config import Budget
from mcr_agent.loop.answer import answer
from mcr_agent.loop.graph import after_reason, after_update, after_verify
from mcr_agent.loop.notes import compress
from mcr_agent.loop.observe import observe
from mcr_agent.loop.reason import reason
from mcr_agent.loop.route import route
from mcr_agent.loop.runtime import Deps
from mcr_agent.loop.spans import spans_in
from mcr_agent.loop.state import AgentState, Belief, Note, Proposal
from mcr_agent.loop.toolset import default_tools
from mcr_agent.loop.update import update
from mcr_agent.loop.verify import verify
from mcr_agent.model.completion import Completion
from mcr_agent.model.meter import Meter
from memory import VideoMemory
from tests.conftest import ocr_memory
from tests.scripted_llm import ScriptedLLM, call
from tools import Evidence, WebResult

OPTIONS = ["A. a blue truck", "B. the red car", "C. a bicycle"]
QUESTION = "What does the speaker say is parked near the bridge?"


class StubWeb:
    def search(self, query: str, *, max_results: int, timeout: float) -> list[WebResult]:
        return [WebResult("Bridges", "https://example.org/bridge", f"About {query}")]


@pytest.fixture(scope="module")
def mem(
    speech_video: Path, ocr_memory_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> VideoMemory:
    return ocr_memory(ocr_memory_cache, speech_video, tmp_path_factory.mktemp("agent-nodes"))


def deps_for(mem: VideoMemory, llm: ScriptedLLM, **budget: Any) -> Deps:
    config = AgentConfig(
        base_url="http://127.0.0.1:9/v1", model="scripted", budget=Budget(**budget)
    )
    return Deps(
        config=config,
        meter=Meter(llm, config.budget),
        load_memory=lambda: mem,
        tools=default_tools(),
        web=StubWeb(),
    )


def run_node(node: Any, state: AgentState, deps: Deps) -> AgentState:
    """Apply a node's update the way the graph does (steps accumulate)."""
    out = node(state, Runtime(context=deps))
    merged: dict[str, Any] = {**state, **out}
    merged["steps"] = [*state.get("steps", []), *out.get("steps", [])]
    return merged  # type: ignore[return-value]


def seeded(mem: VideoMemory, llm: ScriptedLLM, **budget: Any) -> tuple[AgentState, Deps]:
    deps = deps_for(mem, llm, **budget)
    state: AgentState = {"question": QUESTION, "options": OPTIONS}
    state = run_node(observe, state, deps)
    return run_node(route, state, deps), deps


def test_observe_seeds_context_with_timed_memory(mem: VideoMemory) -> None:
    state, _ = seeded(mem, ScriptedLLM([]))
    text = "\n".join(n.text for n in state["context"])
    assert '<data source="memory">' in text
    assert "[9." in text and "red car" in text  # the transcript line, with its time
    assert state["belief"].candidates and state["steps"][0].node == "observe"


def test_route_shapes_tools_and_prefetch(mem: VideoMemory) -> None:
    state, _ = seeded(mem, ScriptedLLM([]))
    assert state["route"] == "speech"
    assert state["tool_order"][0] == "asr"
    assert any("Speech around" in n.text for n in state["context"])
    assert state["visual_evidence"]
    assert all(0 <= f.time <= mem.duration for f in state["visual_evidence"])


def test_reason_sends_frames_tools_and_context_then_acts(mem: VideoMemory) -> None:
    llm = ScriptedLLM([call("asr", "Hypothesis: car\nUncertain: where", start=8, end=16)])
    state, deps = seeded(mem, llm)
    state = run_node(reason, state, deps)
    assert after_reason(state) == "act"
    assert state["belief"].hypothesis == "car" and state["belief"].uncertainty == "where"
    messages, tools = llm.sent[0]
    names = [t["function"]["name"] for t in tools or []]
    assert names[0] == "asr" and names[-1] == "answer" and "inspect" in names
    parts = messages[1]["content"]
    images = [i for i, p in enumerate(parts) if p["type"] == "image_url"]
    assert images and all(parts[i - 1]["text"].startswith("Frame at [") for i in images)
    assert "Question: " + QUESTION in llm.texts(0) and "B. the red car" in llm.texts(0)
    llm.assert_consumed()


def test_malformed_call_is_repaired_by_feedback(mem: VideoMemory) -> None:
    bad = Completion("", 5, 5, (), ("tool call 1: not valid JSON (Expecting value at 3)",))
    llm = ScriptedLLM([bad, call("memory_search", query="red car")])
    state, deps = seeded(mem, llm)
    state = run_node(reason, state, deps)
    assert after_reason(state) == "update" and state["repairs"] == 1
    state = run_node(update, state, deps)
    assert after_update(state) == "reason"
    state = run_node(reason, state, deps)
    assert "Problems with your last reply" in llm.texts(1) and "not valid JSON" in llm.texts(1)
    assert state["repairs"] == 0 and state["pending"][0].name == "memory_search"
    llm.assert_consumed()


def test_a_letter_outside_the_options_is_sent_back(mem: VideoMemory) -> None:
    llm = ScriptedLLM([call("answer", answer="the red car", choice="E")])
    state, deps = seeded(mem, llm)
    state = run_node(reason, state, deps)
    assert state["proposal"] is None and "'E' is not one of the options" in state["problems"][0]


def test_act_runs_tools_and_update_folds_feedback(mem: VideoMemory) -> None:
    llm = ScriptedLLM([call("memory_search", query="red car", levels=["asr"])])
    state, deps = seeded(mem, llm)
    state = run_node(reason, state, deps)
    from mcr_agent.loop.act import act

    state = run_node(act, state, deps)
    step = state["steps"][-1]
    assert step.node == "act" and step.tool == "memory_search" and "red car" in step.feedback
    state = run_node(update, state, deps)
    assert any(n.tool == "memory_search" for n in state["context"])
    assert any(a <= 9.5 and b >= 11 for a, b in state["belief"].candidates)


def test_invalid_arguments_become_an_error_note(mem: VideoMemory) -> None:
    llm = ScriptedLLM([call("asr", start="soon")])
    state, deps = seeded(mem, llm)
    state = run_node(reason, state, deps)
    from mcr_agent.loop.act import act

    state = run_node(act, state, deps)
    feedback = state["feedback"][-1]
    assert feedback.kind == "error" and "invalid arguments" in feedback.text


def test_compression_keeps_what_the_hypothesis_cites() -> None:
    cited = Note("observation", 1, "x" * 4000, (Evidence(9, 15, "inspect", "red car"),), "inspect")
    others = [Note("observation", i, "y" * 4000, (Evidence(0, 2, "ocr", "t"),)) for i in range(4)]
    out = compress([cited, *others], 1500, protect=[(10.0, 12.0)])
    assert out[0] == cited  # untouched although oldest
    assert len(out) < 5 or all(n.compressed for n in out[1:-1])
    assert sum(len(n.text) for n in out) // 4 <= 1500 + 1000  # protected + newest may exceed


def test_verify_supported_answers(mem: VideoMemory) -> None:
    verdict = {"supported": True, "confidence": 0.9, "reason": "said at 9 s", "evidence": [[9, 12]]}
    llm = ScriptedLLM([Completion(json.dumps(verdict))])
    state, deps = seeded(mem, llm)
    state["proposal"] = Proposal("the red car", "B", ((9.0, 12.0),), 0.8)
    state = run_node(verify, state, deps)
    assert after_verify(state) == "answer" and state["verdict"].evidence == ((9.0, 12.0),)
    state = run_node(answer, state, deps)
    final = state["final"]
    assert final.choice == "B" and final.confidence >= 0.9
    assert any(e.start < 12 and e.end > 9 and "red car" in e.text for e in final.evidence)
    frames = [p for p in llm.sent[0][0][0]["content"] if p["type"] == "image_url"]
    assert frames  # the cited window's frames were shown to the verifier


def test_verify_unsupported_reperceives_the_uncertain_window(mem: VideoMemory) -> None:
    verdict = {"supported": False, "reason": "not shown", "uncertain_window": [15, 20]}
    llm = ScriptedLLM([Completion(json.dumps(verdict)), Completion("The frames show HELLO WORLD.")])
    state, deps = seeded(mem, llm)
    state["step"] = 1
    state["proposal"] = Proposal("a bicycle", "C", ((0.0, 5.0),), 0.6)
    state = run_node(verify, state, deps)
    assert after_verify(state) == "act"  # the re-perception is a tool call, run by act
    assert "did not support" in state["problems"][0]
    assert state["belief"].candidates[0] == (15.0, 20.0)
    from mcr_agent.loop.act import act

    state = run_node(act, state, deps)
    inspected = [s for s in state["steps"] if s.tool == "inspect"]
    assert inspected and inspected[0].args["start"] == 15 and inspected[0].args["end"] == 20
    assert inspected[0].node == "act" and not state["pending"]
    assert [n.kind for n in state["feedback"]][-2:] == ["verification", "observation"]
    llm.assert_consumed()


def test_answer_without_a_proposal_is_a_labelled_guess(mem: VideoMemory) -> None:
    state, deps = seeded(mem, ScriptedLLM([]))
    state["belief"] = Belief("it is the red car", "", ((9.0, 15.0),))
    state["exhausted"] = "step budget (6) spent"
    state = run_node(answer, state, deps)
    final = state["final"]
    assert final.choice == "B" and final.confidence <= 1 / 3 and final.status == "fallback"
    assert final.answer.startswith("No answer from the model; best guess from its last hypothesis")
    assert (
        final.error == "the model scripted gave no answer within the budget (step budget (6) spent)"
    )


def test_a_guess_needs_evidence_that_favours_one_option(mem: VideoMemory) -> None:
    state, deps = seeded(mem, ScriptedLLM([]))
    state["options"] = ["A. a purple elephant", "B. a green giraffe"]  # in no evidence
    state = run_node(answer, state, deps)
    final = state["final"]
    assert (final.status, final.choice, final.confidence) == ("fallback", None, 0.0)
    assert final.evidence == () and "favours no option" in final.answer


def test_a_withdrawn_proposal_is_still_the_models_answer(mem: VideoMemory) -> None:
    """Verification rejected the model's answer and the budget ended before another: the
    model's letter is its answer, with low confidence, not a guess of ours."""
    verdict = {"supported": False, "reason": "not shown", "uncertain_window": [15, 20]}
    llm = ScriptedLLM([Completion(json.dumps(verdict)), Completion("The frames show HELLO WORLD.")])
    state, deps = seeded(mem, llm)
    state["step"] = 1
    state["proposal"] = Proposal("a bicycle", "C", ((0.0, 5.0),), 0.6)
    state = run_node(verify, state, deps)
    assert state["proposal"] is None
    state = run_node(answer, state, deps)
    final = state["final"]
    assert (final.status, final.choice, final.answer) == ("answered", "C", "a bicycle")
    assert final.confidence <= 0.3 and final.error is None


def test_the_agent_grounds_an_answer_the_model_cited_nothing_for(mem: VideoMemory) -> None:
    """The question's top hits (scenes 0 and 3) are not what the answer rests on: the agent
    cites the transcript line that says "red car", never an entry matching another option."""
    state, deps = seeded(mem, ScriptedLLM([]))
    state["options"] = ["A. hello world", "B. the red car", "C. the first scene"]
    state["belief"] = Belief("", "", ((0.0, 5.0), (15.0, 20.0)))
    state["proposal"] = Proposal("the red car", "B", (), 0.8)
    state = run_node(answer, state, deps)
    final = state["final"]
    assert final.status == "answered" and final.choice == "B" and final.evidence
    assert all(e.cited_by == "agent" for e in final.evidence)
    assert all(e.end >= 9.0 and e.start <= 15.0 for e in final.evidence)
    assert any("red car" in e.text.lower() for e in final.evidence)
    assert not any("hello" in e.text.lower() for e in final.evidence)


def test_evidence_the_model_cites_says_so(mem: VideoMemory) -> None:
    state, deps = seeded(mem, ScriptedLLM([]))
    state["proposal"] = Proposal("the red car", "B", ((9.0, 15.0),), 0.8)
    state = run_node(answer, state, deps)
    evidence = state["final"].evidence
    assert evidence and all(e.cited_by == "model" for e in evidence)
    assert evidence[0].to_dict()["cited_by"] == "model"


def test_a_model_that_never_answers_is_stopped_by_the_budget(
    speech_video: Path, cache_with_speech_memory: Path
) -> None:
    replies = [call("memory_search", query=f"car {i}") for i in range(3)]
    llm = ScriptedLLM(list(replies))
    config = AgentConfig(base_url="http://127.0.0.1:9/v1", cache_dir=cache_with_speech_memory,
                         budget=Budget(max_steps=3))  # fmt: skip
    result = Agent(config, llm=llm, web=StubWeb()).run(speech_video, QUESTION, OPTIONS)
    llm.assert_consumed()
    nodes = [s.node for s in result.steps]
    assert nodes.count("reason") == 3 and nodes[-1] == "answer"
    assert result.usage["model_calls"] == 3
    assert "step budget (3) spent" in result.steps[-2].summary
    # The model never answered: the letter is a guess from the evidence, and says so.
    assert result.status == "fallback" and result.choice == "B" and result.confidence <= 1 / 3
    assert result.error is not None and "step budget (3) spent" in result.error


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("seen at 12 s and [3.0-4.5 s]", [(12.0, 12.0), (3.0, 4.5)]),
        ("from 9 to 15 s", [(9.0, 15.0)]),
        ("[7.5s]", [(7.5, 7.5)]),
        ("nothing here", []),
    ],
)
def test_spans_in_prose(text: str, spans: list[tuple[float, float]]) -> None:
    assert spans_in(text) == spans


def test_no_tool_takes_a_file_or_url_argument() -> None:
    """Tools read only the video and its memory: none can be pointed at another file."""
    for name, tool in default_tools().items():
        fields = tool.args.model_json_schema()["properties"]
        assert not [f for f in fields if re.search(r"path|file|url|dir", f)], name
