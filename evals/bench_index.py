"""Indexing speed against the physical limit of this machine (decode-only), with targets.

Run from the repository root::

    python -m evals.bench_index [--video PATH] [--minutes 10] [--out DIR] [--quick]

Prints one row per stage (seconds, video seconds per wall second, target, PASS/FAIL) and
writes the same as JSON to ``<out>/bench_index.json``. Models are loaded before the stages
that use them are timed; their one-time load is reported on its own row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

import memory
from memory.asr import WhisperTranscriber
from memory.embed import SentenceEmbedder
from memory.index import EntryIndex
from memory.ocr import KeyframeReader, read_scenes
from memory.records import Entry, Keyframe, Level, Scene, VideoInfo
from memory.scenes import pick_keyframes, scan_video, split_scenes
from memory.settings import SCHEMA_VERSION, IndexSettings
from memory.store import write_json

from .scene_agreement import Agreement, agreement, footage_set

ROOT = Path(__file__).resolve().parents[1]
LATENCY, CONCURRENCY, MIN_CAPTION_SCENES = 0.5, 4, 40
T = TypeVar("T")
_SUBJECTS = (
    "the red ferry",
    "our guide",
    "the harbor master",
    "a small fishing boat",
    "the old lighthouse",
    "the market on the square",
    "the city museum",
    "the ticket office",
    "the captain",
    "a group of tourists",
    "the night bus",
)
_VERBS = ("leaves", "opens", "arrives", "closes", "waits", "turns around", "stops", "starts")
_TAILS = (
    "at nine in the morning",
    "near the north pier",
    "after the storm passes",
    "every Sunday in summer",
    "before the bridge opens",
    "next to the station",
    "when the tide is high",
    "at half past four",
    "behind the fish market",
)
_EXTRAS = (
    "and the view from there is beautiful",
    "so please keep your tickets ready",
    "because the coast road is closed today",
    "which is why we start a bit earlier",
    "and children under six travel for free",
    "as you can see on the map",
)


CPU: dict[str, float] = {}
"""Process CPU seconds of the last `timed` call, under key "last"."""


class _CountingReader(KeyframeReader):
    """A reader that counts the images it is asked to read (and reads them with `inner`)."""

    def __init__(self, inner: KeyframeReader) -> None:
        super().__init__(min_score=inner.min_score)
        self.inner = inner
        self.reads = 0

    def read(self, image: bytes | np.ndarray) -> str:
        self.reads += 1
        return self.inner.read(image)


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """Call `fn`; return its result and the wall seconds it took (CPU seconds in `CPU`)."""
    start, cpu = time.perf_counter(), time.process_time()
    value = fn()
    CPU["last"] = time.process_time() - cpu
    return value, time.perf_counter() - start


@dataclass
class Row:
    """One line of the result table."""

    stage: str
    seconds: float
    xrt: float | None = None
    target: str = ""
    ok: bool | None = None
    cpu: float | None = None


def sentence(rng: random.Random, lo: int = 6, hi: int = 25) -> str:
    """A transcript-like sentence of `lo`..`hi` words."""
    while True:
        parts = [f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_TAILS)}"]
        if rng.random() < 0.5:
            parts.append(rng.choice(_EXTRAS))
        if rng.random() < 0.4:
            parts.append(f"and {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_TAILS)}")
        text = " ".join(parts)
        if lo <= len(text.split()) <= hi:
            return text[0].upper() + text[1:] + "."


def machine_facts() -> dict[str, Any]:
    """CPU count and model, Python and library versions."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    versions = {}
    for name in (
        "av",
        "scenedetect-headless",
        "faster-whisper",
        "ctranslate2",
        "torch",
        "sentence-transformers",
        "faiss-cpu",
        "rapidocr",
        "onnxruntime",
    ):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "python": platform.python_version(),
        "versions": versions,
    }


def make_video(out: Path, minutes: float) -> Path:
    """The benchmark video (1280x720, 30 fps, speech, some on-screen text), cached in `out`."""
    from mcr_agent.front.media import make_scenes_video

    path = out / f"bench-{minutes:g}min.mp4"
    if path.exists():
        return path
    rng, target = random.Random(int(minutes * 60)), minutes * 60
    lengths: list[float] = []
    while sum(lengths) < target:
        secs = min(
            rng.choice((5, 6, 7, 8, 10, 12, 14, 16, 18, 20, 25, 30, 40)), target - sum(lengths)
        )
        if secs < 5 and lengths:
            lengths[-1] += secs
        else:
            lengths.append(secs)
    speech: list[str | None] = []
    for i, secs in enumerate(lengths):
        said: list[str] = []
        while i % 2 == 0 and len(said) < 4:  # espeak: ~0.42 s a word, ~0.5 s a pause
            said.append(sentence(rng, 6, 14))
            if 0.42 * len(" ".join(said).split()) + 0.5 * len(said) > secs - 0.5:
                said.pop()
                break
        speech.append(" ".join(said) or None)
    texts = [
        f"HARBOR TOUR PART {i} TICKETS {8 + i % 7} EUROS" if i % 3 == 1 else None
        for i in range(len(lengths))
    ]
    print(f"generating {path} ({len(lengths)} scenes, {target:g} s); this takes a while")
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{path.name}.tmp.mp4"
    make_scenes_video(
        tmp, scene_seconds=lengths, fps=30, size=(1280, 720), texts=texts, speech=speech
    )
    tmp.replace(path)
    return path


def decode_only(path: str) -> tuple[float, float]:
    """Wall and CPU seconds to decode every frame with PyAV, no conversion.

    The best of two runs each with FFmpeg's slice threading and with frame+slice
    ("AUTO") threading: whichever is faster on this machine is the physical limit.
    """
    import av

    best = (float("inf"), 0.0)
    for mode in ("SLICE", "AUTO", "SLICE", "AUTO"):
        start, cpu = time.perf_counter(), time.process_time()
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = mode
            for _frame in container.decode(stream):
                pass
        best = min(best, (time.perf_counter() - start, time.process_time() - cpu))
    return best


def entries_for(rng: random.Random, n: int, duration: float) -> list[Entry]:
    """`n` entries with unique transcript-like texts (10-25 words) of mixed levels."""
    kinds = (
        [(Level.ASR, "asr:tiny.en")] * 12
        + [(Level.SCENE, "caption")] * 4
        + [(Level.OCR, "ocr")] * 3
        + [(Level.SEGMENT, "summary")]
    )
    texts: set[str] = set()
    while len(texts) < n:
        texts.add(sentence(rng, 10, 25))
    out = []
    for i, text in enumerate(sorted(texts)):
        level, source = (Level.VIDEO, "summary") if i == 0 else rng.choice(kinds)
        start = rng.uniform(0, duration - 10)
        out.append(Entry(start, start + rng.uniform(2, 10), level, source, text))
    return out


def synth_hour(folder: Path, dim: int, jpeg: bytes) -> dict[str, int]:
    """Write the memory folder of a (virtual) 1-hour video; vectors are random unit rows."""
    rng = random.Random(3600)
    scenes = [
        Scene(
            i,
            15.0 * i,
            15.0 * i + 15,
            tuple(
                Keyframe(15.0 * i + t, f"keyframes/{i:05d}_{15.0 * i + t:010.3f}.jpg")
                for t in (3.75, 11.25)
            ),
        )
        for i in range(240)
    ]
    for s in scenes:
        for k in s.keyframes:
            (folder / k.path).parent.mkdir(parents=True, exist_ok=True)
            (folder / k.path).write_bytes(jpeg)

    def para(k: int) -> str:
        return " ".join(sentence(rng) for _ in range(k))

    entries = [
        Entry(s.start, s.end, Level.SCENE, "caption", para(3), tuple(k.path for k in s.keyframes))
        for s in scenes
    ]
    entries += [
        Entry(
            120.0 * j,
            120.0 * j + 120,
            Level.SEGMENT,
            "summary",
            para(4),
            tuple(s.keyframes[0].path for s in scenes[8 * j : 8 * j + 8]),
        )
        for j in range(30)
    ]
    entries.append(Entry(0.0, 3600.0, Level.VIDEO, "summary", para(6)))
    entries += [
        Entry(4.0 * i, 4.0 * i + 3.5, Level.ASR, "asr:tiny.en", sentence(rng)) for i in range(900)
    ]
    entries += [
        Entry(
            12.0 * i,
            12.0 * i + 12,
            Level.OCR,
            "ocr",
            f"PLATFORM {i % 9} EXIT {i}",
            (scenes[i * 12 // 15].keyframes[0].path,),
        )
        for i in range(300)
    ]
    vectors = np.random.default_rng(0).standard_normal((len(entries), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    EntryIndex.build(entries, vectors).save(folder)
    np.save(folder / "vectors.npy", vectors)
    write_json(folder / "entries.json", [e.to_dict() for e in entries])
    write_json(folder / "scenes.json", [s.to_dict() for s in scenes])
    counts = {
        "scenes": 240,
        "asr": 900,
        "subtitle": 0,
        "ocr": 300,
        "captions": 240,
        "entries": len(entries),
    }
    info = VideoInfo(
        "/nonexistent/synthetic-1h.mp4", 3600.0, 30.0, 1280, 720, 0, True, False, "h264"
    )
    write_json(
        folder / "manifest.json",
        {
            "schema": SCHEMA_VERSION,
            "complete": True,
            "captions_incomplete": False,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "fingerprint": "0" * 20,
            "video": info.to_dict(),
            "settings": IndexSettings().memory_fields(),
            "models": {"asr": "tiny.en", "embed": "all-MiniLM-L6-v2", "caption": "synthetic"},
            "prompt_versions": {},
            "counts": counts,
            "missing_captions": [],
            "stage_seconds": {},
            "warnings": [],
        },
    )
    return counts


_LOAD = """import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
import faiss, numpy, memory
t1 = time.perf_counter()
m = memory.VideoMemory.load(Path(sys.argv[1]))
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "entries": len(m.entries)}))
"""


def caption_bench(video: Path, cache: Path, duration: float, scenes: int) -> dict[str, Any]:
    """Caption every scene through a fake server of fixed latency; returns the figures."""
    sys.path.insert(0, str(ROOT))
    from mcr_agent import AgentConfig
    from mcr_agent.model.captioner import VLMCaptioner
    from mcr_agent.model.client import OpenAIVideoLLM
    from tests.fake_openai import FakeOpenAIServer

    settings = IndexSettings(caption_concurrency=CONCURRENCY)
    if scenes < MIN_CAPTION_SCENES:  # cut the video into more (shorter) scenes
        cap = max(1.0, int(10 * duration / MIN_CAPTION_SCENES) / 10)
        settings = IndexSettings(caption_concurrency=CONCURRENCY, max_scene_seconds=cap)
    memory.build_memory(video, settings=settings, cache=cache, captioner=None)
    with FakeOpenAIServer(latency=LATENCY) as srv:
        config = AgentConfig(base_url=srv.base_url, model="fake-vlm", max_concurrency=CONCURRENCY)
        captioner = VLMCaptioner(OpenAIVideoLLM(config))
        mem, report = memory.build_memory(
            video, settings=settings, cache=cache, captioner=captioner
        )
        return {
            "scenes": len(mem.scenes),
            "seconds": report.seconds,
            "server_max_concurrency": srv.max_concurrency,
            "requests": len(srv.requests),
            "missing": len(report.missing_captions),
            "error": report.caption_error,
        }


def agreement_row(video: Path, out: Path) -> tuple[Row, Agreement]:
    """Scene cuts against PySceneDetect's ``detect()`` at its defaults, within one frame,
    on the footage spread and the benchmark video."""
    agree, seconds = timed(lambda: agreement([*footage_set(out), video]))
    row = Row(
        f"cuts vs PySceneDetect detect(), ±1 frame, {len(agree.files)} files "
        f"({agree.matched} both, {agree.extra} ours only, {agree.missed} library only)",
        seconds,
        None,
        f"precision {agree.precision:.3f}, recall {agree.recall:.3f}",
    )
    return row, agree


def main(argv: list[str] | None = None) -> None:
    """Run every stage, print the table and write ``<out>/bench_index.json``."""
    parser = argparse.ArgumentParser(prog="python -m evals.bench_index", description=__doc__)
    parser.add_argument("--video", type=Path, help="benchmark this file instead")
    parser.add_argument("--minutes", type=float, default=10.0, help="generated video length")
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--quick", action="store_true", help="2-minute smoke run")
    args = parser.parse_args(argv)
    facts = machine_facts()
    print(f"machine: {facts['nproc']} cores, {facts['cpu']}, Python {facts['python']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in facts["versions"].items()))
    video = args.video or make_video(args.out, 2.0 if args.quick else args.minutes)
    info = memory.probe(video)
    dur = info.duration
    print(
        f"video: {video} ({dur:.1f} s, {info.width}x{info.height} @ {info.fps:.2f} fps, "
        f"{info.codec}, audio={info.has_audio})\n"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    settings = IndexSettings()
    import scenedetect.detectors  # noqa: F401  (imports are not part of the stage)

    decode, decode_cpu = decode_only(info.path)
    rows = [
        Row(
            "decode only (PyAV, best of slice/frame threads x2)",
            decode,
            dur / decode,
            "physical limit",
            cpu=decode_cpu,
        )
    ]
    with tempfile.TemporaryDirectory(prefix="bench-", dir=args.out) as work:
        tmp = Path(work)

        def scenes_alone() -> list[Scene]:
            scan = scan_video(info, settings)
            spans = split_scenes(scan.cuts, scan.end, max_seconds=settings.max_scene_seconds)
            return pick_keyframes(spans, scan.samples, tmp / "alone", settings, scan.text_samples)

        scenes, t_scenes = timed(scenes_alone)
        cpu_alone = {"scenes": CPU["last"]}
        share = decode / t_scenes
        rows.append(
            Row(
                f"scenes + keyframes alone ({len(scenes)} scenes)",
                t_scenes,
                dur / t_scenes,
                f">= 60% of decode rate (is {share:.0%})",
                share >= 0.6,
                CPU["last"],
            )
        )
        asr = WhisperTranscriber(settings.asr_model, beam_size=settings.asr_beam_size)
        rows.append(Row("ASR tiny.en model load (one-time)", timed(asr._model)[1]))
        lines, t_asr = timed(lambda: asr.transcribe(info.path) if info.has_audio else [])
        cpu_alone["asr"] = CPU["last"]
        rows.append(
            Row(
                f"ASR tiny.en alone ({len(lines)} lines)",
                t_asr,
                dur / t_asr,
                ">= 30x real time",
                dur / t_asr >= 30,
                CPU["last"],
            )
        )
        reader, first = KeyframeReader(), tmp / "alone" / scenes[0].keyframes[0].path
        load = timed(lambda: reader.read(first.read_bytes()))[1]
        rows.append(Row("OCR engine load + first image (one-time)", load))
        keyframes_only = [replace(s, text_frames=()) for s in scenes]
        before, t_before = timed(lambda: read_scenes(keyframes_only, tmp / "alone", reader))
        cpu_before = CPU["last"]
        counter = _CountingReader(reader)
        texts, t_ocr = timed(lambda: read_scenes(scenes, tmp / "alone", counter))
        cpu_alone["ocr"] = CPU["last"]
        keys = sum(len(s.keyframes) for s in scenes)
        changes = sum(len(s.text_frames) for s in scenes)
        rows.append(
            Row(
                f"OCR keyframes only, no text frames ({keys} read, {len(before)} texts)",
                t_before,
                dur / t_before,
                cpu=cpu_before,
            )
        )
        rows.append(
            Row(
                f"OCR alone: {keys} keyframes + {changes} text frames "
                f"({counter.reads} read, {len(texts)} texts)",
                t_ocr,
                dur / t_ocr,
                f"(is {t_ocr / t_before:.2f}x keyframes only)",
                cpu=CPU["last"],
            )
        )

        embedder = SentenceEmbedder()
        load = timed(lambda: embedder.embed(["warm up"]))[1]
        rows.append(Row("embed model import + load + first call (one-time)", load))
        entries = entries_for(random.Random(1000), 1000, max(dur, 60.0))

        def embed_and_index() -> np.ndarray:
            vectors = embedder.embed([e.text for e in entries])
            EntryIndex.build(entries, vectors).save(tmp / "embed")
            return vectors

        vectors, t_embed = timed(embed_and_index)
        rows.append(
            Row("embed + index + save 1,000 entries (warm)", t_embed, None, "< 6 s", t_embed < 6)
        )

        (_mem, report), wall = timed(
            lambda: memory.build_memory(
                video, settings=IndexSettings(ocr=True), cache=tmp / "cache", captioner=None
            )
        )
        sec = report.seconds
        for key, alone in (
            ("scenes", t_scenes),
            ("speech (in parallel)", t_asr),
            ("on-screen text", t_ocr),
        ):
            if key in sec:
                rows.append(
                    Row(f"  in full build: {key} (alone {alone:.2f} s)", sec[key], dur / sec[key])
                )
        no_model = sec["total"] - sum(
            sec.get(k, 0.0) for k in ("embeddings", "captions", "summaries")
        )
        slowest = max(t_scenes, t_asr, t_ocr)
        rows.append(
            Row(
                "full build: no-model stages together",
                no_model,
                dur / no_model,
                f"<= 1.3 x slowest alone = {1.3 * slowest:.2f} s (is {no_model / slowest:.2f}x)",
                no_model <= 1.3 * slowest,
            )
        )
        build_cpu = CPU["last"]
        cores = os.cpu_count() or 1
        bound = sum(cpu_alone.values()) / cores
        rows.append(
            Row(
                f"  bound: CPU-s of the stages alone / {cores} cores",
                bound,
                dur / bound,
                f"(1.3 x slowest is {1.3 * slowest / bound:.2f}x this bound)",
            )
        )
        rows.append(
            Row(
                f"full build: total (wall {wall:.2f} s)",
                sec["total"],
                dur / sec["total"],
                cpu=build_cpu,
            )
        )

        agree_row, agree = agreement_row(Path(video), args.out)
        rows.append(agree_row)

        cap = caption_bench(Path(video), tmp / "cache", dur, len(scenes))
        n, t_cap = cap["scenes"], cap["seconds"].get("captions", float("nan"))
        ideal = n * LATENCY / CONCURRENCY
        rows.append(
            Row(
                f"captions N={n} L={LATENCY:g}s C={CONCURRENCY} "
                f"(server max in flight {cap['server_max_concurrency']})",
                t_cap,
                None,
                f"<= 1.2 x N*L/C = {1.2 * ideal:.2f} s (is {t_cap / ideal:.2f}x)",
                t_cap <= 1.2 * ideal,
            )
        )

        counts = synth_hour(tmp / "hour", int(vectors.shape[1]), first.read_bytes())
        proc = subprocess.run(
            [sys.executable, "-c", _LOAD, str(tmp / "hour")],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        loaded = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(Row("1-h memory: imports in fresh process", loaded["import"]))
        rows.append(
            Row(
                f"1-h memory: VideoMemory.load ({loaded['entries']} entries)",
                loaded["load"],
                None,
                "< 1 s",
                loaded["load"] < 1,
            )
        )

    print(f"{'stage':<62} {'seconds':>8} {'CPU-s':>7} {'xRT':>7}  {'target':<44} result")
    for r in rows:
        xrt = f"{r.xrt:.1f}" if r.xrt is not None else ""
        cpu = f"{r.cpu:.1f}" if r.cpu is not None else ""
        verdict = "" if r.ok is None else ("PASS" if r.ok else "FAIL")
        print(f"{r.stage:<62} {r.seconds:>8.2f} {cpu:>7} {xrt:>7}  {r.target:<44} {verdict}")
    print(f"\nfull build report.seconds: {sec}\ncaptioned build report.seconds: {cap['seconds']}")
    print(f"1-h memory: random unit vectors (load does not depend on them); counts {counts}")
    for f in agree.files:
        if "library" in f:
            print(
                f"cuts differ on {f['file']} ({f['size']}): "
                f"ours {f['ours']}, library {f['library']}"
            )
    result = {
        "machine": facts,
        "video": info.to_dict(),
        "rows": [asdict(r) for r in rows],
        "build_seconds": sec,
        "captions": cap,
        "hour_memory": {**loaded, **counts},
        "scene_agreement": {"precision": agree.precision, "recall": agree.recall, **asdict(agree)},
    }
    (args.out / "bench_index.json").write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out / 'bench_index.json'}")


if __name__ == "__main__":
    main()
