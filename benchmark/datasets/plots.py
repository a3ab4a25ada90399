"""Quicklooks of the tool's outputs: a point's time series, a BigEarthNet patch.

What a user looks at first to trust a file: the true-colour series with clouds and snow
marked (SCL), the LUCAS pixel marked, the NDVI of that pixel over the year (masked
observations hollow), the radar curves when the S1 file holds the point; for a BigEarthNet
patch, true colour, VV, VH and the CLC reference map with its legend. matplotlib is part of
the ``[benchmark]`` extra; the Agg backend is used, so no display is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.deps import require

RGB = ("B4", "B3", "B2")
CLOUD_CLASSES = (3, 8, 9, 10)  # cloud shadow, cloud medium/high probability, cirrus
SNOW_CLASS = 11
REFLECTANCE_MAX = 3000.0  # true colour stretch: 0 .. 0.3 reflectance


def _pyplot() -> Any:
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    return require("matplotlib.pyplot")


def true_colour(red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> np.ndarray:
    """(H, W, 3) floats in 0..1 from reflectance × 10000 (no-data 0 stays black)."""
    rgb = np.stack([red, green, blue], axis=-1).astype(np.float32) / REFLECTANCE_MAX
    return np.clip(rgb, 0.0, 1.0)


def ndvi(red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """(NIR − red) / (NIR + red), NaN where both are 0 (no data)."""
    red = red.astype(np.float64)
    nir = nir.astype(np.float64)
    total = nir + red
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (nir - red) / total, np.nan)


@dataclass
class PointSeries:
    """What the point quicklook shows, read from the files (the caller reads them)."""

    point_id: int
    lc1: str
    dates: list[date]
    stack: np.ndarray  # compound (T, H, W) with SCL and the bands
    center: tuple[int, int]
    s1_dates: list[date] = field(default_factory=list)
    s1: np.ndarray | None = None  # compound (T1, H, W) VV / VH dB


def save(fig: Any, png: Path) -> Path:
    """Write a figure as PNG (folders made) and free it."""
    plt = _pyplot()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, bbox_inches="tight")
    plt.close(fig)
    return png


def plot_point(series: PointSeries, *, columns: int = 10, dpi: int = 80) -> Any:
    """The point quicklook: thumbnails grid, NDVI curve, radar curves (a figure)."""
    plt = _pyplot()
    patches = require("matplotlib.patches")
    steps = len(series.dates)
    rows = max(1, -(-steps // columns))
    curves = 2 if series.s1 is not None else 1
    fig = plt.figure(figsize=(columns * 1.3, rows * 1.45 + curves * 2.4), dpi=dpi)
    grid = fig.add_gridspec(rows + curves, columns,
                            height_ratios=[1.0] * rows + [1.6] * curves, hspace=0.45)
    names = series.stack.dtype.names or ()
    r, c = series.center
    for t in range(steps):
        ax = fig.add_subplot(grid[t // columns, t % columns])
        step = series.stack[t]
        ax.imshow(true_colour(*(step[b] for b in RGB)), interpolation="nearest")
        if "SCL" in names:
            scl = step["SCL"]
            for classes, colour in ((CLOUD_CLASSES, "red"), ((SNOW_CLASS,), "cyan")):
                mask = np.pad(np.isin(scl, classes), 1)  # a frame when the whole step is masked
                if mask.any():
                    ys, xs = np.arange(-1, mask.shape[0] - 1), np.arange(-1, mask.shape[1] - 1)
                    ax.contour(xs, ys, mask, levels=[0.5], colors=colour, linewidths=0.6)
        ax.add_patch(patches.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False,
                                       edgecolor="yellow", linewidth=1.0))
        ax.set_title(series.dates[t].isoformat(), fontsize=6)
        ax.set_xticks([])
        ax.set_yticks([])
    ax = fig.add_subplot(grid[rows, :])
    if steps:
        centre = series.stack[:, r, c]
        values = ndvi(centre["B4"], centre["B8"])
        masked = np.isin(centre["SCL"], (0, 1, *CLOUD_CLASSES, SNOW_CLASS)) if (
            "SCL" in names) else np.zeros(steps, bool)
        ax.plot(np.array(series.dates)[~masked], values[~masked], "o-", color="green",
                markersize=3, label="clear")
        ax.plot(np.array(series.dates)[masked], values[masked], "o", mfc="none",
                color="grey", markersize=3, label="cloud / snow / no data (SCL)")
        ax.legend(fontsize=7, loc="lower center")
    ax.set_ylabel("NDVI at the point")
    ax.set_ylim(-0.2, 1.0)
    ax.set_title(f"LUCAS point {series.point_id:08d}  lc1 {series.lc1}  ({steps} steps; "
                 "red: cloud/shadow, cyan: snow, yellow: the LUCAS pixel)", fontsize=9)
    if series.s1 is not None:
        ax = fig.add_subplot(grid[rows + 1, :])
        centre = series.s1[:, r, c]
        for band, colour in (("VV", "navy"), ("VH", "darkorange")):
            ax.plot(series.s1_dates, centre[band], "o-", color=colour, markersize=3, label=band)
        ax.set_ylabel("σ0 dB at the point")
        ax.legend(fontsize=7)
    return fig


@dataclass
class PatchView:
    """What the BigEarthNet quicklook shows (bands as read from the tree)."""

    patch_id: str
    labels: Sequence[str]
    rgb: np.ndarray  # (H, W, 3) 0..1
    vv: np.ndarray | None
    vh: np.ndarray | None
    reference: np.ndarray | None  # CLC codes
    names: Mapping[int, str]  # CLC code → Level-3 name


def plot_patch(view: PatchView, *, dpi: int = 100) -> Any:
    """The patch quicklook: S2 true colour, S1 VV and VH, the reference map with legend."""
    plt = _pyplot()
    patches = require("matplotlib.patches")
    panels = 2 + (view.vv is not None) + (view.vh is not None)
    fig, axes = plt.subplots(1, panels, figsize=(3.2 * panels + 2.5, 3.6), dpi=dpi)
    axes = list(np.atleast_1d(axes))
    axes[0].imshow(view.rgb, interpolation="nearest")
    axes[0].set_title("S2 true colour", fontsize=8)
    k = 1
    for name, band in (("S1 VV dB", view.vv), ("S1 VH dB", view.vh)):
        if band is not None:
            im = axes[k].imshow(band, cmap="gray", interpolation="nearest")
            fig.colorbar(im, ax=axes[k], fraction=0.046)
            axes[k].set_title(name, fontsize=8)
            k += 1
    ax = axes[k]
    if view.reference is not None:
        codes = sorted(int(v) for v in np.unique(view.reference))
        cmap = plt.get_cmap("tab20", max(len(codes), 1))
        index = np.searchsorted(codes, view.reference)
        ax.imshow(index, cmap=cmap, vmin=-0.5, vmax=len(codes) - 0.5, interpolation="nearest")
        handles = [patches.Patch(color=cmap(i), label=f"{code} {view.names.get(code, '')}")
                   for i, code in enumerate(codes)]
        ax.legend(handles=handles, fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5))
    ax.set_title("CLC 2018 reference map", fontsize=8)
    for a in axes:
        a.set_xticks([])
        a.set_yticks([])
    fig.suptitle(f"{view.patch_id}\n{', '.join(view.labels)}", fontsize=8)
    return fig


def plot_sen4map_sample(sample: Mapping[str, Any], bands: Sequence[str], *,
                        max_steps: int = 12) -> Any:
    """A dataset sample: true colour of its first steps (or months), the point marked."""
    plt = _pyplot()
    image = sample["image"].numpy()
    if image.ndim == 3:  # annual (C, H, W)
        image = image[None]
    index = [list(bands).index(b) for b in ("B4", "B3", "B2")]
    steps = min(len(image), max_steps)
    fig, axes = plt.subplots(1, max(steps, 1), figsize=(1.6 * max(steps, 1), 2.0), squeeze=False)
    titles = sample.get("dates") or [f"month {m + 1}" for m in range(len(image))]
    for t in range(steps):
        ax = axes[0][t]
        ax.imshow(true_colour(*(image[t][i] for i in index)), interpolation="nearest")
        h, w = image.shape[-2:]
        ax.plot([w // 2], [h // 2], "s", mfc="none", color="yellow", markersize=4)
        ax.set_title(str(titles[t]) if len(image) > 1 else "annual", fontsize=6)
        ax.set_xticks([])
        ax.set_yticks([])
    meta = sample.get("meta", {})
    fig.suptitle(f"point {meta.get('point_id', '')} lc1 {meta.get('lc1', '')}", fontsize=8)
    return fig
