"""How well the indexer's one-pass scene cuts agree with PySceneDetect's own ``detect()``.

The indexer feeds AdaptiveDetector its own small frames (`memory.picture.small_bgr`) from
one PyAV decoding pass; the library decodes full frames with OpenCV and downscales them
itself. Run on the same files, the two should find the same cuts: a cut counts as found
when the other side has one within one frame. The footage spread (hard cuts, fades through
black, white flashes, a slow pan, portrait, tiny and full-HD frames, sensor noise, a
cross-dissolve) comes from `tests.real_media.footage`.

Run from the repository root::

    python -m evals.scene_agreement [--out DIR] [FILE ...]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from memory import IndexSettings, probe
from memory.scenes import scan_video

__all__ = ["Agreement", "agreement", "footage_set", "library_cuts", "match"]


@dataclass
class Agreement:
    """Cuts matched within one frame, over a set of files.

    Attributes:
        matched: Cuts both found.
        extra: Cuts only the indexer found.
        missed: Cuts only the library found.
        files: Per file: name, size, both cut lists (seconds) when they differ.
    """

    matched: int = 0
    extra: int = 0
    missed: int = 0
    files: list[dict[str, object]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.matched / max(1, self.matched + self.extra)

    @property
    def recall(self) -> float:
        return self.matched / max(1, self.matched + self.missed)


def library_cuts(path: Path) -> list[float]:
    """Cut times (seconds) of ``scenedetect.detect(path, AdaptiveDetector())``: its defaults."""
    import scenedetect
    from scenedetect.detectors import AdaptiveDetector

    scenes = scenedetect.detect(str(path), AdaptiveDetector())
    return [float(start.seconds) for start, _ in scenes[1:]]


def match(ours: list[float], theirs: list[float], tolerance: float) -> tuple[int, int, int]:
    """(matched, only ours, only theirs), pairing each cut at most once within `tolerance`."""
    free = list(theirs)
    matched = 0
    for t in ours:
        near = [x for x in free if abs(x - t) <= tolerance]
        if near:
            free.remove(min(near, key=lambda x: abs(x - t)))
            matched += 1
    return matched, len(ours) - matched, len(free)


def agreement(paths: list[Path], settings: IndexSettings | None = None) -> Agreement:
    """Compare the indexer's cuts with the library's on every file (±1 frame)."""
    result = Agreement()
    for path in paths:
        info = probe(path)
        ours = scan_video(info, settings or IndexSettings()).cuts
        theirs = library_cuts(path)
        found = match(ours, theirs, 1.0 / info.fps + 1e-3)
        result.matched += found[0]
        result.extra += found[1]
        result.missed += found[2]
        entry: dict[str, object] = {"file": path.name, "size": f"{info.width}x{info.height}"}
        if found[1] or found[2]:
            entry.update(ours=ours, library=[round(t, 3) for t in theirs])
        result.files.append(entry)
    return result


def footage_set(out: Path) -> list[Path]:
    """The footage spread of `tests.real_media.footage`, made once into `out`."""
    from tests import real_media

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in real_media.FOOTAGE:
        path = out / f"footage-{kind}.mp4"
        if not path.exists():
            tmp = out / f".{path.name}.tmp.mp4"
            real_media.footage(kind, tmp)
            tmp.replace(path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    """Print the agreement on the footage spread (and any files given) as JSON."""
    parser = argparse.ArgumentParser(prog="python -m evals.scene_agreement", description=__doc__)
    parser.add_argument("files", nargs="*", type=Path, help="more videos to compare on")
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args(argv)
    result = agreement(footage_set(args.out) + list(args.files))
    print(
        json.dumps(
            {"precision": result.precision, "recall": result.recall, **asdict(result)}, indent=1
        )
    )


if __name__ == "__main__":
    main()
