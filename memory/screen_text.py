"""Where on-screen text may have changed without a cut: frames worth reading again.

Slides, lower thirds, scoreboards and tickers change their text while the picture stays
the same, so no cut is found and evenly spaced keyframes miss the change. `TextWatch`
follows every decoded frame through a coarse grid of block means (the shot detector's
small frame, so it costs little) and asks for a frame to be read when part of the picture
*stepped* from one still state to another: a block left a value it had held, reached a
new one within `step` seconds and held it for `settle` seconds, the new value differs
from the old, and the block has the dense strong edges of text (both ways). A word replaced on a
slide or a scoreboard, a caption box appearing on a still shot and a cut to a titled shot
are such steps. Moving content never holds still; an object passing in front of a still
background leaves it as it was; a region that stills only long after it started moving
(a background uncovered by a moving object) and a uniform surface (the inside of a moving
shape) are taken as they are. Text that only ever sits on moving pictures (a scrolling
ticker, a caption over a moving shot) is left to the evenly spaced keyframes. At most one
frame is kept per `min_gap` seconds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TextWatch"]


class TextWatch:
    """Decides, frame by frame, which frames to keep for OCR.

    Args:
        settle: Seconds a changed block must hold its new value.
        step: Longest change (seconds from leaving a still value to reaching the next) that
            is a step.
        min_gap: Fewest seconds between two frames kept.
        rate: Frames looked at per second at most (the others are skipped).
        block: Side of a grid block, in pixels of the frames given to `add`.
        margin: Blocks around a changing block that do not count as still either.
        wobble: Largest change of a block mean (grey levels, 0-255) that is not a change.
        change: Smallest difference from the settled value that counts as new content.
        edges: Smallest mean Sobel gradient, both across and along (grey levels), of a
            block that may hold text; printed text on a slide or caption box is far above
            it, smooth surfaces, soft patterns and straight edges below.
    """

    def __init__(
        self,
        *,
        settle: float = 0.5,
        step: float = 1.0,
        min_gap: float = 1.0,
        rate: float = 12.0,
        block: int = 4,
        margin: int = 1,
        wobble: float = 6.0,
        change: float = 14.0,
        edges: float = 100.0,
    ) -> None:
        self.settle = settle
        self.step = step
        self.min_gap = min_gap
        self.rate = rate
        self.block = block
        self.margin = margin
        self.wobble = wobble
        self.change = change
        self.edges = edges
        self._candidate: np.ndarray | None = None  # the value each block holds now
        self._since: np.ndarray = np.zeros(0)  # when each block took that value
        self._settled: np.ndarray = np.zeros(0)  # the value each block last settled on
        self._left: np.ndarray = np.zeros(0)  # when each block last left a value it held
        self._fresh: np.ndarray = np.zeros(0, bool)  # blocks that never settled yet
        self._pending: float | None = None  # earliest change waiting to be read
        self._last_kept = -np.inf
        self._last_seen = -np.inf

    def add(self, t: float, bgr: np.ndarray) -> float | None:
        """Take the frame shown at `t` seconds (a small BGR image, same size every call).

        Returns:
            None, or, when this frame should be read, the time the change it shows began.
        """
        import cv2

        if t - self._last_seen < 1.0 / self.rate:
            return None
        self._last_seen = t
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        h, w = grey.shape
        grid = (max(1, w // self.block), max(1, h // self.block))
        means = cv2.resize(grey, grid, interpolation=cv2.INTER_AREA).astype(np.float32)
        if self._candidate is None or self._candidate.shape != means.shape:
            self._start(t, means)
        steps = self._track(t, means)
        if steps.any():
            steps &= _edge_means(grey, grid) >= self.edges
        if steps.any():
            began = float(self._left[steps].min())
            self._pending = began if self._pending is None else min(self._pending, began)
        if self._pending is not None and t - self._last_kept >= self.min_gap:
            began, self._pending, self._last_kept = self._pending, None, t
            return began
        return None

    def _start(self, t: float, means: np.ndarray) -> None:
        self._candidate = means
        self._since = np.full(means.shape, t)
        self._settled = means.copy()
        self._left = np.full(means.shape, t)  # the first picture is a step from nothing
        self._fresh = np.ones(means.shape, bool)
        self._pending = None

    def _track(self, t: float, means: np.ndarray) -> np.ndarray:
        """Follow each block's value; return the blocks that just stepped to a new one."""
        import cv2

        assert self._candidate is not None
        moved = np.abs(means - self._candidate) > self.wobble
        self._left[moved & ((t - self._since) >= self.settle)] = t
        self._candidate[moved] = means[moved]
        self._since[moved] = t
        held = (t - self._since) >= self.settle
        if self.margin:  # the inside of a uniform moving shape holds still; not its edges
            size = 2 * self.margin + 1
            held &= cv2.dilate((~held).astype(np.uint8), np.ones((size, size), np.uint8)) == 0
        new = held & (self._fresh | (np.abs(self._candidate - self._settled) > self.change))
        self._settled[new] = self._candidate[new]
        self._fresh[new] = False
        # not yet seen by a kept frame, and quick enough to be a step
        fresh_step = (self._since > self._last_kept) & (self._since - self._left <= self.step)
        return np.asarray(new & fresh_step)


def _edge_means(grey: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Per block of `grid` (width, height), the smaller of the mean horizontal and mean
    vertical Sobel gradient magnitudes: high for text (strokes both ways), low for smooth
    surfaces and for the straight edge of a shape."""
    import cv2

    gx = cv2.resize(np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0)), grid, interpolation=cv2.INTER_AREA)
    gy = cv2.resize(np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1)), grid, interpolation=cv2.INTER_AREA)
    return np.asarray(np.minimum(gx, gy))
