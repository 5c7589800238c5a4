"""Tool calls parsed from real-world model text (Qwen3-VL Hermes style and looser forms)."""

from __future__ import annotations

import pytest

from mcr_agent.model.replies import parse_reply, strip_think

TOOLS = {"memory_search", "inspect", "answer"}


@pytest.mark.parametrize(
    ("reply", "calls", "text"),
    [
        (
            '<tool_call>\n{"name": "memory_search", "arguments": {"query": "red car"}}\n'
            "</tool_call>",
            [("memory_search", {"query": "red car"})],
            "",
        ),
        (  # several calls, prose around them
            "Let me look.\n<tool_call>\n"
            '{"name": "memory_search", "arguments": {"query": "door"}}\n</tool_call>\n'
            '<tool_call>\n{"name": "inspect", "arguments": {"start": 10, "end": 20}}\n'
            "</tool_call>",
            [("memory_search", {"query": "door"}), ("inspect", {"start": 10, "end": 20})],
            "Let me look.",
        ),
        (  # a call inside a think block is a thought, not a call
            '<think>maybe <tool_call>{"name": "inspect", "arguments": {}}</tool_call></think>'
            '<tool_call>{"name": "answer", "arguments": {"choice": "B"}}</tool_call>',
            [("answer", {"choice": "B"})],
            "",
        ),
        (  # the template opened <think>; the reply carries only its end
            'weighing options</think>\n<tool_call>{"name": "answer", "arguments": '
            '{"choice": "C"}}</tool_call>',
            [("answer", {"choice": "C"})],
            "",
        ),
        (  # arguments as a JSON string (OpenAI style) and an unclosed block at the end
            '<tool_call>{"name": "inspect", "arguments": "{\\"start\\": 1, \\"end\\": 2}"}',
            [("inspect", {"start": 1, "end": 2})],
            "",
        ),
        (  # no tags: a fenced JSON block
            'I will search.\n```json\n{"name": "memory_search", "parameters": {"query": "x"}}\n```',
            [("memory_search", {"query": "x"})],
            "I will search.",
        ),
        (  # no tags: a bare object in prose
            'Calling {"name": "answer", "arguments": {"choice": "A"}} now.',
            [("answer", {"choice": "A"})],
            "Calling  now.",
        ),
        ("The answer is B because the car is red.", [], "The answer is B because the car is red."),
        ('The set {"a": 1} is data, not a call.', [], 'The set {"a": 1} is data, not a call.'),
    ],
)
def test_parse(reply: str, calls: list[tuple[str, dict[str, object]]], text: str) -> None:
    parsed = parse_reply(reply, known=TOOLS)
    assert [(c.name, c.arguments) for c in parsed.calls] == calls
    assert parsed.errors == ()
    assert parsed.text == text


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (
            '<tool_call>{"name": "inspect", "arguments": {"start": 1,}}</tool_call>',
            "not valid JSON",
        ),
        ('<tool_call>{"name": "fly", "arguments": {}}</tool_call>', "unknown tool 'fly'"),
        ('<tool_call>{"arguments": {}}</tool_call>', 'no "name"'),
        ('<tool_call>{"name": "inspect", "arguments": [1, 2]}</tool_call>', "not a JSON object"),
        ('<tool_call>["inspect"]</tool_call>', "not a JSON object"),
    ],
)
def test_malformed_calls_become_feedback(reply: str, words: str) -> None:
    parsed = parse_reply(reply, known=TOOLS)
    assert parsed.calls == ()
    assert len(parsed.errors) == 1
    assert words in parsed.errors[0] and "<tool_call>" in parsed.errors[0]


def test_good_and_bad_calls_together() -> None:
    reply = (
        '<tool_call>{"name": "memory_search", "arguments": {"query": "q"}}</tool_call>'
        '<tool_call>{"name": "inspect", "arguments": {oops}}</tool_call>'
    )
    parsed = parse_reply(reply, known=TOOLS)
    assert [c.name for c in parsed.calls] == ["memory_search"]
    assert parsed.errors[0].startswith("tool call 2:")


def test_strip_think() -> None:
    assert strip_think("<think>a\nb</think> B") == "B"
    assert strip_think("<think>never closed") == ""
    assert strip_think("x</think>y") == "y"
    assert strip_think("plain") == "plain"
