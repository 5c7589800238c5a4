"""The server's reply handling: Hermes tool calls, think blocks, stop strings, batching
and running out of memory, with the real HTTP layer and openai client over a model whose
text is scripted from its prompt (the random tiny model never writes a tool call)."""

from __future__ import annotations

import concurrent.futures as cf
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from mcr_agent.serve.app import create_app, split_reply
from tests.fake_openai import HANG_GUARD_S, wait_for
from tests.serve_helpers import png_url, scripted_engine, serve_app, until_cancelled

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "inspect",
            "description": "Look again at a window of the video.",
            "parameters": {
                "type": "object",
                "properties": {"start": {"type": "number"}, "end": {"type": "number"}},
            },
        },
    }
]

# Real shapes of Qwen3 / InternVideo3 output (Hermes format).
TABLE: list[tuple[str, str, list[tuple[str, dict[str, Any]]], str | None, str | None]] = [
    (
        "one call",
        '<tool_call>\n{"name": "inspect", "arguments": {"start": 12, "end": 18}}\n</tool_call>',
        [("inspect", {"start": 12, "end": 18})],
        None,
        None,
    ),
    (
        "prose then two calls",
        "I need to look twice.\n<tool_call>\n"
        '{"name": "inspect", "arguments": {"start": 0, "end": 5}}\n</tool_call>\n'
        '<tool_call>\n{"name": "ocr", "arguments": {"start": 5, "end": 9}}\n</tool_call>',
        [("inspect", {"start": 0, "end": 5}), ("ocr", {"start": 5, "end": 9})],
        "I need to look twice.",
        None,
    ),
    (
        "arguments as a JSON string",
        '<tool_call>{"name": "inspect", "arguments": "{\\"start\\": 3}"}</tool_call>',
        [("inspect", {"start": 3})],
        None,
        None,
    ),
    (
        "unclosed block at the end of the budget",
        '<tool_call>\n{"name": "inspect", "arguments": {"start": 1, "end": 2}}',
        [("inspect", {"start": 1, "end": 2})],
        None,
        None,
    ),
    (
        "malformed JSON stays as text",
        '<tool_call>\n{"name": "inspect", "arguments": {"start": 1,, }}\n</tool_call>',
        [],
        '<tool_call>\n{"name": "inspect", "arguments": {"start": 1,, }}\n</tool_call>',
        None,
    ),
    (
        "one good and one malformed call: all stays as text",
        '<tool_call>{"name": "inspect", "arguments": {}}</tool_call>'
        "<tool_call>{name: inspect}</tool_call>",
        [],
        '<tool_call>{"name": "inspect", "arguments": {}}</tool_call>'
        "<tool_call>{name: inspect}</tool_call>",
        None,
    ),
    (
        "a call inside a think block is not a call",
        '<think>maybe <tool_call>{"name": "inspect", "arguments": {}}</tool_call>? no.</think>'
        "The answer is B.",
        [],
        "The answer is B.",
        'maybe <tool_call>{"name": "inspect", "arguments": {}}</tool_call>? no.',
    ),
    (
        "think, then a call",
        "<think>The door is unclear.</think>\n"
        '<tool_call>{"name": "inspect", "arguments": {"start": 40, "end": 44}}</tool_call>',
        [("inspect", {"start": 40, "end": 44})],
        None,
        "The door is unclear.",
    ),
    ("plain answer", "B. The red car.", [], "B. The red car.", None),
]


@pytest.mark.parametrize(
    ("text", "calls", "content", "reasoning"), [t[1:] for t in TABLE], ids=[t[0] for t in TABLE]
)
def test_hermes_tool_calls(
    text: str, calls: list[tuple[str, dict[str, Any]]], content: str | None, reasoning: str | None
) -> None:
    reply = split_reply(text, tools=True)
    got = [
        (c["function"]["name"], json.loads(c["function"]["arguments"])) for c in reply.tool_calls
    ]
    assert got == calls
    assert reply.content == content
    assert reply.reasoning == reasoning
    assert all(c["id"].startswith("call_") for c in reply.tool_calls)


def test_without_tools_a_call_is_just_text() -> None:
    text = '<tool_call>{"name": "inspect", "arguments": {}}</tool_call>'
    assert split_reply(text, tools=False) == split_reply(text, tools=False)
    assert split_reply(text, tools=False).content == text


def test_template_opened_think_block() -> None:
    reply = split_reply("the car is red</think>\nB", tools=False, opens_think=True)
    assert (reply.reasoning, reply.content) == ("the car is red", "B")


Script = Callable[[str], str]


@pytest.fixture
def served(tiny_vlm: Path) -> Iterator[Callable[..., tuple[openai.OpenAI, Any]]]:
    stack: list[Any] = []

    def start(reply: Script, **kwargs: Any) -> tuple[openai.OpenAI, Any]:
        engine = scripted_engine(tiny_vlm, reply, **kwargs)
        server = serve_app(create_app(engine))
        url = server.__enter__()
        stack.append((server, engine))
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=HANG_GUARD_S)
        return client, engine

    yield start
    for server, engine in stack:
        server.__exit__(None, None, None)
        engine.close()


def last_user(prompt: str) -> str:
    return prompt.rpartition("<|im_start|>user\n")[2].partition("<|im_end|>")[0]


def chat(client: openai.OpenAI, text: str, **kwargs: Any) -> Any:
    return client.chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": text}], **kwargs
    )


def test_tool_calls_come_back_as_openai_tool_calls(served: Any) -> None:
    call = '<tool_call>\n{"name": "inspect", "arguments": {"start": 12, "end": 18}}\n</tool_call>'
    client, _ = served(lambda prompt: "Let me look." + call if "# Tools" in prompt else "no tools")
    reply = chat(client, "when?", tools=TOOLS)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me look."
    (got,) = choice.message.tool_calls
    assert got.function.name == "inspect"
    assert json.loads(got.function.arguments) == {"start": 12, "end": 18}
    # tool_choice "none" leaves the tools out of the prompt
    assert (
        chat(client, "when?", tools=TOOLS, tool_choice="none").choices[0].message.content
        == "no tools"
    )


def test_tool_calls_stream_whole_after_the_prose(served: Any) -> None:
    call = '<tool_call>{"name": "inspect", "arguments": {"start": 1, "end": 2}}</tool_call>'
    client, _ = served(lambda prompt: "Checking the door." + call)
    chunks = list(chat(client, "x", tools=TOOLS, stream=True))
    prose = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert prose == "Checking the door."
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert [(tc.index, tc.function.name) for tc in calls] == [(0, "inspect")]
    assert json.loads(calls[0].function.arguments) == {"start": 1, "end": 2}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 5


def test_malformed_call_streams_as_text(served: Any) -> None:
    bad = "Look: <tool_call>{oops}</tool_call>"
    client, _ = served(lambda prompt: bad)
    chunks = list(chat(client, "x", tools=TOOLS, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == bad
    assert chat(client, "x", tools=TOOLS).choices[0].message.content == bad


def test_think_block_is_reasoning(served: Any) -> None:
    client, _ = served(lambda prompt: "<think>The sign says EXIT.</think>\nC")
    message = chat(client, "x").choices[0].message
    assert message.content == "C"
    assert message.model_extra["reasoning_content"] == "The sign says EXIT."
    chunks = list(chat(client, "x", stream=True))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert "".join(d.content or "" for d in deltas) == "C"
    assert "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas) == (
        "The sign says EXIT."
    )


def test_stop_strings_and_max_tokens(served: Any) -> None:
    client, _ = served(lambda prompt: "The answer is B. Because the car is red.")
    stopped = chat(client, "x", stop=[". Because"])
    assert stopped.choices[0].message.content == "The answer is B"
    assert stopped.choices[0].finish_reason == "stop"
    streamed = list(chat(client, "x", stop=". Because", stream=True))
    assert (
        "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
        == "The answer is B"
    )
    short = chat(client, "x", max_tokens=3)
    assert short.choices[0].finish_reason == "length" and short.usage.completion_tokens == 3


def queued_behind_the_first(
    pool: cf.ThreadPoolExecutor,
    engine: Any,
    gate: threading.Event,
    ask: Callable[[int], Any],
    n: int,
) -> list[cf.Future[Any]]:
    """Request 0 alone on the model, held by `gate` (its reply waits on it) until requests 1
    to n-1 are all queued behind it; then the gate opens."""
    futures = [pool.submit(ask, 0)]
    try:
        assert wait_for(lambda: engine.stats()["running"] == 1), "the first request never ran"
        futures += [pool.submit(ask, i) for i in range(1, n)]
        assert wait_for(lambda: engine.stats()["queued"] == n - 1), "the others never queued"
    finally:
        gate.set()
    return futures


def test_rows_of_a_batch_keep_their_own_replies(served: Any) -> None:
    gate = threading.Event()

    def reply(prompt: str) -> str:
        gate.wait(HANG_GUARD_S)  # hold the first batch so the others queue up behind it
        return f"echo {last_user(prompt)}" * (1 + len(last_user(prompt)) % 3)

    client, engine = served(reply, max_batch=16)
    with cf.ThreadPoolExecutor(16) as pool:
        asks = queued_behind_the_first(
            pool, engine, gate, lambda i: chat(client, f"q{i}", max_tokens=64), 16
        )
        replies = [f.result() for f in asks]
    for i, r in enumerate(replies):
        assert r.choices[0].message.content == f"echo q{i}" * (1 + len(f"q{i}") % 3)
    assert engine.largest_batch > 1 and engine.served == 16


def test_images_batch_with_text(served: Any) -> None:
    client, _ = served(lambda prompt: str(prompt.count("<|image_pad|>")))
    image = {"type": "image_url", "image_url": {"url": png_url(64, 64)}}
    with cf.ThreadPoolExecutor(4) as pool:
        asks = [
            pool.submit(chat, client, "text only"),
            pool.submit(
                client.chat.completions.create,
                model="scripted",
                messages=[
                    {"role": "user", "content": [image, image, {"type": "text", "text": "?"}]}
                ],
            ),
        ]
        text_only, two_images = (f.result() for f in asks)
    assert text_only.choices[0].message.content == "0"
    assert two_images.choices[0].message.content == "8"


def test_out_of_memory_batch_splits_and_single_request_gets_400(served: Any) -> None:
    import torch

    def fail(rows: int) -> None:
        if rows > 1 or limit_single[0]:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    limit_single = [False]
    gate = threading.Event()

    def reply(prompt: str) -> str:
        gate.wait(HANG_GUARD_S)
        return "ok " + last_user(prompt)

    client, engine = served(reply, fail=fail)
    with cf.ThreadPoolExecutor(6) as pool:
        futures = queued_behind_the_first(pool, engine, gate, lambda i: chat(client, f"r{i}"), 6)
        assert sorted(f.result().choices[0].message.content for f in futures) == sorted(
            f"ok r{i}" for i in range(6)
        )
    assert engine.largest_batch > 1  # a batch did run out of memory, then ran row by row
    limit_single[0] = True
    with pytest.raises(openai.BadRequestError, match="--max-pixels"):
        chat(client, "too big")
    limit_single[0] = False
    assert chat(client, "after").choices[0].message.content == "ok after"


def test_generation_error_is_a_500_and_the_server_goes_on(served: Any) -> None:
    broken = [True]

    def reply(prompt: str) -> str:
        if broken[0]:
            raise ValueError("shape mismatch in the vision tower")
        return "fine"

    client, _ = served(reply)
    with pytest.raises(openai.InternalServerError, match="shape mismatch"):
        chat(client, "x")
    broken[0] = False
    assert chat(client, "x").choices[0].message.content == "fine"


def test_tool_round_trip_renders_the_call_and_its_result(served: Any) -> None:
    def reply(prompt: str) -> str:
        seen = '"name": "inspect"' in prompt and "<tool_response>\nred car at 0:12" in prompt
        return "B" if seen else "missing"

    client, _ = served(reply)
    call = {"id": "call_1", "type": "function",
            "function": {"name": "inspect", "arguments": '{"start": 10, "end": 14}'}}  # fmt: skip
    messages = [
        {"role": "user", "content": "what is parked?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "red car at 0:12"},
    ]
    got = client.chat.completions.create(model="scripted", messages=messages, tools=TOOLS)
    assert got.choices[0].message.content == "B"


def test_a_client_that_leaves_stops_its_row(served: Any) -> None:
    import httpx

    def pace(rows: int, step: int) -> None:
        if step == 20 and engine.served == 1:  # the first reply waits until its client left
            until_cancelled(engine)

    client, engine = served(lambda prompt: "word " * 400, pace=pace)
    url = str(client.base_url).rstrip("/") + "/chat/completions"
    body = {"messages": [{"role": "user", "content": "x"}], "stream": True, "max_tokens": 500}
    with httpx.stream("POST", url, json=body, timeout=HANG_GUARD_S) as response:
        for line in response.iter_lines():
            chunk = json.loads(line[6:]) if line.startswith("data: {") else None
            if chunk and chunk["choices"][0]["delta"].get("content"):
                break  # words are streaming: the client leaves
    assert wait_for(lambda: engine.stats()["running"] == 0), "the row never ended"
    steps = engine.model.steps
    assert steps < 300, f"the row ran on after its client left ({steps} steps)"
    assert chat(client, "after").choices[0].message.content.startswith("word")


def test_streamed_characters_made_of_several_tokens(served: Any) -> None:
    text = "Café ☕ 你好 — done. The end."
    client, _ = served(lambda prompt: text)
    chunks = list(chat(client, "x", stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert chat(client, "x").choices[0].message.content == text


def test_a_short_reply_does_not_wait_for_its_batch(served: Any) -> None:
    """Short and long share a batch; the long row is then held until the short reply has
    reached its client, which proves the short one did not wait for the batch to end."""
    gate, release_long = threading.Event(), threading.Event()

    def reply(prompt: str) -> str:
        gate.wait(HANG_GUARD_S)
        return "B" if "short" in prompt else "word " * 300

    def pace(rows: int, step: int) -> None:
        if rows == 2 and step == 10:  # the short row ended at step 1
            release_long.wait(HANG_GUARD_S)

    client, engine = served(reply, pace=pace, max_batch=4)
    prompts = ("first", "short", "long")
    with cf.ThreadPoolExecutor(3) as pool:
        first, short_future, long_future = queued_behind_the_first(
            pool, engine, gate, lambda i: chat(client, prompts[i], max_tokens=400), 3
        )
        try:
            short = short_future.result()
            assert not long_future.done()  # the long row of its batch is still on the model
        finally:
            release_long.set()
        long_future.result()
        first.result()
    assert short.choices[0].message.content == "B"
    assert engine.largest_batch >= 2


def test_a_plain_client_that_leaves_stops_its_row(served: Any) -> None:
    """The reply is held until the request is cancelled, so only the client's read timeout
    can end the request."""
    import httpx

    def pace(rows: int, step: int) -> None:
        if step == 20:  # the reply waits until its client has left
            until_cancelled(engine)

    client, engine = served(lambda prompt: "word " * 400, pace=pace)
    url = str(client.base_url).rstrip("/") + "/chat/completions"
    body = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 500}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, json=body, timeout=httpx.Timeout(HANG_GUARD_S, read=0.4))
    assert wait_for(lambda: engine.stats()["served"] == 1 and engine.stats()["running"] == 0)
    assert engine.model.steps < 350, f"the row ran on after its client left ({engine.model.steps})"


MALFORMED = {
    "role-list": {"messages": [{"role": ["user"], "content": "hi"}]},
    "part-type-list": {"messages": [{"role": "user", "content": [{"type": ["text"]}]}]},
    "tool-calls-int": {"messages": [{"role": "assistant", "content": "", "tool_calls": 5}]},
    "call-without-name": {"messages": [{"role": "assistant", "tool_calls": [{"id": "1"}]}]},
    "huge-seed": {"messages": [{"role": "user", "content": "x"}], "seed": 10**30},
    "tool-choice-required": {"messages": [{"role": "user", "content": "x"}], "tools": TOOLS,
                             "tool_choice": "required"},
    "no-messages": {"messages": []},
    "not-json": None,
}  # fmt: skip


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED)
def test_malformed_requests_get_openai_400s(served: Any, body: dict[str, Any] | None) -> None:
    import httpx

    client, _ = served(lambda prompt: "ok")
    url = str(client.base_url).rstrip("/") + "/chat/completions"
    if body is None:
        response = httpx.post(
            url,
            content=b"{not json",
            headers={"content-type": "application/json"},
            timeout=HANG_GUARD_S,
        )
    else:
        response = httpx.post(url, json=body, timeout=HANG_GUARD_S)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    assert chat(client, "x").choices[0].message.content == "ok"


def test_api_key_is_required_when_set(tiny_vlm: Path) -> None:
    import httpx

    engine = scripted_engine(tiny_vlm, lambda prompt: "ok")

    def health(url: str) -> httpx.Response:
        return httpx.get(url.removesuffix("/v1") + "/health", timeout=HANG_GUARD_S)

    with serve_app(create_app(engine, api_key="s3cret")) as url:
        assert health(url).status_code == 200
        for key in ("wrong", "sékret"):
            response = httpx.get(
                f"{url}/models",
                headers={"authorization": f"Bearer {key}".encode()},
                timeout=HANG_GUARD_S,
            )
            assert (
                response.status_code == 401 and "--api-key" in response.json()["error"]["message"]
            )
        good = openai.OpenAI(base_url=url, api_key="s3cret", max_retries=0)
        assert chat(good, "x").choices[0].message.content == "ok"
        engine.close()
        assert health(url).status_code == 503


def test_a_full_queue_answers_429(served: Any) -> None:
    gate = threading.Event()

    def reply(prompt: str) -> str:
        gate.wait(HANG_GUARD_S)
        return "ok"

    client, engine = served(reply, max_queue=1)
    with cf.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(chat, client, "q0")]
        try:
            assert wait_for(lambda: engine.stats()["running"] == 1), "the first request never ran"
            later = [pool.submit(chat, client, f"q{i}") for i in (1, 2, 3)]
            futures += later
            # One waits in the queue of one; the other two are refused while the gate is shut.
            assert wait_for(lambda: sum(f.done() for f in later) == 2)
        finally:
            gate.set()
        outcomes = []
        for f in futures:
            try:
                outcomes.append(f.result().choices[0].message.content)
            except openai.RateLimitError as exc:
                assert "busy" in exc.message
                outcomes.append("429")
    assert "429" in outcomes and "ok" in outcomes
    assert sorted(outcomes) == ["429", "429", "ok", "ok"]


def test_image_tokens_are_known_before_decoding(tiny_vlm: Path) -> None:
    """The estimate from image headers equals what the image processor makes, so a request
    over the context is refused before any pixel is decoded."""
    from transformers import AutoImageProcessor, AutoTokenizer

    from mcr_agent.serve.inputs import IMAGE, InputBuilder, Limits, RequestError

    tokenizer = AutoTokenizer.from_pretrained(tiny_vlm)
    processor = AutoImageProcessor.from_pretrained(tiny_vlm)
    builder = InputBuilder(tokenizer, processor, None, Limits(max_model_len=400))
    for width, height in [(64, 64), (100, 37), (333, 250), (20, 20)]:
        part = {"type": "image_url", "image_url": {"url": png_url(width, height)}}
        prepared = builder.build([{"role": "user", "content": [part]}])
        made = prepared.ids.count(tokenizer.convert_tokens_to_ids(IMAGE))
        assert builder._image_tokens(width, height) == made + 2, (width, height)

    class NoDecoding:
        size = processor.size

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("pixels decoded for a request over the context")

    builder.image_processor = NoDecoding()
    big = {"type": "image_url", "image_url": {"url": png_url(400, 300)}}
    with pytest.raises(RequestError, match="--max-model-len"):
        builder.build([{"role": "user", "content": [big] * 8}])
