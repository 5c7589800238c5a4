"""Tool calls parsed from real-world model text (Qwen3-VL Hermes style and looser forms)."""

from __future__ import annotations

import pytest

from mcr_agent.model.replies import parse_reply, reply_text, strip_think
from tools.replies import json_value, object_in, objects_in

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
        (  # a Python literal, as models and some servers write it (single quotes, None)
            "<tool_call>{'name': 'answer', 'arguments': {'answer': \"it's red\", 'choice': 'B', "
            "'evidence': [], 'confidence': None, 'sure': True}}</tool_call>",
            [
                (
                    "answer",
                    {
                        "answer": "it's red",
                        "choice": "B",
                        "evidence": [],
                        "confidence": None,
                        "sure": True,
                    },
                )
            ],
            "",
        ),
        (  # JSON words inside a Python literal; braces inside strings
            "{'name': 'inspect', 'arguments': {'start': 1, 'end': 2, 'question': 'is {x} true?',"
            " 'exact': true, 'fps': null,}}",
            [
                (
                    "inspect",
                    {"start": 1, "end": 2, "question": "is {x} true?", "exact": True, "fps": None},
                )
            ],
            "",
        ),
        (  # arguments as a string holding a Python literal
            '<tool_call>{"name": "inspect", "arguments": "{\'start\': 3, \'end\': 4}"}</tool_call>',
            [("inspect", {"start": 3, "end": 4})],
            "",
        ),
        (  # the reply is only a think block: the call inside it is the model's
            '<think>I should look. <tool_call>{"name": "inspect", "arguments": {"start": 5, '
            '"end": 6}}</tool_call></think>',
            [("inspect", {"start": 5, "end": 6})],
            "I should look.",
        ),
        (  # <think> opened and never closed, the call inside it
            "<think>Let me search.\n<tool_call>{'name': 'memory_search', 'arguments': "
            "{'query': 'door'}}</tool_call>",
            [("memory_search", {"query": "door"})],
            "Let me search.",
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
        (  # a trailing comma reads (as a Python literal would): this one is really broken
            '<tool_call>{"name": "inspect", "arguments": {"start": 1,, "end": 2}}</tool_call>',
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


@pytest.mark.parametrize(
    ("content", "reasoning", "said"),
    [
        ("<think>weighing</think> B", "", "B"),  # what follows the thinking is the reply
        ("<think>so the answer is B", "", "so the answer is B"),  # never closed
        ("<think>so the answer is B</think>", "", "so the answer is B"),  # only thinking
        ("so the answer is B</think>", "", "so the answer is B"),  # the template opened it
        ("", "The sign says GATE 7B, so C.", "The sign says GATE 7B, so C."),  # vLLM parser
        ("C", "long thoughts about A and B", "C"),  # content wins over reasoning
        ("", "", ""),
    ],
)
def test_reply_text(content: str, reasoning: str, said: str) -> None:
    assert reply_text(content, reasoning) == said


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ("{'a': 'b', 'c': None, 'd': True}", {"a": "b", "c": None, "d": True}),
        ("{'a': true, 'b': null, 'c': \"it's true\"}", {"a": True, "b": None, "c": "it's true"}),
        ('{"a": [1, 2,],}', {"a": [1, 2]}),
        ("[1, 'x']", [1, "x"]),
    ],
)
def test_json_value_reads_json_and_python_literals(text: str, value: object) -> None:
    assert json_value(text) == value


def test_json_value_refuses_what_neither_reads() -> None:
    for text in ('{"a": 1,, "b": 2}', "{oops}", "{'a': __import__('os')}", ""):
        with pytest.raises(ValueError):
            json_value(text)


def test_objects_in_prose_and_one_reader_for_verdicts() -> None:
    text = "Seen {not an object} then {'supported': True, 'reason': 'a {b} c'} and {\"x\": 1}"
    assert [v for _, v in objects_in(text)] == [
        {"supported": True, "reason": "a {b} c"},
        {"x": 1},
    ]
    assert object_in("```json\n{'Supported': false}\n``` {\"supported\": true}") == {
        "supported": False
    }
