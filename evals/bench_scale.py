"""Indexing at corpus scale: one worker, the pool at full width and Ray local, on the same videos.

Run from the repository root (Ray comes with ``pip install -e '.[ray]'``)::

    python -m evals.bench_scale [--videos 4] [--minutes 2] [--machines 8] [--out DIR]

Each configuration indexes the same N generated videos (720p, 30 fps, speech, some on-screen
text) into an empty cache, starting its workers cold (process start and model loads included,
as in a real run, where 900 videos amortize them: use minutes-long videos for a faithful
rate). No model server is used: captions depend on the server's throughput
(``evals/bench_serve``), everything else is measured here. Prints hours of video per hour of
wall time and the scaling efficiency against one worker on one core, then projects the wall
time of all of Video-MME (900 videos, 254 hours) on one machine like this one and on K of
them, and writes the same as JSON to ``<out>/bench_scale.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import resource
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mcr_agent import AgentConfig
from mcr_agent.front.corpus.jobs import BuildOptions, IndexJob, PoolRunner, Runner, machine_cpus

from .bench_index import machine_facts, sentence

VIDEO_MME_HOURS = 254.0
VIDEO_MME_VIDEOS = 900
VIDEO_MME_LONGEST_S = 3600.0
"""Video-MME's long videos run up to an hour: one of them on one core bounds the wall time."""


@dataclass
class Row:
    """One configuration's run."""

    config: str
    cores: int
    wall_s: float
    video_s: float
    failed: int
    cpu_s: float | None = None
    """CPU seconds of the worker processes (pool rows; Ray's workers are not our children)."""

    @property
    def rate(self) -> float:
        """Hours of video per hour of wall time (x real time)."""
        return self.video_s / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_rate(self) -> float | None:
        """Seconds of video per CPU second: the rate of one busy core, whatever the load."""
        return self.video_s / self.cpu_s if self.cpu_s else None


def make_corpus(folder: Path, videos: int, minutes: float) -> list[Path]:
    """`videos` distinct videos of `minutes` each (cached in `folder`)."""
    from mcr_agent.front.media import make_scenes_video

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(videos):
        path = folder / f"scale-{n}-{minutes:g}min.mp4"
        paths.append(path)
        if path.exists():
            continue
        rng = random.Random(1000 + n)
        lengths: list[float] = []
        while sum(lengths) < minutes * 60:
            lengths.append(min(rng.choice((6, 8, 10, 14, 20, 30)), minutes * 60 - sum(lengths)))
        if len(lengths) > 1 and lengths[-1] < 5:
            last = lengths.pop()
            lengths[-1] += last
        speech = [sentence(rng, 6, 9) if i % 2 == 0 and s >= 6 else None
                  for i, s in enumerate(lengths)]  # fmt: skip
        texts = [f"CLIP {n} PART {i}" if i % 3 == 1 else None for i in range(len(lengths))]
        print(f"generating {path.name} ({len(lengths)} scenes)", flush=True)
        tmp = folder / f".{path.name}.tmp.mp4"
        make_scenes_video(tmp, scene_seconds=lengths, fps=30, size=(1280, 720), texts=texts,
                          speech=speech)  # fmt: skip
        tmp.replace(path)
    return paths


def measure(name: str, runner: Runner, jobs: list[IndexJob], cores: int) -> Row:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    outcomes = list(runner.run(jobs))
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # pool workers, joined by now
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        print(f"  failed {o.video.name}: {o.error}")
    done = sum(o.duration for o in outcomes if o.status == "indexed")
    row = Row(name, cores, wall, done, len(failed), cpu if isinstance(runner, PoolRunner) else None)
    print(f"  {name}: {wall:.1f} s for {done / 60:.1f} min of video ({row.rate:.1f}x)", flush=True)
    return row


def options_for(out: Path, name: str, *, ocr: bool) -> BuildOptions:
    """Fresh builds (``force``) into a cache of their own, with no model server."""
    with socket.socket() as probe:  # a port nothing listens on: captions are skipped
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    config = AgentConfig.from_env({}, base_url=dead, cache_dir=out / f"cache-{name}")
    config = config.replace(index=dataclasses.replace(config.index, ocr=ocr))
    return BuildOptions(config=config, force=True)


def run_all(out: Path, jobs: list[IndexJob], *, ocr: bool, ray: bool) -> list[Row]:
    """The configurations, each on the same jobs."""
    cores = machine_cpus()
    configs: list[tuple[str, int, int, int]] = [  # name, workers, threads each, cores used
        ("1 worker, 1 thread", 1, 1, 1),
        (f"1 worker, {cores} threads", 1, cores, cores),
        (f"pool: {cores} workers x 1 thread", cores, 1, cores),
    ]
    rows = []
    for name, workers, threads, used in configs:
        options = options_for(out, f"w{workers}t{threads}", ocr=ocr)
        pool = PoolRunner(options, workers=workers, threads=threads)
        rows.append(measure(name, pool, jobs, used))
    if ray:
        from mcr_agent.front.corpus.ray_runner import RayRunner

        runner = RayRunner(options_for(out, "ray", ocr=ocr), address="local", cpus=1)
        rows.append(measure(f"Ray local: {cores} tasks x 1 CPU", runner, jobs, cores))
    return rows


def projection(rows: list[Row], machines: int) -> dict[str, float | str]:
    """Wall hours of all of Video-MME from the per-core rate and the measured efficiency.

    The per-core rate is the one-worker, one-thread row; a machine runs `cores` videos at
    once at the best measured efficiency; K machines multiply that (the shared folder and
    the scheduler assumed not to limit, which 900 videos over K x cores slots allow), but
    no run ends before its longest video (an hour) is done on one core.
    """
    per_core = rows[0].rate
    cores = max(r.cores for r in rows)
    best = max(rows[1:], key=lambda r: r.rate)
    efficiency = best.rate / (cores * per_core) if per_core else 0.0
    machine = cores * per_core * efficiency
    floor_h = VIDEO_MME_LONGEST_S / per_core / 3600 if per_core else float("inf")
    return {
        "machine_config": best.config,
        "per_core_x": per_core,
        "cores": cores,
        "efficiency": efficiency,
        "machine_x": machine,
        "one_machine_h": VIDEO_MME_HOURS / machine if machine else float("inf"),
        "machines": machines,
        "cluster_h": max(VIDEO_MME_HOURS / (machine * machines), floor_h) if machine else 0.0,
        "longest_video_h": floor_h,
        "cpu_per_core_x": rows[0].cpu_rate or 0.0,
        "cpu_hours": VIDEO_MME_HOURS / rows[0].cpu_rate if rows[0].cpu_rate else 0.0,
    }


def print_report(rows: list[Row], proj: dict[str, Any], load: tuple[float, ...]) -> None:
    base = rows[0].rate
    print(f"\nload average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; after: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))  # fmt: skip
    print(f"{'configuration':<34} {'cores':>5} {'wall s':>8} {'video h':>8} {'h/h':>7} "
          f"{'speedup':>8} {'efficiency':>10} {'CPU s':>7} {'h/CPU h':>8}")  # fmt: skip
    for r in rows:
        speedup = r.rate / base if base else 0.0
        print(f"{r.config:<34} {r.cores:>5} {r.wall_s:>8.1f} {r.video_s / 3600:>8.3f} "
              f"{r.rate:>7.1f} {speedup:>7.2f}x {speedup / r.cores:>10.0%} "
              + (f"{r.cpu_s:>7.1f} {r.cpu_rate:>8.1f}" if r.cpu_s and r.cpu_rate else f"{'-':>16}")
              + (f"  ({r.failed} failed)" if r.failed else ""))  # fmt: skip
    print(
        f"\nVideo-MME ({VIDEO_MME_VIDEOS} videos, {VIDEO_MME_HOURS:g} h) without captions: "
        f"per core {proj['per_core_x']:.1f}x real time, {proj['cores']:g} cores at "
        f"{proj['efficiency']:.0%} efficiency ({proj['machine_config']}) = "
        f"{proj['machine_x']:.1f}x per machine"
    )
    print(f"  1 machine like this one: {proj['one_machine_h']:.1f} h")
    print(
        f"  {proj['machines']:g} such machines on Ray: {proj['cluster_h']:.1f} h "
        f"(no less than {proj['longest_video_h']:.2f} h, the longest video on one core)"
    )
    if proj["cpu_hours"]:
        hours, cores, k = proj["cpu_hours"], proj["cores"], proj["machines"]
        print(
            f"  from CPU time (load-independent): {proj['cpu_per_core_x']:.1f}x real time per "
            f"busy core, {hours:.0f} CPU hours: at best {hours / cores:.1f} h on 1 machine, "
            f"{hours / cores / k:.1f} h on {k:g}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=4, help="Videos in the corpus.")
    parser.add_argument("--minutes", type=float, default=2.0, help="Minutes per video.")
    parser.add_argument("--machines", type=int, default=8, help="K, for the cluster projection.")
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--ocr", action="store_true", help="Read on-screen text too.")
    parser.add_argument("--no-ray", action="store_true", help="Skip the Ray local row.")
    args = parser.parse_args(argv)
    videos = make_corpus(args.out / "scale-videos", args.videos, args.minutes)
    jobs = [IndexJob(v) for v in videos]
    load = os.getloadavg()
    print(f"{len(jobs)} videos x {args.minutes:g} min on {machine_cpus()} cores; "
          f"load average {load[0]:.2f}", flush=True)  # fmt: skip
    rows = run_all(args.out, jobs, ocr=args.ocr, ray=not args.no_ray)
    proj = projection(rows, args.machines)
    print_report(rows, proj, load)
    result = {
        "machine": machine_facts(), "load_before": load, "load_after": os.getloadavg(),
        "videos": args.videos, "minutes": args.minutes, "ocr": args.ocr,
        "rows": [{**asdict(r), "rate": r.rate} for r in rows], "projection": proj,
    }  # fmt: skip
    (args.out / "bench_scale.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
