"""Write a run's trace: a self-contained HTML page to read, or JSON for machines.

The HTML page needs no network and no JavaScript: styles are inline, thumbnails are
``data:`` URLs and every string from the run is HTML-escaped, because step feedback and
captions carry text read from the video or the web.

The JSON trace is the result object plus ``"scenes"`` (each with its thumbnail as a base64
JPEG string, the same downscaled bytes the HTML page embeds, or ``null``) and a
``"feedback"`` string in every step. It is strict JSON: non-finite numbers become ``null``.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from memory.store import atomic_path

from ..errors import ConfigError

__all__ = ["TraceScene", "write_trace"]

logger = logging.getLogger(__name__)

_THUMB_LIMIT = 40_000
# Sizes and JPEG qualities tried in turn until a thumbnail fits under `_THUMB_LIMIT`.
_THUMB_STEPS = ((320, 80), (240, 70), (160, 60), (96, 50))
_HTML_SUFFIXES = (".html", ".htm")
_AXIS_TICKS = 5
_DASH = "\N{EN DASH}"  # between times, and in place of a missing value


@dataclass(frozen=True)
class TraceScene:
    """One scene of the video as the trace shows it.

    Attributes:
        start: Start time in seconds.
        end: End time in seconds.
        caption: The scene's caption ("" when none).
        thumbnail: A JPEG of the scene, or None.
    """

    start: float
    end: float
    caption: str
    thumbnail: bytes | None = None


def write_trace(
    path: Path,
    result: Mapping[str, object],
    *,
    scenes: Sequence[TraceScene],
    feedback: Sequence[str],
) -> Path:
    """Write the trace of one answered question, atomically.

    Args:
        path: Where to write; the suffix picks the format, ``.html``/``.htm`` or ``.json``.
        result: The agent's result object (the public answer contract).
        scenes: The video's scenes, for the timeline.
        feedback: The tool feedback of each step; ``feedback[i]`` belongs to
            ``result["steps"][i]``. Shorter than the steps means "" for the rest.

    Returns:
        `path`.

    Raises:
        ConfigError: The suffix is neither .html nor .json, or `path` cannot be written.
        ValueError: There is more feedback than steps.
    """
    suffix = path.suffix.lower()
    if suffix not in (*_HTML_SUFFIXES, ".json"):
        raise ConfigError(
            f"unknown trace format {path.suffix or '(no suffix)'!r} for {path}: "
            "name the trace file *.html (a page to read) or *.json"
        )
    steps = _records(result.get("steps"))
    if len(feedback) > len(steps):
        raise ValueError(f"{len(feedback)} feedback texts for {len(steps)} steps")
    notes = [*feedback, *[""] * (len(steps) - len(feedback))]
    thumbs = [_thumbnail(s.thumbnail) for s in scenes]
    if suffix == ".json":
        text = _json_trace(result, scenes, thumbs, notes)
    else:
        text = _html_trace(result, scenes, thumbs, notes)
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot write the trace to {path} ({exc.strerror or exc}): "
            "choose a writable --trace path"
        ) from exc
    return path


# --- reading the loosely typed result ------------------------------------------------------


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _number(value: object) -> float:
    """A real number, or NaN for anything else (so formatting never echoes raw input)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return math.nan
    return float(value)


def _records(value: object) -> list[Mapping[str, object]]:
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [v if isinstance(v, Mapping) else {} for v in value]
    return []


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _jsonable(value: object) -> object:
    """`value` as plain JSON data; non-finite numbers become None, unknown objects text."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


# --- thumbnails ----------------------------------------------------------------------------


def _thumbnail(data: bytes | None) -> bytes | None:
    """A JPEG of at most ~40 kB: `data` itself when it already is one, else re-encoded."""
    if not data:
        return None
    if len(data) <= _THUMB_LIMIT and data[:2] == b"\xff\xd8":
        return data
    import cv2  # lazy: only traces with oversized thumbnails need OpenCV
    import numpy as np

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        logger.warning("dropping a scene thumbnail that is not a readable image")
        return None
    height, width = image.shape[:2]
    encoded = b""
    for side, quality in _THUMB_STEPS:
        scale = min(1.0, side / max(height, width))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if scale < 1 else image
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            encoded = buf.tobytes()
            if len(encoded) <= _THUMB_LIMIT:
                break
    return encoded or None


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


# --- JSON ------------------------------------------------------------------------------------


def _json_trace(
    result: Mapping[str, object],
    scenes: Sequence[TraceScene],
    thumbs: Sequence[bytes | None],
    notes: Sequence[str],
) -> str:
    doc = {str(k): _jsonable(v) for k, v in result.items()}
    doc["steps"] = [
        {**_mapping(_jsonable(step)), "feedback": note}
        for step, note in zip(_records(result.get("steps")), notes, strict=True)
    ]
    doc["scenes"] = [
        {
            "start": _jsonable(s.start),
            "end": _jsonable(s.end),
            "caption": s.caption,
            "thumbnail": _b64(thumb),
        }
        for s, thumb in zip(scenes, thumbs, strict=True)
    ]
    return json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


# --- HTML ------------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(_text(value), quote=True)


def _clock(seconds: float) -> str:
    """``m:ss.s``; a dash for a missing or negative time."""
    if not math.isfinite(seconds) or seconds < 0:
        return _DASH
    minutes, tenths = divmod(round(seconds * 10), 600)
    return f"{minutes}:{tenths // 10:02d}.{tenths % 10}"


def _span(start: float, end: float) -> str:
    return f"{_clock(start)}{_DASH}{_clock(end)}"


def _place(start: float, end: float, duration: float) -> str:
    """CSS placing [start, end] on a bar spanning [0, duration], in percent."""
    left = min(max(start / duration, 0.0), 1.0) if math.isfinite(start) else 0.0
    right = min(max(end / duration, left), 1.0) if math.isfinite(end) else left
    return f"left:{left * 100:.3f}%;width:{(right - left) * 100:.3f}%"


def _timeline_length(
    video: Mapping[str, object],
    scenes: Sequence[TraceScene],
    evidence: Sequence[Mapping[str, object]],
) -> float:
    """The video's duration, else the latest time anything mentions (never 0)."""
    duration = _number(video.get("duration"))
    if math.isfinite(duration) and duration > 0:
        return duration
    ends = [s.end for s in scenes] + [_number(e.get("end")) for e in evidence]
    return max([t for t in ends if math.isfinite(t)] + [1.0])


_LETTER_PREFIX = re.compile(r"^\s*\(?([A-Z])[.):]\s*")


def _options(options: object, choice: str, *, guessed: bool = False) -> str:
    rows = []
    listed = options if isinstance(options, (list, tuple)) else []
    for i, option in enumerate(listed):
        letter = chr(ord("A") + i) if i < 26 else str(i + 1)
        text = _text(option)
        prefix = _LETTER_PREFIX.match(text)
        if prefix and prefix.group(1) == letter:
            text = text[prefix.end() :]  # the badge already shows the letter
        chosen = letter == choice
        mark = " (best guess, not the model's answer)" if guessed else " ✓"
        attrs, mark = (' class="chosen"', mark) if chosen else ("", "")
        rows.append(f'<li{attrs}><span class="letter">{letter}</span>{_e(text)}{mark}</li>')
    return "\n".join(rows) or '<li class="none">open question (no options)</li>'


def _scene_parts(
    scenes: Sequence[TraceScene], thumbs: Sequence[bytes | None], duration: float
) -> tuple[str, str, str]:
    """CSS rules, timeline blocks and cards; each thumbnail is embedded once, in the CSS."""
    css, blocks, cards = [], [], []
    for i, (scene, thumb) in enumerate(zip(scenes, thumbs, strict=True)):
        encoded = _b64(thumb)
        if encoded is not None:
            css.append(f".s{i}{{background-image:url(data:image/jpeg;base64,{encoded})}}")
        span = _span(scene.start, scene.end)
        label = _e(f"{span} · {scene.caption}" if scene.caption else span)
        blocks.append(
            f'<div class="scene s{i}" style="{_place(scene.start, scene.end, duration)}" '
            f'title="{label}"></div>'
        )
        cards.append(
            f'<figure><div class="thumb s{i}" role="img" aria-label="{label}"></div>'
            f'<figcaption><span class="time">{_e(span)}</span> {_e(scene.caption)}'
            "</figcaption></figure>"
        )
    return "\n".join(css), "\n".join(blocks), "\n".join(cards)


def _evidence_parts(evidence: Sequence[Mapping[str, object]], duration: float) -> tuple[str, str]:
    bars, rows = [], []
    for i, item in enumerate(evidence, start=1):
        start, end = _number(item.get("start")), _number(item.get("end"))
        source, text = _text(item.get("source")), _text(item.get("text"))
        span = _span(start, end)
        bars.append(
            f'<a class="evbar" href="#ev-{i}" style="{_place(start, end, duration)}" '
            f'title="{_e(f"{span} {source}: {text}")}">{i}</a>'
        )
        by = _text(item.get("cited_by"))
        cited = f' <span class="muted">cited by {_e(by)}</span>' if by else ""
        rows.append(
            f'<li id="ev-{i}"><span class="time" title="{start:.2f}{_DASH}{end:.2f} s">'
            f'[{span}]</span> <span class="src">{_e(source)}</span>{cited} {_e(text)}</li>'
        )
    listing = '<ol class="evlist">\n' + "\n".join(rows) + "\n</ol>"
    return "\n".join(bars), listing if rows else '<p class="none">no evidence cited</p>'


def _axis(duration: float) -> str:
    ticks = (duration * i / (_AXIS_TICKS - 1) for i in range(_AXIS_TICKS))
    return "\n".join(
        f'<span style="left:{100 * i / (_AXIS_TICKS - 1):.3f}%">{_clock(t)}</span>'
        for i, t in enumerate(ticks)
    )


def _step(number: int, step: Mapping[str, object], note: str) -> str:
    tool = step.get("tool")
    args = json.dumps(_jsonable(step.get("args") or {}), ensure_ascii=False, indent=2)
    seconds = _number(step.get("duration_s"))
    body = f"<pre>{_e(note)}</pre>" if note else '<p class="none">no feedback</p>'
    return (
        f'<li class="step"><div class="head"><span class="n">#{number}</span> '
        f"<b>{_e(step.get('node'))}</b> "
        + (f"<code>{_e(tool)}</code>" if tool else '<span class="none">no tool</span>')
        + f' <span class="dur">{seconds:.2f} s</span></div>'
        f'<p class="summary">{_e(step.get("summary"))}</p>'
        + (f'<pre class="args">{_e(args)}</pre>' if args != "{}" else "")
        + f"<details><summary>feedback ({len(note)} characters)</summary>{body}</details></li>"
    )


def _rows(pairs: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs)


def _count(value: object) -> str:
    number = _number(value)
    return f"{number:,.0f}" if math.isfinite(number) else _DASH


def _usage_and_video(usage: Mapping[str, object], video: Mapping[str, object]) -> tuple[str, str]:
    wall = _number(usage.get("wall_s"))
    usage_rows = [
        ("model calls", _count(usage.get("model_calls"))),
        ("prompt tokens", _count(usage.get("prompt_tokens"))),
        ("completion tokens", _count(usage.get("completion_tokens"))),
        ("frames sent", _count(usage.get("frames_sent"))),
        ("wall time", f"{_clock(wall)} ({wall:.1f} s)" if math.isfinite(wall) else _DASH),
    ]
    video_rows = [
        ("path", _text(video.get("path"))),
        ("duration", _clock(_number(video.get("duration")))),
        ("fingerprint", _text(video.get("fingerprint"))),
    ]
    return _rows(usage_rows), _rows(video_rows)


def _html_trace(
    result: Mapping[str, object],
    scenes: Sequence[TraceScene],
    thumbs: Sequence[bytes | None],
    notes: Sequence[str],
) -> str:
    video = _mapping(result.get("video"))
    evidence = _records(result.get("evidence"))
    duration = _timeline_length(video, scenes, evidence)
    choice = _text(result.get("choice"))
    confidence = _number(result.get("confidence"))
    scene_css, scene_blocks, scene_cards = _scene_parts(scenes, thumbs, duration)
    evidence_bars, evidence_list = _evidence_parts(evidence, duration)
    steps = _records(result.get("steps"))
    usage, video_rows = _usage_and_video(_mapping(result.get("usage")), video)
    template = resources.files(__package__).joinpath("trace_template.html")
    return Template(template.read_text(encoding="utf-8")).substitute(
        title=_e(result.get("question")),
        scene_css=scene_css,
        question=_e(result.get("question")),
        options=_options(result.get("options"), choice, guessed=result.get("status") == "fallback"),
        answer=_e(result.get("answer")),
        choice=_e(choice or _DASH),
        status=_e(result.get("status") or _DASH),
        error=f'<p class="muted">why: {_e(result.get("error"))}</p>' if result.get("error") else "",
        confidence=f"{confidence:.2f}" if math.isfinite(confidence) else _DASH,
        route=_e(result.get("route")),
        scene_blocks=scene_blocks,
        evidence_bars=evidence_bars,
        axis=_axis(duration),
        scene_cards=scene_cards,
        evidence_list=evidence_list,
        steps="\n".join(
            _step(i, s, n) for i, (s, n) in enumerate(zip(steps, notes, strict=True), start=1)
        ),
        usage=usage,
        video=video_rows,
    )
