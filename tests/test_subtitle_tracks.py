"""Subtitle tracks embedded in the video: read without --subtitles, chosen, skipped, broken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mcr_agent.errors import SubtitleError
from mcr_agent.front.cli import main
from memory import probe
from memory.subtitle_tracks import SubtitleTrack, choose_track
from tests.text_media import Cue, break_subtitle_text, make_video_with_subtitles

ENGLISH: list[Cue] = [(1.5, 3.0, "The kettle is boiling."), (6.25, 8.0, "Bring two cups, please.")]
GERMAN: list[Cue] = [(2.0, 4.5, "Der Kessel kocht.")]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, " ".join(result.stdout.split()), result.stderr


def subtitle_cues(video: Path) -> list[tuple[float, float, str]]:
    code, out, _ = run("memory", "search", str(video), "kettle cups Kessel", "--json", "-k", "20")
    assert code == 0
    hits = [h for h in json.loads(out) if h["level"] == "subtitle"]
    return sorted((h["start"], h["end"], h["text"]) for h in hits)


def assert_cues(got: list[tuple[float, float, str]], want: list[Cue]) -> None:
    """Same texts, times within 0.3 s of the player's clock."""
    assert [g[2] for g in got] == [w[2] for w in want]
    for g, w in zip(got, want, strict=True):
        assert abs(g[0] - w[0]) <= 0.3 and abs(g[1] - w[1]) <= 0.3, (g, w)


@pytest.fixture(scope="module")
def mp4_two_tracks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tracks")
    tracks = [(ENGLISH, "eng"), (GERMAN, "ger")]
    return make_video_with_subtitles(folder / "two.mp4", tracks, codec="mov_text")


def test_mov_text_read_without_subtitles_option_and_chosen(mp4_two_tracks: Path) -> None:
    code, out, err = run("index", str(mp4_two_tracks), "--no-asr")
    assert code == 0, err
    assert "2 cues from the video's track 0 (eng, mov_text" in out
    assert "--subtitle-track N picks another" in out
    assert_cues(subtitle_cues(mp4_two_tracks), ENGLISH)

    code, out, err = run("index", str(mp4_two_tracks), "--no-asr", "--subtitle-track", "1")
    assert code == 0, err
    assert "1 cues from the video's track 1 (ger, mov_text)" in out
    assert "reused from cache" not in out
    assert_cues(subtitle_cues(mp4_two_tracks), GERMAN)

    code, out, err = run("index", str(mp4_two_tracks), "--no-asr", "--no-subtitles")
    assert code == 0, err
    assert "cues from the video's" not in out
    assert subtitle_cues(mp4_two_tracks) == []


@pytest.mark.parametrize(
    ("name", "codec", "start_time"),
    [("srt.mkv", "srt", 0.0), ("ass.mkv", "ass", 0.0), ("late.mkv", "srt", 7.0)],
)
def test_mkv_tracks_on_the_players_clock(
    name: str, codec: str, start_time: float, tmp_path: Path
) -> None:
    """The container may start at any time (captures, cut files): a player shows it as 0."""
    video = make_video_with_subtitles(
        tmp_path / name, [(ENGLISH, None)], codec=codec, start_time=start_time
    )
    code, out, err = run("index", str(video), "--no-asr")
    assert code == 0, err
    assert "2 cues from the video's track 0" in out
    assert_cues(subtitle_cues(video), ENGLISH)
    # Matroska's header duration counts from the file's 0: the picture is as long as made.
    assert probe(video).duration == pytest.approx(12.0, abs=0.3)  # make_video_with_subtitles
    assert "could be decoded" not in out


def test_wrong_track_is_one_line_and_writes_nothing(mp4_two_tracks: Path, tmp_path: Path) -> None:
    code, _, err = run("index", str(mp4_two_tracks), "--subtitle-track", "7")
    assert code == 1 and err.count("\n") == 1
    assert "no subtitle track 7" in err and "track 1 (ger, mov_text)" in err
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
    code, _, err = run("index", str(mp4_two_tracks), "--no-subtitles", "--subtitle-track", "1")
    assert code == 2


def test_broken_subtitle_stream_is_a_warning(tmp_path: Path) -> None:
    video = make_video_with_subtitles(tmp_path / "broken.mkv", [(ENGLISH, None)], codec="srt")
    break_subtitle_text(video, "Bring two cups")
    code, out, err = run("index", str(video), "--no-asr")
    assert code == 0, err
    assert "1 packet(s) of subtitle track 0 (srt) could not be decoded" in out
    assert_cues(subtitle_cues(video), ENGLISH[:1])


def track(
    number: int, *, text: bool = True, default: bool = False, forced: bool = False
) -> SubtitleTrack:
    codec = "subrip" if text else "hdmv_pgs_subtitle"
    return SubtitleTrack(number, number + 1, codec, None, None, text, default, forced)


def test_choose_track() -> None:
    image, forced, plain, default = (
        track(0, text=False),
        track(1, forced=True),
        track(2),
        track(3, default=True),
    )
    assert choose_track([image, forced, plain, default], None) == default
    assert choose_track([image, forced, plain], None) == plain
    assert choose_track([image, forced], None) == forced
    assert choose_track([image], None) is None
    assert choose_track([image, plain], 1) == plain
    with pytest.raises(SubtitleError, match="made of images"):
        choose_track([image, plain], 0)


def test_a_memory_to_reuse_lists_no_track_and_force_checks_first(
    mp4_two_tracks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import memory.build

    code, _, err = run("index", str(mp4_two_tracks), "--no-asr")
    assert code == 0, err
    listed: list[str] = []
    real = memory.build.subtitle_tracks
    monkeypatch.setattr(
        memory.build, "subtitle_tracks", lambda path: listed.append(path) or real(path)
    )
    code, out, err = run("index", str(mp4_two_tracks), "--no-asr")
    assert code == 0 and "reused from cache" in out and listed == []  # PyAV not opened
    code, _, err = run("index", str(mp4_two_tracks), "--no-asr", "--force", "--subtitle-track", "7")
    assert code == 1 and "no subtitle track 7" in err and len(listed) == 1
    code, out, err = run("index", str(mp4_two_tracks), "--no-asr")
    assert code == 0 and "reused from cache" in out  # the refused rebuild deleted nothing
