"""Subtitle files as sites and tools write them: dialects, encodings, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mcr_agent.errors import SubtitleError
from mcr_agent.front.cli import main
from mcr_agent.front.media import make_long_static_video
from memory import read_subtitles
from memory.subtitles import decode_text, parse_subtitles
from tests.text_media import srt_text


@pytest.fixture(scope="module")
def plain_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s, no audio, no subtitle track."""
    return make_long_static_video(tmp_path_factory.mktemp("plain") / "plain.mp4", 8.0, fps=10)


def cues(text: str) -> list[tuple[float, float, str]]:
    return [(e.start, e.end, e.text) for e in parse_subtitles(text)]


def close(got: list[tuple[float, float, str]], want: list[tuple[float, float, str]]) -> bool:
    """Same texts, times within 0.3 s."""
    return len(got) == len(want) and all(
        g[2] == w[2] and abs(g[0] - w[0]) <= 0.3 and abs(g[1] - w[1]) <= 0.3
        for g, w in zip(got, want, strict=True)
    )


WEBVTT_SITE = """\ufeffWEBVTT
Kind: captions
Language: en

STYLE
::cue(.yellow) { color: yellow }

REGION
id:bottom
width:40%

NOTE Written by a site; the next line looks like a cue but is a note
00:00:09.000 --> 00:00:10.000

intro
00:00.500 --> 00:02.000 align:start position:10% line:90%
<v Roger Bingham>We are in New York City</v>
00:00:02.500 --> 00:00:04.000 region:bottom
hello<00:00:02.750><c> big</c><00:00:03.000><c.yellow> world</c>

NOTE between cues

chapter-2
01:00:05.000 --> 01:00:06.250
<b>Bold</b> &amp; <i>italic</i> &lt;3 <ruby>漢<rt>kan</rt></ruby>
"""


def test_webvtt_as_sites_write_it() -> None:
    assert cues(WEBVTT_SITE) == [
        (0.5, 2.0, "We are in New York City"),
        (2.5, 4.0, "hello big world"),
        (3605.0, 3606.25, "Bold & italic <3 漢"),
    ]


def test_rolling_automatic_captions_keep_new_lines_only() -> None:
    rolling = (
        "WEBVTT\nKind: captions\nLanguage: en\n\n"
        "00:00:00.000 --> 00:00:02.310 align:start position:0%\n \n"
        "so<00:00:00.320><c> today</c><00:00:00.640><c> we're</c>\n\n"
        "00:00:02.310 --> 00:00:02.320 align:start position:0%\nso today we're\n \n\n"
        "00:00:02.320 --> 00:00:05.150 align:start position:0%\nso today we're\n"
        "going<00:00:02.560><c> to</c><00:00:02.800><c> talk</c>\n"
    )
    assert cues(rolling) == [(0.0, 2.31, "so today we're"), (2.32, 5.15, "going to talk")]


@pytest.mark.parametrize(
    "text",
    [
        # no cue numbers
        "00:00:01,000 --> 00:00:02,500\nFirst <i>one</i>\n\n00:00:04,000 --> 00:00:05,000\nTwo\n",
        # no blank line between cues, CRLF line ends
        "1\r\n00:00:01,000 --> 00:00:02,500\r\nFirst one\r\n"
        "2\r\n00:00:04,000 --> 00:00:05,000\r\nTwo\r\n",
        # ASS position tags and a font tag in SRT, as some tools write them
        '1\n00:00:01,000 --> 00:00:02,500\n{\\an8}<font color="#ffff00">First</font> one\n\n'
        "2\n00:00:04,000 --> 00:00:05,000\nTwo\n",
    ],
)
def test_srt_variants(text: str) -> None:
    assert cues(text) == [(1.0, 2.5, "First one"), (4.0, 5.0, "Two")]


@pytest.mark.parametrize(
    "text",
    [
        # cut mid-file, inside the next cue's time line
        "1\n00:00:01,000 --> 00:00:02,500\nFirst one\n\n2\n00:00:04,000 --> 00:00:0",
        # cut just after the next cue's number
        "1\n00:00:01,000 --> 00:00:02,500\nFirst one\n\n2\n",
        # a garbled time line in the middle: that cue is lost, never glued onto the one before
        "1\n00:00:01,000 --> 00:00:02,500\nFirst one\n\n2\n00:00:03,000 --> garbage\nLost\n\n"
        "3\n00:00:04,000 --> 00:00:05,000\nTwo\n",
    ],
)
def test_broken_srt_keeps_each_cue_its_own_text(text: str) -> None:
    found = cues(text)
    assert found[0] == (1.0, 2.5, "First one")
    assert found[1:] in ([], [(4.0, 5.0, "Two")])
    assert not any("-->" in t or "Lost" in t for _, _, t in found)


ASS = """[Script Info]
ScriptType: v4.00+
PlayResX: 640

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, \
Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, \
Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,\
2,2,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:01.00,0:00:02.50,Default,,0,0,0,,{\\i1}Hello{\\i0}\\Nsecond line
Comment: 0,0:00:03.00,0:00:04.00,Default,,0,0,0,,a translator's comment
Dialogue: 0,0:00:05.00,0:00:06.00,Default,,0,0,0,,{\\p1}m 0 0 l 100 0 100 100{\\p0}
Dialogue: 0,0:00:07.00,0:00:08.00,Default,,0,0,0,,{\\k20}ka{\\k30}ra{\\k40}oke\\hnight
"""

SSA = """[Script Info]
ScriptType: v4.00

[V4 Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, TertiaryColour, BackColour, \
Bold, Italic, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, AlphaLevel, \
Encoding
Style: Default,Arial,20,16777215,255,0,0,0,0,1,2,2,2,10,10,10,0,1

[Events]
Format: Marked, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: Marked=0,0:00:01.50,0:00:03.00,Default,,0000,0000,0000,,Old {\\b1}SSA{\\b0} line
"""


def test_ass_and_ssa() -> None:
    assert cues(ASS) == [(1.0, 2.5, "Hello second line"), (7.0, 8.0, "karaoke night")]
    assert cues(SSA) == [(1.5, 3.0, "Old SSA line")]


FRENCH = [(1.0, 2.5, "Où est la bibliothèque ? Ça coûte cher, très cher."), (4.0, 5.0, "Déjà vu")]


@pytest.mark.parametrize(
    ("encoding", "lines"),
    [
        ("utf-16", FRENCH),  # byte-order mark, as `iconv -t utf-16` writes
        ("utf-16-le", FRENCH),  # no byte-order mark
        ("utf-16-be", FRENCH),
        ("utf-8-sig", FRENCH),
        ("cp1252", FRENCH),
        ("cp1251", [(1.0, 2.0, "Добрый день. Сегодня мы поговорим об истории Москвы.")]),  # noqa: RUF001
        ("gbk", [(1.0, 2.0, "大家好。今天我们来谈谈中国的历史。长城是世界上最长的城墙。")]),
        ("big5", [(1.0, 2.0, "大家好。今天我們來談談中國的歷史。長城是世界上最長的城牆。")]),
        ("shift_jis", [(1.0, 2.0, "こんにちは。今日は東京の歴史について話します。")]),
        ("euc-jp", [(1.0, 2.0, "こんにちは。今日は東京の歴史について話します。")]),
        ("cp1250", [(1.0, 2.0, "Dzień dobry. Zażółć gęślą jaźń. Łódź jest piękna.")]),
    ],
)
def test_encodings(encoding: str, lines: list[tuple[float, float, str]], tmp_path: Path) -> None:
    path = tmp_path / "subs.srt"
    path.write_bytes(srt_text(lines).encode(encoding))
    assert [(e.start, e.end, e.text) for e in read_subtitles(path)] == lines


def test_binary_is_not_text() -> None:
    assert decode_text(bytes(range(256)) * 64) is None


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "is empty"),
        (b"hello\nthis is not\na subtitle file\n", "holds no subtitle cue"),
        (bytes(range(256)) * 64, "is not text"),
        (b"WEBVTT\n\nNOTE only a note\n", "holds no subtitle cue"),
    ],
)
def test_bad_files_fail_in_one_line_and_write_nothing(
    content: bytes, words: str, plain_video: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.srt"
    bad.write_bytes(content)
    with pytest.raises(SubtitleError) as err:
        read_subtitles(bad)
    assert words in str(err.value) and "\n" not in str(err.value)

    cache = tmp_path / "cache"  # MCR_CACHE_DIR of every test (conftest)
    result = CliRunner().invoke(
        main, ["index", str(plain_video), "--no-asr", "--subtitles", str(bad)]
    )
    assert result.exit_code == 1 and words in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not cache.exists() or not any(cache.iterdir())


def test_utf16_srt_from_the_cli(plain_video: Path, tmp_path: Path) -> None:
    """The issue's case: `iconv -f utf-8 -t utf-16 in.srt > out.srt` was 'no subtitle cue'."""
    video = plain_video
    srt = tmp_path / "utf16.srt"
    srt.write_bytes(srt_text([(2.0, 4.0, "The lighthouse keeper waves.")]).encode("utf-16"))
    result = CliRunner().invoke(main, ["index", str(video), "--no-asr", "--subtitles", str(srt)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["memory", "search", str(video), "lighthouse", "--json"])
    hits = json.loads(result.stdout)
    assert hits[0]["level"] == "subtitle" and hits[0]["text"] == "The lighthouse keeper waves."
    assert close(
        [(hits[0]["start"], hits[0]["end"], hits[0]["text"])], [(2.0, 4.0, hits[0]["text"])]
    )


def test_cues_after_the_video_ends_are_a_warning(plain_video: Path, tmp_path: Path) -> None:
    """A subtitle file of a longer cut: cues past the 8 s video are dropped, and said so."""
    srt = tmp_path / "longer.srt"
    srt.write_text(srt_text([(1.0, 3.0, "Inside the video."), (7.5, 9.0, "Runs past the end."),
                             (30.0, 40.0, "Long after the end.")]))  # fmt: skip
    result = CliRunner().invoke(
        main, ["index", str(plain_video), "--no-asr", "--subtitles", str(srt)]
    )
    assert result.exit_code == 0, result.output
    assert "1 of 3 subtitle cues start after the video ends (8.0 s)" in result.stdout
    result = CliRunner().invoke(main, ["memory", "search", str(plain_video), "the end", "--json"])
    found = {h["text"]: (h["start"], h["end"]) for h in json.loads(result.stdout)}
    assert "Long after the end." not in found and found["Runs past the end."] == (7.5, 8.0)
