"""The area every file source returns: rendered once at the patches' pixel size, then sliced.

A source supplies ``render(transform, width, height)``, the CLC code of each pixel of any
north-up grid in the area's CRS (pixel-centre rule, 999 where nothing covers). The first patch
grid fixes a pixel lattice (its pixel size and origin modulo a pixel); the area renders the
whole of its bounds on that lattice once (at most :data:`MAX_CANVAS_PIXELS`, 12,000² pixels:
a 109.8 km tile at 10 m is 10,980², 241 MB of ``uint16``) and every grid on the lattice and
inside the bounds is a slice of it. A grid off the lattice or reaching out of the bounds is
rendered on its own, which gives the same codes, only slower.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from affine import Affine

from exports.grid import PatchGrid

MAX_CANVAS_PIXELS = 12_000 * 12_000
"""Largest area rendered in one piece (288 MB of uint16); larger areas render per grid."""

Render = Callable[[Affine, int, int], np.ndarray]
"""(transform, width, height) → uint16 array (height, width) of CLC codes, 999 uncovered."""

_EPS = 1e-6  # in pixels: how far off the lattice a grid may be (float noise)


@dataclass(frozen=True)
class _Canvas:
    x0: float
    y1: float
    pixel: float
    array: np.ndarray  # (height, width) uint16

    def window(self, grid: PatchGrid) -> tuple[slice, slice] | None:
        """The slice of this canvas that is ``grid``, or None when it is not one."""
        if abs(grid.pixel - self.pixel) > _EPS * self.pixel:
            return None
        col = (grid.x_min - self.x0) / self.pixel
        row = (self.y1 - grid.y_max) / self.pixel
        c, r = round(col), round(row)
        if abs(col - c) > _EPS or abs(row - r) > _EPS:
            return None
        height, width = self.array.shape
        if c < 0 or r < 0 or c + grid.size > width or r + grid.size > height:
            return None
        return slice(r, r + grid.size), slice(c, c + grid.size)


class CanvasArea:
    """A :class:`~exports.clc.source.ClcArea` over ``render``, cached as described above.

    Args:
        epsg: the area's CRS; every grid asked for must be in it.
        bounds: (left, bottom, right, top) in that CRS.
        render: the source's renderer.
        max_pixels: the largest canvas rendered in one piece.
    """

    def __init__(
        self,
        epsg: int,
        bounds: tuple[float, float, float, float],
        render: Render,
        *,
        max_pixels: int = MAX_CANVAS_PIXELS,
    ) -> None:
        left, bottom, right, top = (float(v) for v in bounds)
        if not (right > left and top > bottom):
            raise ValueError(f"empty area bounds {bounds}")
        self.epsg = int(epsg)
        self.bounds = (left, bottom, right, top)
        self._render = render
        self._max_pixels = max_pixels
        self._canvas: _Canvas | None = None
        self._lattice_fixed = False
        self.renders = 0  # how many times render ran (the canvas counts once)

    def reference_map(self, grid: PatchGrid) -> np.ndarray:
        """The CLC code of every pixel of ``grid`` by pixel centre, 999 where none covers."""
        if grid.epsg != self.epsg:
            raise ValueError(
                f"patch grid in EPSG:{grid.epsg}, but this CLC area was opened in "
                f"EPSG:{self.epsg}; call for_area with the tile's CRS")
        if not self._lattice_fixed:
            self._lattice_fixed = True
            self._canvas = self._make_canvas(grid)
        if self._canvas is not None and (window := self._canvas.window(grid)) is not None:
            return self._canvas.array[window].copy()
        return self._checked(self._draw(grid.transform, grid.size, grid.size), grid.size,
                             grid.size)

    def _make_canvas(self, grid: PatchGrid) -> _Canvas | None:
        left, bottom, right, top = self.bounds
        p = float(grid.pixel)
        x0 = grid.x_min - math.ceil((grid.x_min - left) / p - _EPS) * p
        y1 = grid.y_max + math.ceil((top - grid.y_max) / p - _EPS) * p
        width = math.ceil((right - x0) / p - _EPS)
        height = math.ceil((y1 - bottom) / p - _EPS)
        if width <= 0 or height <= 0 or width * height > self._max_pixels:
            return None
        array = self._draw(Affine(p, 0.0, x0, 0.0, -p, y1), width, height)
        return _Canvas(x0, y1, p, self._checked(array, width, height))

    def _draw(self, transform: Affine, width: int, height: int) -> np.ndarray:
        self.renders += 1
        return self._render(transform, width, height)

    @staticmethod
    def _checked(array: np.ndarray, width: int, height: int) -> np.ndarray:
        if array.shape != (height, width):  # a renderer bug, never a user's input
            raise RuntimeError(f"CLC renderer gave {array.shape}, want {(height, width)}")
        return array.astype(np.uint16, copy=False)
