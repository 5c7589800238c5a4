"""End to end: speech, on-screen text, captions from a local server, search, cache, resume."""

from __future__ import annotations

import errno
import json
import math
import os
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from mcr_agent.errors import CacheError, ModelServerError
from mcr_agent.model.captioner import VLMCaptioner
from memory import IndexSettings, Level, build_memory
from tests.conftest import CUTS, captioner_for
from tests.fake_openai import HANG_GUARD_S, FakeOpenAIServer, Reply, dead_url

OCR = IndexSettings(ocr=True)


@pytest.fixture(scope="module")
def built(speech_video: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.conftest import honest_responder

    cache = tmp_path_factory.mktemp("built")
    with FakeOpenAIServer(honest_responder) as srv:
        memory, report = build_memory(
            speech_video, settings=OCR, cache=cache, captioner=captioner_for(srv)
        )
        return memory, report, list(srv.requests), cache


def test_scenes_speech_text(built) -> None:  # type: ignore[no-untyped-def]
    memory, report, _, _ = built
    starts = [s.start for s in memory.scenes]
    assert starts[1:] == pytest.approx(CUTS, abs=0.05)
    words = " ".join(e.text.lower() for e in memory.level(Level.ASR))
    assert "first scene" in words and "red car" in words
    car = next(e for e in memory.level(Level.ASR) if "car" in e.text.lower())
    assert 9.0 <= car.start < 15.0  # spoken in scene 2
    ocr = {e.text: e for e in memory.level(Level.OCR)}
    assert "SCORE 42" in ocr and ocr["SCORE 42"].end <= 5.0 + 1e-6
    assert "HELLO WORLD" in ocr and ocr["HELLO WORLD"].start >= 15.0 - 1e-6
    assert report.missing_captions == []
    assert report.counts["captions"] == len(memory.scenes)


def test_caption_requests_as_received(built) -> None:  # type: ignore[no-untyped-def]
    memory, _, requests, _ = built
    captions = [r for r in requests if r.images]
    assert len(captions) == len(memory.scenes)
    for scene in memory.scenes:
        req = next(r for r in captions if f"[{scene.start:.1f} s, {scene.end:.1f} s]" in r.texts)
        assert len(req.images) == len(scene.keyframes)
        assert req.image_timestamps == pytest.approx([k.time for k in scene.keyframes], abs=0.05)
        assert all(img[:2] == b"\xff\xd8" for img in req.images)  # JPEG
    first = next(r for r in captions if "[0.0 s," in r.texts)
    assert "first scene" in first.texts.lower()  # transcript given as context
    # segment summaries and one video summary follow the captions
    assert memory.level(Level.SEGMENT) and len(memory.level(Level.VIDEO)) == 1
    assert memory.summary is not None and memory.summary.end == pytest.approx(memory.duration)


def test_search_by_meaning_time_and_level(built) -> None:  # type: ignore[no-untyped-def]
    memory, *_ = built
    hit = memory.search("an automobile left beside a bridge", k=1, levels=["asr"], mode="semantic")[
        0
    ]
    assert hit.entry.level is Level.ASR and "car" in hit.entry.text.lower()
    hit = memory.search("score 42", k=1, levels=[Level.SCENE])[0]
    assert hit.entry.level is Level.SCENE and hit.entry.start == 0.0
    hits = memory.search("hello world", k=3)
    assert any(h.entry.level is Level.OCR and h.entry.start >= 15.0 - 1e-6 for h in hits)
    window = memory.window(15.5, 16.0)
    assert {e.level for e in window} >= {Level.SCENE, Level.OCR}
    assert all(e.overlaps(15.5, 16.0) for e in window)
    assert [e.start for e in memory.level("scene")] == sorted(e.start for e in memory.scenes)


def test_second_run_rebuilds_nothing(built, speech_video: Path) -> None:  # type: ignore[no-untyped-def]
    memory, _, _, cache = built
    stamp = os.stat(memory.folder / "manifest.json").st_mtime_ns
    with FakeOpenAIServer() as srv:
        again, report = build_memory(
            speech_video, settings=OCR, cache=cache, captioner=captioner_for(srv)
        )
        assert srv.requests == []
    assert report.reused and report.seconds == {}
    assert os.stat(again.folder / "manifest.json").st_mtime_ns == stamp
    assert again.load_seconds < 1.0


def test_dead_server_then_complete(speech_video: Path, tmp_path: Path) -> None:
    settings = IndexSettings(asr=False)
    from mcr_agent import AgentConfig
    from mcr_agent.model.captioner import VLMCaptioner
    from mcr_agent.model.client import OpenAIVideoLLM

    dead = VLMCaptioner(OpenAIVideoLLM(AgentConfig(base_url=dead_url(), model="m", max_retries=0)))
    memory, report = build_memory(speech_video, settings=settings, cache=tmp_path, captioner=dead)
    assert report.missing_captions == [s.index for s in memory.scenes]
    assert report.caption_error and "no model server answers" in report.caption_error
    assert all(e.source == "uncaptioned" for e in memory.level(Level.SCENE))
    from tests.conftest import honest_responder

    with FakeOpenAIServer(honest_responder) as srv:
        memory, report = build_memory(
            speech_video, settings=settings, cache=tmp_path, captioner=captioner_for(srv)
        )
    assert report.missing_captions == []
    assert "scenes" not in report.seconds  # scenes were not detected again
    assert all(e.source == "caption" for e in memory.level(Level.SCENE))


def test_resume_after_crash_asks_only_for_missing(speech_video: Path, tmp_path: Path) -> None:
    settings = IndexSettings(asr=False)
    calls = {"n": 0}

    def crash_after_two(request):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt  # the server-side stand-in for Ctrl-C mid-run
        return "A caption."

    class Crashing:
        name = "fake-vlm"
        prompt_versions: ClassVar[dict[str, str]] = VLMCaptioner(None).prompt_versions  # type: ignore[arg-type]

        def caption_scene(self, request):  # type: ignore[no-untyped-def]
            return crash_after_two(request)

        def summarize(self, request):  # type: ignore[no-untyped-def]
            return "A summary."

    with pytest.raises(KeyboardInterrupt):
        build_memory(speech_video, settings=settings, cache=tmp_path, captioner=Crashing())
    folder = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert not (folder / "manifest.json").exists()
    assert not list(folder.rglob("*.tmp"))
    from tests.conftest import honest_responder

    with FakeOpenAIServer(honest_responder) as srv:
        memory, report = build_memory(
            speech_video, settings=settings, cache=tmp_path, captioner=captioner_for(srv)
        )
        caption_requests = [r for r in srv.requests if r.images]
    assert len(caption_requests) == len(memory.scenes) - 2
    assert "scenes" not in report.seconds
    assert report.missing_captions == []


def test_empty_reply_marks_scene_missing(speech_video: Path, tmp_path: Path) -> None:
    def reply(request):  # type: ignore[no-untyped-def]
        return Reply(content="") if "[0.0 s," in request.texts else "fine caption"

    with FakeOpenAIServer(reply) as srv:
        _, report = build_memory(
            speech_video,
            settings=IndexSettings(asr=False),
            cache=tmp_path,
            captioner=captioner_for(srv),
        )
    assert report.missing_captions == [0]


def test_failing_server_stops_captioning(speech_video: Path, tmp_path: Path) -> None:
    with FakeOpenAIServer(lambda r: Reply(status=503)) as srv:
        _, report = build_memory(
            speech_video,
            settings=IndexSettings(asr=False),
            cache=tmp_path,
            captioner=captioner_for(srv),
        )
    assert report.caption_error and "HTTP 503" in report.caption_error
    assert len(report.missing_captions) == 4


@pytest.mark.parametrize(
    ("code", "words"), [(errno.EROFS, "set MCR_CACHE_DIR"), (errno.ENOSPC, "no space left")]
)
def test_read_only_or_full_cache(
    speech_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    # Root ignores permissions and no test may fill a disk: the OS error is injected where
    # the first stage result is written, after real decoding work has been done.
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr("memory.store.tempfile.mkstemp", refuse)
    with pytest.raises(CacheError, match=words) as err:
        build_memory(speech_video, settings=IndexSettings(asr=False), cache=tmp_path)
    assert "\n" not in str(err.value)
    assert not list(tmp_path.rglob("*.json")) and not list(tmp_path.rglob("*.tmp"))
    assert not list(tmp_path.rglob("*.jpg"))


def test_cache_on_a_file_is_a_clear_error(speech_video: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises((CacheError, OSError)):
        build_memory(speech_video, cache=blocker / "cache")


def test_two_builders_build_once(speech_video: Path, tmp_path: Path) -> None:
    settings = IndexSettings(asr=False)
    results: list[object] = []

    def run() -> None:
        results.append(build_memory(speech_video, settings=settings, cache=tmp_path)[1])

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reused = sorted(r.reused for r in results)  # type: ignore[attr-defined]
    assert reused == [False, True]


def test_model_server_error_is_one_line() -> None:
    from mcr_agent import AgentConfig
    from mcr_agent.model.client import OpenAIVideoLLM

    llm = OpenAIVideoLLM(AgentConfig(base_url=dead_url(), max_retries=0))
    with pytest.raises(ModelServerError) as err:
        llm.ping()
    assert "\n" not in str(err.value) and "MCR_BASE_URL" in str(err.value)


def test_retries_on_429_then_garbage_reply_skips_scene(speech_video: Path, tmp_path: Path) -> None:
    from mcr_agent import AgentConfig
    from mcr_agent.model.captioner import VLMCaptioner
    from mcr_agent.model.client import OpenAIVideoLLM

    seen: list[str] = []

    def reply(request):  # type: ignore[no-untyped-def]
        key = (
            "first"
            if "[0.0 s," in request.texts
            else "garbage"
            if "[5.0 s," in request.texts
            else ""
        )
        seen.append(key)
        if key == "first" and seen.count("first") == 1:
            return Reply(status=429, retry_after=0.01)
        if key == "garbage":
            return Reply(body=b"<html>proxy error</html>")
        return "a caption"

    with FakeOpenAIServer(reply) as srv:
        config = AgentConfig(base_url=srv.base_url, model="m", max_retries=2, max_concurrency=1)
        _, report = build_memory(
            speech_video,
            settings=IndexSettings(asr=False),
            cache=tmp_path,
            captioner=VLMCaptioner(OpenAIVideoLLM(config)),
        )
    assert seen.count("first") == 2  # retried once after the 429
    assert report.missing_captions == [1]
    # A body that is no chat completion is a server fault: retried, then named.
    assert seen.count("garbage") == 3
    assert report.caption_error and "not chat completions" in report.caption_error


def test_video_without_audio_skips_speech(tmp_path: Path) -> None:
    from mcr_agent.front.media import make_scenes_video

    video = make_scenes_video(tmp_path / "silent.mp4", scene_seconds=[2.0, 2.0])
    memory, report = build_memory(video, cache=tmp_path / "cache")
    assert not memory.info.has_audio
    assert report.counts["asr"] == 0 and len(memory.scenes) == 2


def test_unknown_asr_model_is_one_line(speech_video: Path, tmp_path: Path) -> None:
    from mcr_agent.errors import DependencyError

    empty = tmp_path / "not-a-model"
    empty.mkdir()
    with pytest.raises(DependencyError, match=r"--asr-model tiny\.en") as err:
        build_memory(speech_video, settings=IndexSettings(asr_model=str(empty)), cache=tmp_path)
    assert "\n" not in str(err.value)


def test_an_indexed_video_is_recalled_not_probed(  # type: ignore[no-untyped-def]
    built, speech_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses
    import shutil

    import memory.build
    from mcr_agent.errors import VideoError
    from memory import probe, probe_or_recall

    _, _, _, cache = built
    probed: list[Path] = []
    monkeypatch.setattr(memory.build, "probe", lambda path: probed.append(path) or probe(path))
    copy = Path(shutil.copy(speech_video, tmp_path / "renamed.mp4"))
    assert probe_or_recall(speech_video, cache) == probe(speech_video)
    assert probe_or_recall(copy, cache) == dataclasses.replace(
        probe(speech_video), path=str(copy.resolve())
    )
    assert probed == []  # both answered from the memory
    with copy.open("ab") as f:  # another content: no memory of it
        f.write(b"\0" * 64)
    assert probe_or_recall(copy, cache).path == str(copy.resolve()) and probed == [copy]
    # Another schema version's memory, or a damaged video info.
    changes = [{"schema": 1}, {"duration": "long"}, {"duration": -5}, {"width": 1.5}]
    for n, change in enumerate(changes):
        other = Path(shutil.copytree(cache, tmp_path / f"cache{n}"))
        for manifest in other.glob("*/manifest.json"):
            saved = json.loads(manifest.read_text())
            top = "schema" in change
            saved.update(change if top else {"video": {**saved["video"], **change}})
            manifest.write_text(json.dumps(saved))
        assert probe_or_recall(speech_video, other) == probe(speech_video)
    assert probed == [copy, *[speech_video] * len(changes)]
    with pytest.raises(VideoError, match="video not found"):
        probe_or_recall(tmp_path / "gone.mp4", cache)


def test_an_unreadable_manifest_is_probed_past_then_one_line(  # type: ignore[no-untyped-def]
    built, speech_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import memory.build
    from memory import probe, probe_or_recall

    _, _, _, cache = built

    def unreadable(path: Path) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(memory.build, "read_json", unreadable)
    assert probe_or_recall(speech_video, cache) == probe(speech_video)
    with pytest.raises(CacheError, match=r"Permission denied.*set MCR_CACHE_DIR"):
        build_memory(speech_video, settings=OCR, cache=cache)


def test_a_memory_removed_while_found_is_skipped(  # type: ignore[no-untyped-def]
    built, speech_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import memory.build
    from memory.build import find_memory

    memory_, _, _, cache = built
    gone = memory_.folder.parent / f"{memory_.folder.name[:20]}-gone" / "manifest.json"
    real = memory.build.cache_dir(cache)

    class Racing:  # a folder whose glob names a manifest a rebuild has just removed
        def glob(self, pattern: str) -> list[Path]:
            return [gone, *real.glob(pattern)]

    monkeypatch.setattr(memory.build, "cache_dir", lambda _: Racing())
    assert find_memory(speech_video, cache) == memory_.folder


def test_damaged_memory_is_a_clear_error(built) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from memory import VideoMemory

    memory, *_ = built
    copy = memory.folder.parent / "damaged"
    shutil.copytree(memory.folder, copy)
    (copy / "index" / "scene.faiss").write_bytes(b"garbage")
    with pytest.raises(CacheError, match="--force"):
        VideoMemory.load(copy)


def test_summary_failure_is_retried(speech_video: Path, tmp_path: Path) -> None:
    from tests.conftest import honest_responder

    settings = IndexSettings(asr=False)
    with FakeOpenAIServer(lambda r: Reply(status=503) if not r.images else "cap") as srv:
        memory, report = build_memory(
            speech_video, settings=settings, cache=tmp_path, captioner=captioner_for(srv)
        )
    assert report.missing_captions == [] and report.caption_error
    assert memory.manifest["captions_incomplete"] and memory.summary is None
    with FakeOpenAIServer(honest_responder) as srv:
        memory, report = build_memory(
            speech_video, settings=settings, cache=tmp_path, captioner=captioner_for(srv)
        )
        assert not [r for r in srv.requests if r.images]  # captions kept, summaries asked
    assert memory.summary is not None and not report.reused


def test_other_model_recaptions(speech_video: Path, tmp_path: Path) -> None:
    from mcr_agent import AgentConfig
    from mcr_agent.model.captioner import VLMCaptioner
    from mcr_agent.model.client import OpenAIVideoLLM

    settings = IndexSettings(asr=False)
    with FakeOpenAIServer(lambda r: "caption") as srv:
        build_memory(speech_video, settings=settings, cache=tmp_path, captioner=captioner_for(srv))
        config = AgentConfig(base_url=srv.base_url, model="other", timeout=HANG_GUARD_S)
        other = VLMCaptioner(OpenAIVideoLLM(config))
        before = len(srv.requests)
        memory, _ = build_memory(speech_video, settings=settings, cache=tmp_path, captioner=other)
        assert len([r for r in srv.requests[before:] if r.images]) == len(memory.scenes)
    assert memory.manifest["models"]["caption"] == "other"


def test_damaged_manifest_is_a_clear_error(speech_video: Path, tmp_path: Path) -> None:
    memory, _ = build_memory(speech_video, settings=IndexSettings(asr=False), cache=tmp_path)
    manifest = memory.folder / "manifest.json"
    saved = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**saved, "video": {**saved["video"], "duration": math.nan}}))
    with pytest.raises(CacheError, match=r"damaged \(ValueError\).*--force"):
        build_memory(speech_video, settings=IndexSettings(asr=False), cache=tmp_path)
    manifest.write_text("{not json")
    with pytest.raises(CacheError, match="--force"):
        build_memory(speech_video, settings=IndexSettings(asr=False), cache=tmp_path)


def test_search_while_another_process_indexes(speech_video: Path, tmp_path: Path) -> None:
    from filelock import FileLock

    from memory import open_memory
    from memory.build import memory_folder

    settings = IndexSettings(asr=False)
    build_memory(speech_video, settings=settings, cache=tmp_path)
    folder = memory_folder(speech_video, settings, tmp_path)
    assert open_memory(speech_video, tmp_path) is not None
    lock = FileLock(str(folder.parent / f"{folder.name}.lock"))
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            held.set()
            done.wait(HANG_GUARD_S)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(HANG_GUARD_S), "the other indexer never took the lock"
        with pytest.raises(CacheError, match="being indexed"):
            open_memory(speech_video, tmp_path)
    finally:
        done.set()
        holder.join()
