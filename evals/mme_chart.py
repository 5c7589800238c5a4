"""``accuracy.png`` of a Video-MME run: strict accuracy overall, by duration and by task
type, one bar per mode, each with its question count and 95 % Wilson interval."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import cast

from memory.store import atomic_path

from .mme_schema import DURATIONS, TASK_TYPES
from .mme_score import Group, Score, ordered

__all__ = ["chart"]


def chart(scores: Mapping[str, Score], path: str | os.PathLike[str], *,
          modes: Sequence[str] | None = None) -> None:  # fmt: skip
    """A PNG of strict accuracy (percent) with error bars of the 95 % Wilson interval and
    "n=<questions>" under each value: overall and by duration on the left, by task type on
    the right, one bar per mode in `modes` (default: every mode of `scores`).

    Raises:
        ValueError: No scores.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    modes = list(scores) if modes is None else list(modes)
    if not modes:
        raise ValueError("no scores to chart")
    fig = Figure(figsize=(16, 6.5), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, width_ratios=[4, 12])
    for ax, attr, canonical, title in (
        (left, "by_duration", DURATIONS, "overall and by duration"),
        (right, "by_task_type", TASK_TYPES, "by task type"),
    ):
        groups = {m: cast("dict[str, Group]", getattr(scores[m], attr)) for m in modes}
        names = ordered([n for g in groups.values() for n in g], canonical)
        if attr == "by_duration":
            groups = {m: {"overall": scores[m], **g} for m, g in groups.items()}
            names = ["overall", *names]
        _bars(ax, groups, names)
        ax.set_title(f"Video-MME strict accuracy, {title}")
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def _bars(ax: object, groups: Mapping[str, Mapping[str, Group]], names: list[str]) -> None:
    """One bar per mode and name, labelled with its accuracy and question count."""
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    width = 0.8 / len(groups)
    for i, (mode, by_name) in enumerate(groups.items()):
        offset = (i - (len(groups) - 1) / 2) * width
        shown = [(j, by_name[n]) for j, n in enumerate(names) if n in by_name]
        values = [100 * g.ci_strict.value for _, g in shown]
        errors = [
            [v - 100 * g.ci_strict.low for v, (_, g) in zip(values, shown, strict=True)],
            [100 * g.ci_strict.high - v for v, (_, g) in zip(values, shown, strict=True)],
        ]
        bars = ax.bar([j + offset for j, _ in shown], values, width, label=mode, yerr=errors,
                      capsize=2, error_kw={"elinewidth": 0.8})  # fmt: skip
        labels = [f"{v:.1f}\nn={g.questions}" for v, (_, g) in zip(values, shown, strict=True)]
        ax.bar_label(bars, labels, fontsize=7, padding=2)
    tilt = len(names) > 4
    ax.set_xticks(range(len(names)), names, rotation=30 if tilt else 0,
                  ha="right" if tilt else "center")  # fmt: skip
    ax.set_ylim(0, 130)
    ax.set_ylabel("strict accuracy (%), 95 % interval")
    ax.legend(loc="upper center", ncols=len(groups))
