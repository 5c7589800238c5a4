"""The run trace: a self-contained, escaped HTML page and a strict JSON file."""

from __future__ import annotations

import base64
import errno
import html
import json
import math
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest

from mcr_agent.errors import ConfigError
from mcr_agent.front.trace import TraceScene, write_trace

EVIL = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
VOID = {"meta", "img", "br", "hr", "link", "input", "source", "wbr"}


def jpeg(color: tuple[int, int, int], size: tuple[int, int] = (48, 64)) -> bytes:
    image = np.zeros((*size, 3), np.uint8)
    image[:] = color
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return buf.tobytes()


def make_result() -> dict[str, object]:
    steps = [
        ("plan", None, {}, "decided to search the transcript"),
        ("act", "search_memory", {"query": "red car", "k": 5}, "3 hits"),
        ("act", "inspect_frames", {"start": 15.0, "end": 30.0}, "saw a red car"),
        ("act", "web_search", {"query": "old bridge"}, "2 pages"),
        ("answer", None, {}, "answered B"),
    ]
    return {
        "question": "What colour is the car parked near the bridge?",
        "options": ["A. Blue", "B. Red", "C. Green", "D. White"],
        "answer": "B. Red",
        "choice": "B",
        "confidence": 0.87,
        "route": "agent",
        "evidence": [
            {"start": 15.0, "end": 30.0, "source": "asr", "text": "The red car is parked."},
            {"start": 42.5, "end": 45.0, "source": "caption", "text": "A red car by a bridge."},
        ],
        "steps": [
            {"node": n, "tool": t, "args": a, "summary": s, "duration_s": 0.25 * (i + 1)}
            for i, (n, t, a, s) in enumerate(steps)
        ],
        "usage": {
            "model_calls": 7,
            "prompt_tokens": 12345,
            "completion_tokens": 678,
            "frames_sent": 24,
            "wall_s": 75.25,
        },
        "video": {"path": "/videos/bridge.mp4", "duration": 60.0, "fingerprint": "ab12cd34"},
    }


SCENES = [
    TraceScene(0.0, 15.0, "A street at dawn.", jpeg((200, 80, 40))),
    TraceScene(15.0, 40.0, "A red car parks near an old bridge.", jpeg((40, 40, 220))),
    TraceScene(40.0, 60.0, "Close-up of the car.", None),
]
FEEDBACK = ["", "hit 1: 0:15.0 red car", "frames 15-30 s", "https://example.com/bridge", ""]


class StrictHTML(HTMLParser):
    """Fails on mis-nested tags; collects every tag and its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def parse(page: str) -> StrictHTML:
    parser = StrictHTML()
    parser.feed(page)
    parser.close()
    assert parser.stack == []
    return parser


def test_html_page_shows_the_run(tmp_path: Path) -> None:
    result = make_result()
    out = write_trace(tmp_path / "t.html", result, scenes=SCENES, feedback=FEEDBACK)
    page = out.read_text(encoding="utf-8")
    assert "What colour is the car parked near the bridge?" in page
    for step in result["steps"]:  # type: ignore[attr-defined]
        assert f"<b>{step['node']}</b>" in page
        if step["tool"]:
            assert f"<code>{step['tool']}</code>" in page
    assert "[0:15.0\N{EN DASH}0:30.0]" in page and "[0:42.5\N{EN DASH}0:45.0]" in page
    for number in ("7", "12,345", "678", "24", "1:15.2"):
        assert f"<td>{number}" in page
    assert 'class="chosen"><span class="letter">B</span>Red' in page
    assert "data:image/jpeg;base64," in page
    assert page.count("data:image/jpeg;base64,") == 2  # scene 3 has no thumbnail

    tags = parse(page).tags
    assert not any(tag == "script" for tag, _ in tags)
    links = [v or "" for _, attrs in tags for k, v in attrs.items() if k in ("src", "href")]
    assert links and all(link.startswith("#") for link in links)
    assert not re.search(r"url\((?!data:)", page)
    assert "https://example.com/bridge" in page  # shown as text, never loaded


def test_evidence_bars_sit_on_the_time_axis(tmp_path: Path) -> None:
    page = write_trace(tmp_path / "t.htm", make_result(), scenes=SCENES, feedback=FEEDBACK)
    text = page.read_text(encoding="utf-8")
    bars = re.findall(r'<a class="evbar" href="#ev-(\d)" style="([^"]*)"', text)
    assert bars == [
        ("1", "left:25.000%;width:25.000%"),
        ("2", "left:70.833%;width:4.167%"),
    ]
    assert 'class="scene s1" style="left:25.000%;width:41.667%"' in text


def test_json_trace_round_trips_the_contract(tmp_path: Path) -> None:
    result = make_result()
    out = write_trace(tmp_path / "t.json", result, scenes=SCENES, feedback=FEEDBACK)
    with out.open(encoding="utf-8") as f:
        doc = json.load(f)
    for key in ("question", "options", "answer", "choice", "confidence", "route"):
        assert doc[key] == result[key]
    assert doc["evidence"] == result["evidence"]
    assert doc["usage"] == result["usage"] and doc["video"] == result["video"]
    assert [s["feedback"] for s in doc["steps"]] == FEEDBACK
    assert [{k: v for k, v in s.items() if k != "feedback"} for s in doc["steps"]] == result[
        "steps"
    ]
    assert [(s["start"], s["end"], s["caption"]) for s in doc["scenes"]] == [
        (s.start, s.end, s.caption) for s in SCENES
    ]
    assert base64.b64decode(doc["scenes"][0]["thumbnail"]) == SCENES[0].thumbnail
    assert doc["scenes"][2]["thumbnail"] is None


def test_json_is_strict(tmp_path: Path) -> None:
    result = {**make_result(), "confidence": math.nan, "choice": None}
    out = write_trace(tmp_path / "t.json", result, scenes=[], feedback=["x"])
    text = out.read_text(encoding="utf-8")
    assert "NaN" not in text
    doc = json.loads(text)
    assert doc["confidence"] is None and doc["choice"] is None
    assert [s["feedback"] for s in doc["steps"]] == ["x", "", "", "", ""]


def test_large_thumbnails_are_downscaled(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok and len(buf) > 40_000
    scene = TraceScene(0.0, 60.0, "noise", buf.tobytes())
    out = write_trace(tmp_path / "t.html", make_result(), scenes=[scene], feedback=[])
    encoded = re.search(r"data:image/jpeg;base64,([A-Za-z0-9+/=]+)", out.read_text())
    assert encoded is not None
    small = base64.b64decode(encoded.group(1))
    assert len(small) <= 40_000
    assert cv2.imdecode(np.frombuffer(small, np.uint8), cv2.IMREAD_COLOR) is not None


def test_untrusted_text_is_escaped(tmp_path: Path) -> None:
    result = make_result()
    for evil in EVIL:
        result["answer"] = evil
        result["evidence"][0]["text"] = evil  # type: ignore[index]
        result["steps"][1]["args"] = {"query": evil}  # type: ignore[index]
        result["question"] = evil
        scenes = [TraceScene(0.0, 10.0, evil, jpeg((0, 0, 0)))]
        out = write_trace(tmp_path / "t.html", result, scenes=scenes, feedback=["", evil])
        page = out.read_text(encoding="utf-8")
        assert evil not in page
        assert page.count(html.escape(evil, quote=True)) >= 6
        tags = parse(page).tags
        assert not any(tag in ("script", "img") for tag, _ in tags)
        assert not any(k.startswith("on") for _, attrs in tags for k in attrs)


def test_bad_suffix_is_a_config_error(tmp_path: Path) -> None:
    for name in ("trace.txt", "trace"):
        with pytest.raises(ConfigError, match=r"\.html.*\.json") as info:
            write_trace(tmp_path / name, make_result(), scenes=[], feedback=[])
        assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="choose a writable --trace path") as info:
        write_trace(blocker / "t.html", make_result(), scenes=[], feedback=[])
    assert "\n" not in str(info.value)


def test_read_only_folder_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root ignores permissions
            pytest.skip("running as root: permissions do not stop writes")
        with pytest.raises(ConfigError, match="choose a writable --trace path"):
            write_trace(folder / "t.json", make_result(), scenes=[], feedback=[])
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_failed_write_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(src: str, dst: str) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    # The temporary file exists by then, so this checks that it is cleaned up.
    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ConfigError, match=r"Permission denied.*choose a writable --trace path"):
        write_trace(tmp_path / "t.html", make_result(), scenes=SCENES, feedback=FEEDBACK)
    assert list(tmp_path.iterdir()) == []


def test_more_feedback_than_steps_is_a_bug(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="6 feedback texts for 5 steps"):
        write_trace(tmp_path / "t.json", make_result(), scenes=[], feedback=[""] * 6)
