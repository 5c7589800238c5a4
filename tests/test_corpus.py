"""`mcr-agent index PATH...`: many videos at once, by local worker processes or Ray tasks.

Each backend gets the same tests: the memories equal those of plain one-video runs, a bad
file fails alone and the table names it, a rerun reuses what is done, and a worker process
killed in the middle of a video (on the event of its first caption request) is replaced and
the video built again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from mcr_agent import AgentConfig, ConfigError
from mcr_agent.front.api import Agent
from mcr_agent.front.cli import main
from mcr_agent.front.corpus.cli import is_corpus
from mcr_agent.front.corpus.jobs import find_videos
from mcr_agent.front.corpus.ray_runner import ray_address
from mcr_agent.front.media import make_scenes_video
from tests.conftest import honest_responder
from tests.fake_openai import FakeOpenAIServer, Request

CLIPS = [("CLIP ONE", None), (None, "CLIP TWO"), ("CLIP THREE", "THE END")]
BACKENDS = {"pool": ["--workers", "2"], "ray": ["--ray", "local"]}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three short videos, one of them in a subfolder."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "more").mkdir()
    for i, texts in enumerate(CLIPS):
        folder = root / "more" if i == 2 else root
        make_scenes_video(folder / f"clip{i}.mp4", scene_seconds=[1.5 + 0.5 * i, 1.5],
                          texts=list(texts), fps=10, size=(320, 180))  # fmt: skip
    return root


def snapshot(cache: Path) -> dict[str, object]:
    """Every memory in a cache (a folder with a manifest; the cache also holds embedder
    exports): its scenes' times and its entries (level, times, text)."""
    found: dict[str, object] = {}
    for folder in sorted(p.parent for p in cache.glob("*/manifest.json")):
        entries = json.loads((folder / "entries.json").read_text())
        scenes = json.loads((folder / "scenes.json").read_text())
        found[folder.name] = (
            [(s["start"], s["end"]) for s in scenes],
            sorted((e["level"], e["start"], e["end"], e["source"], e["text"]) for e in entries),
        )
    return found


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The memories of plain runs, one video at a time in this process (`index VIDEO`)."""
    cache = tmp_path_factory.mktemp("plain-cache")
    with FakeOpenAIServer(honest_responder) as srv:
        config = AgentConfig.from_env({}, base_url=srv.base_url, cache_dir=cache)
        config = config.replace(index=dataclasses.replace(config.index, asr=False))
        for video in find_videos([corpus]):
            Agent(config).build(video)
    memories = snapshot(cache)
    assert len(memories) == 3
    return memories


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "ray":
        request.getfixturevalue("ray_runtime")
    return str(request.param)


def counts(out: str) -> tuple[int, int, int]:
    """(indexed, reused, failed) from the closing table."""
    header = re.search(r"indexed\s+reused\s+failed\s+hours\s+time.*\n\s*(\d+)\s+(\d+)\s+(\d+)", out)
    assert header, out
    return int(header[1]), int(header[2]), int(header[3])


def test_memories_equal_a_plain_run_and_a_bad_file_fails_alone(
    corpus: Path, reference: dict[str, object], backend: str, tmp_path: Path
) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    # The same content under another name: one memory, which the lock lets only one
    # process build; the other waits for it (or comes later) and reuses it.
    copy = Path(shutil.copy(corpus / "clip0.mp4", tmp_path / "copy-of-clip0.mp4"))
    args = ["index", str(corpus), str(bad), str(copy), "--no-asr", *BACKENDS[backend]]
    with FakeOpenAIServer(honest_responder) as srv:
        code, out, err = run(*args, "--base-url", srv.base_url)
        assert code == 1, out + err
        assert counts(out) == (3, 1, 1)
        assert "1 of 5 videos failed" in err and err.strip().count("\n") == 0
        table = out[out.index("failed video") :]
        assert "broken.mp4" in table and "not a readable video" in table
        for name in ("clip0.mp4", "clip1.mp4", "more/clip2.mp4"):
            assert re.search(rf"indexed\s+\S*{re.escape(name)}", out), out
        assert snapshot(tmp_path / "cache") == reference
        captioned = len([r for r in srv.requests if r.images])
        code, out, _ = run(*args, "--base-url", srv.base_url)
        assert code == 1 and counts(out) == (0, 4, 1)
        assert len([r for r in srv.requests if r.images]) == captioned  # nothing redone


def _children_matching(test: Callable[[bytes], bool]) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if test(cmdline):
            pids.append(int(entry.name))
    return pids


def _busy_workers(backend: str) -> list[int]:
    """The processes building a video right now."""
    if backend == "ray":  # Ray titles a worker process by the task it runs
        return _children_matching(lambda c: c.startswith(b"ray::index_video"))
    me = str(os.getpid())
    return [
        pid
        for pid in _children_matching(lambda c: b"spawn_main" in c)
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1] == me
    ]


def test_a_worker_killed_mid_video_is_replaced_and_the_run_completes(
    corpus: Path, reference: dict[str, object], backend: str, tmp_path: Path
) -> None:
    killed: list[int] = []

    def kill_on_first_caption(request: Request) -> str:
        if request.images and not killed:  # a build is in the middle of a video
            killed.extend(_busy_workers(backend))
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
        return honest_responder(request)

    with FakeOpenAIServer(kill_on_first_caption) as srv:
        code, out, err = run("index", str(corpus), "--no-asr", "--base-url", srv.base_url,
                             *BACKENDS[backend])  # fmt: skip
    assert killed, "no worker was building when the first caption was asked for"
    assert code == 0, out + err
    assert counts(out) == (3, 0, 0)
    assert snapshot(tmp_path / "cache") == reference


def test_find_videos_takes_files_folders_and_globs(corpus: Path, tmp_path: Path) -> None:
    (corpus / ".hidden").mkdir(exist_ok=True)
    (corpus / ".hidden" / "x.mp4").write_bytes(b"")
    (corpus / "notes.txt").write_text("not a video")
    clips = [corpus / "clip0.mp4", corpus / "clip1.mp4", corpus / "more" / "clip2.mp4"]
    assert find_videos([corpus]) == [c.resolve() for c in clips]
    assert find_videos([str(corpus / "**" / "*.mp4")]) == [c.resolve() for c in clips]
    # each once, in the order given; a file is taken as named
    assert find_videos([clips[2], corpus, corpus / "notes.txt"]) == [
        clips[2].resolve(), clips[0].resolve(), clips[1].resolve(), (corpus / "notes.txt").resolve()
    ]  # fmt: skip
    with pytest.raises(ConfigError, match="video not found"):
        find_videos([tmp_path / "missing.mp4"])
    with pytest.raises(ConfigError, match="no video file in"):
        find_videos([str(tmp_path / "*.mkv")])


def test_which_runs_are_corpus_runs(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = str(corpus / "clip0.mp4")
    assert not is_corpus([video], None, None)  # one video: today's output
    assert not is_corpus([str(tmp_path / "missing.mp4")], None, None)  # today's error
    assert is_corpus([video, video], None, None)
    assert is_corpus([str(corpus)], None, None)
    assert is_corpus([video], 2, None) and is_corpus([video], None, "")
    assert ray_address(None) is None and ray_address("") == "auto"
    assert ray_address("ray://head:10001") == "ray://head:10001"
    monkeypatch.setenv("MCR_RAY_ADDRESS", "10.0.0.5:6379")
    assert is_corpus([video], None, None)
    assert ray_address(None) == ray_address("") == "10.0.0.5:6379"
    assert ray_address("local") == "local"
    with pytest.raises(ConfigError, match="--ray=ADDRESS"):
        ray_address(video)


def test_usage_errors(corpus: Path, tmp_path: Path) -> None:
    video = str(corpus / "clip0.mp4")
    code, _, err = run("index", "--ray", video, video)  # --ray swallowed the first video
    assert code == 2 and "is a path, not a Ray address" in err
    code, _, err = run("index", "--ray", str(corpus))  # ... and the only one
    assert code == 2 and "is a path, not a Ray address" in err and "Missing argument" not in err
    code, _, err = run("index", "--ray", "clusterhost", video)
    assert code == 2 and "not auto, local or HOST:PORT" in err
    code, _, err = run("index", video, "--workers", "2", "--ray", "local")
    assert code == 2 and "drop it with --ray" in err
    srt = tmp_path / "a.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n")
    code, _, err = run("index", str(corpus), "--subtitles", str(srt))
    assert code == 2 and "--subtitles names one file for 3 videos" in err
    code, _, err = run("index", video, "--workers", "0")
    assert code == 2


def test_without_ray_installed_the_error_says_how_to_get_it(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    code, _, err = run("index", str(corpus / "clip0.mp4"), "--ray", "local")
    assert code == 1 and "pip install 'mcr-agent[ray]'" in err


def test_limit_threads_reaches_each_library() -> None:
    code = (
        "from memory.threads import limit_threads, thread_limit\n"
        "limit_threads(1)\n"
        "import os, cv2, faiss, torch\n"
        "from memory.asr import WhisperTranscriber\n"
        "from memory.embed_onnx import batch_threads\n"
        "print(thread_limit(), os.environ['OMP_NUM_THREADS'], torch.get_num_threads(),"
        " cv2.getNumThreads(), faiss.omp_get_max_threads(), WhisperTranscriber().cpu_threads,"
        " batch_threads())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1"] * 7


def test_the_bar_lines_and_table_of_a_run(corpus: Path) -> None:
    """The driver's view, on outcomes a scripted runner hands back (no workers)."""
    import io

    from rich.console import Console

    from mcr_agent.front.corpus.jobs import IndexJob, Outcome
    from mcr_agent.front.corpus.view import print_summary, run_corpus

    clips = find_videos([corpus])
    jobs = [IndexJob(v) for v in clips]

    class Scripted:
        def run(self, jobs: list[IndexJob]) -> list[Outcome]:
            return [
                Outcome(video=jobs[0].video, status="indexed", duration=3.5, seconds=2.0,
                        scenes=2, missing_captions=2,
                        caption_error="the server refused scene 0: image too large [400]"),
                Outcome(video=jobs[1].video, status="reused", duration=3.0),
                Outcome.failure(jobs[2].video, "it is broken [really]: re-encode it", "VideoError"),
            ]  # fmt: skip

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=200, color_system=None)
    summary = run_corpus(console, Scripted(), jobs, where="2 worker processes")
    print_summary(console, summary, base_url="http://127.0.0.1:9/v1")
    text = buffer.getvalue()
    assert "3 videos (0:10 of video) on 2 worker processes" in text
    assert "3/3 videos" in text and "x real time" in text  # the bar's last state
    assert re.search(r"indexed\s+\S*clip0.mp4\s+\(0:04 of video, 2 scenes, 2.0 s, 2 scenes", text)
    assert re.search(r"reused\s+\S*clip1.mp4", text)
    assert "it is broken [really]: re-encode it" in text  # not read as markup
    assert counts(text) == (1, 1, 1)
    assert (
        "1 video with scenes without captions (the server refused scene 0: image too large" in text
    )
    assert "2 scenes lack captions: the server refused scene 0: image too large [400]" in text
    assert summary.indexed_seconds == 3.5 and [o.status for o in summary.failed] == ["failed"]
