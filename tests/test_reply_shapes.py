"""Every reply shape real servers send, read from a full `mcr-agent ask --json` run against the
fake OpenAI-compatible server: the model's letter comes back as the model's answer; a server
fault ends in one line; a model that says nothing usable ends in a labelled fallback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mcr_agent import AgentConfig, ModelReplyError
from mcr_agent.front.cli import main
from mcr_agent.loop.reason import written_answer
from mcr_agent.model.client import OpenAIVideoLLM
from tests.conftest import honest_responder
from tests.fake_openai import FakeOpenAIServer, Reply, Request

QUESTION = "What does the speaker say is parked?"
OPTIONS = ["A. a blue truck", "B. the red car", "C. a bicycle", "D. a horse"]
ANSWER = {"answer": "the red car", "choice": "B", "evidence": [{"start": 9, "end": 15}],
          "confidence": 0.9}  # fmt: skip
PY_ANSWER = "{'answer': 'the red car', 'choice': 'B', 'evidence': [], 'confidence': None}"
HERMES = f'<tool_call>{{"name": "answer", "arguments": {json.dumps(ANSWER)}}}</tool_call>'
SUPPORTED = json.dumps({"supported": True, "confidence": 0.9, "reason": "said at 10 s"})

Shape = Callable[[], "str | Reply"]

# Replies to the reasoning request (tools offered) that all state the letter B.
ANSWERED: dict[str, Shape] = {
    "reasoning_content": lambda: Reply(
        None, message={"reasoning_content": "The speaker says the red car. The answer is B."}
    ),
    "reasoning-field-with-call": lambda: Reply(None, message={"reasoning": f"Found it.\n{HERMES}"}),
    "think-never-closed": lambda: "<think>The speaker mentions the red car, so the answer is B",
    "only-think-block-letter": lambda: "<think>The red car is parked: B</think>",
    "only-think-block-call": lambda: f"<think>I am sure now.\n{HERMES}</think>",
    "native-python-literal": lambda: Reply("", tool_calls=[{"name": "answer",
                                                            "arguments": PY_ANSWER}]),
    "hermes-python-literal": lambda: f"<tool_call>{{'name': 'answer', 'arguments': {PY_ANSWER}}}"
    "</tool_call>",
    "native-choice-full-width": lambda: Reply("", tool_calls=[{"name": "answer", "arguments": {
        "answer": "the red car", "choice": "\uff22"}}]),
    "答案是B。": lambda: "答案是B。",
    "full-width 答案\uff1a\uff22": lambda: "答案\uff1a\uff22",
    "选项B": lambda: "选项B",
    "(B)": lambda: "(B)",
    "**B**": lambda: "**B**",
    "B) the red car": lambda: "B) the red car",
    "The correct option is (B).": lambda: "The correct option is (B).",
    "Die Antwort ist B.": lambda: "Die richtige Antwort ist B.",
}  # fmt: skip
FAULTS = {
    "empty-choices": '{"id": "x", "object": "chat.completion", "created": 0, "model": "m", '
    '"choices": []}',
    "null-message": '{"id": "x", "object": "chat.completion", "created": 0, "model": "m", '
    '"choices": [{"index": 0, "message": null, "finish_reason": "stop"}]}',
    "no-finish-reason": '{"id": "x", "object": "chat.completion", "created": 0, "model": "m", '
    '"choices": [{"index": 0, "message": {"role": "assistant", "content": "B"}}]}',
}


def responder(shape: Shape) -> Callable[[Request], str | Reply]:
    """`shape` answers the question (agent and direct mode); verification agrees; captions
    and summaries are honest."""

    def respond(request: Request) -> str | Reply:
        text = request.texts
        if "Proposed answer:" in text:
            return SUPPORTED
        if request.body.get("tools") or "<tools>" in text or "The best answer is:" in text:
            return shape()
        return honest_responder(request)

    return respond


@pytest.fixture
def indexed(monkeypatch: pytest.MonkeyPatch, cache_with_speech_memory: Path) -> Iterator[None]:
    monkeypatch.setenv("MCR_CACHE_DIR", str(cache_with_speech_memory))
    yield


def ask(srv: FakeOpenAIServer, video: Path, *args: str) -> tuple[int, str, str]:
    options = [x for o in OPTIONS for x in ("--option", o)]
    result = CliRunner().invoke(
        main, ["ask", str(video), QUESTION, *options, "--json", "--base-url", srv.base_url, *args]
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", list(ANSWERED))
def test_each_reply_shape_is_the_models_answer(
    name: str, indexed: None, speech_video: Path
) -> None:
    with FakeOpenAIServer(responder(ANSWERED[name])) as srv:
        code, out, err = ask(srv, speech_video, "--max-steps", "3")
    assert code == 0, err
    data = json.loads(out)
    assert (data["status"], data["choice"], data["error"]) == ("answered", "B", None), data
    assert data["usage"]["model_calls"] <= 3


@pytest.mark.parametrize(
    "name",
    ["reasoning_content", "think-never-closed", "full-width 答案\uff1a\uff22", "选项B", "**B**"],
)
def test_each_reply_shape_in_the_single_pass_mode(
    name: str, indexed: None, speech_video: Path
) -> None:
    with FakeOpenAIServer(responder(ANSWERED[name])) as srv:
        code, out, err = ask(srv, speech_video, "--mode", "direct")
    assert code == 0, err
    data = json.loads(out)
    assert (data["status"], data["choice"]) == ("answered", "B")


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_malformed_reply_is_a_server_fault(name: str, indexed: None, speech_video: Path) -> None:
    body = FAULTS[name]
    with FakeOpenAIServer(responder(lambda: Reply(body=body))) as srv:
        code, out, err = ask(srv, speech_video)
        reasoning = [r for r in srv.requests if r.body.get("tools")]
        url = srv.base_url
    lines = err.strip().splitlines()  # with --json the steps went to stderr before it
    assert code == 1 and lines[-1].startswith("error:") and err.count("error:") == 1, err
    assert url in err and "not chat completions" in err and "fake-vlm" in err
    assert len(reasoning) == 4  # retried like a 5xx: 1 + 3 retries
    data = json.loads(out)  # --json still prints the object, as failed
    assert (data["status"], data["choice"], data["answer"]) == ("failed", None, "")
    assert data["error"] in " ".join(err.split())


def test_a_model_that_only_replies_noise_ends_in_a_fallback(
    indexed: None, speech_video: Path
) -> None:
    noise = "Lorem ipsum dolor sit amet, consectetur adipiscing elit."
    with FakeOpenAIServer(responder(lambda: noise)) as srv:
        code, out, err = ask(srv, speech_video, "--max-steps", "3")
        text = CliRunner().invoke(main, ["ask", str(speech_video), QUESTION, "--option",
                                         OPTIONS[0], "--option", OPTIONS[1], "--base-url",
                                         srv.base_url, "--max-steps", "2"]).stdout  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["status"] == "fallback" and data["confidence"] <= 1 / len(OPTIONS)
    assert "fake-vlm" in data["error"] and "no reply was usable" in data["error"]
    assert data["answer"].startswith("No answer from the model")
    assert "no answer from the model; best guess" in text.lower() and "why:" in text


def test_a_model_that_never_answers_is_a_fallback_not_its_answer(
    indexed: None, speech_video: Path
) -> None:
    """Tool calls only: the budget ends without an answer; the letter is a guess from the
    evidence, the red car in the transcript, never presented as the model's."""
    call = Reply("", tool_calls=[{"name": "memory_search", "arguments": {"query": "parked"}}])
    with FakeOpenAIServer(responder(lambda: call)) as srv:
        code, out, err = ask(srv, speech_video, "--max-steps", "2")
    assert code == 0, err
    data = json.loads(out)
    assert (data["status"], data["choice"]) == ("fallback", "B")
    assert data["confidence"] <= 0.25 and "within the budget" in data["error"]
    assert data["evidence"] and all(e["cited_by"] == "agent" for e in data["evidence"])
    assert any("red car" in e["text"] for e in data["evidence"])


@pytest.mark.parametrize(
    "reply",
    [
        Reply("<think>Option A is a truck, option B is", finish_reason="length"),
        Reply(None, finish_reason="length", message={"reasoning_content": "Option A is a"}),
    ],
    ids=["think-never-closed", "reasoning_content"],
)
def test_thinking_cut_off_by_max_tokens_is_no_answer(reply: Reply) -> None:
    """Only a finished reply's thinking is its answer: a thought cut off mid-way names
    options it has not chosen."""
    with FakeOpenAIServer(lambda r: reply) as srv:
        llm = OpenAIVideoLLM(AgentConfig(base_url=srv.base_url, model="fake-vlm", max_retries=0))
        with pytest.raises(ModelReplyError, match="cut off while thinking"):
            llm.complete([{"role": "user", "content": "Which option?"}])
        finished = Reply("<think>Option A is a truck, option B is the red car: B</think>")
        srv.responder = lambda r: finished
        assert llm.complete([{"role": "user", "content": "Which option?"}]).text.endswith(": B")


@pytest.mark.parametrize(
    ("arguments", "written"),
    [
        ({"choice": "B", "answer": "the red car"}, "B. the red car"),
        ({"choice": "(B)", "answer": "the red car"}, "(B) the red car"),
        ({"choice": "B", "answer": "B. the red car"}, "B. the red car"),
        ({"choice": "B", "answer": "Because the speaker says so."},
         "B. Because the speaker says so."),
        ({"choice": "b", "answer": ""}, "b"),
        ({"answer": "the red car"}, "the red car"),
        ({"choice": 2, "answer": "the red car"}, "2. the red car"),
        ({"choice": None, "answer": None}, ""),
        ({}, ""),
    ],
)  # fmt: skip
def test_an_answer_call_as_the_model_wrote_it(arguments: dict[str, object], written: str) -> None:
    """The reply the official scorer gets: the model's choice as written, then its answer."""
    assert written_answer(arguments) == written
