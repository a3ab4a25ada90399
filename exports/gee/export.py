"""What one batch export task writes, and how it is read back into a point's stack.

The task's image is the point's scenes in time order, each with the requested bands renamed
``<system:index>_<band>``, concatenated (``Image.cat``, so the file's band order is known up
front), unmasked to 0 and cast to u16: the same fields as the fast path. It is exported as
a GeoTIFF on the point's patch grid (widened by ``margin_px`` on each side, 0 by default:
Earth Engine reprojects on the server, so the 64×64 patch is all the dataset needs) and
cropped back to the patch by the file's georeference when read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import ee
import numpy as np
from affine import Affine

from exports.gee.pixels import time_ordered
from exports.gee.select import COLLECTION
from exports.grid import PatchGrid
from exports.source import PointFailure, PointRequest, PointStack, Scene, band_dtype
from exports.stack import ScenePatch, assemble_stack


@dataclass(frozen=True)
class BatchTarget:
    """The Cloud Storage destination (``--gcs-bucket``, ``--gcs-prefix``)."""

    bucket: str
    prefix: str = "sen4map"
    margin_px: int = 0  # pixels exported around the patch on each side (cropped on read)

    def object_name(self, description: str) -> str:
        """The object's name in the bucket: the task description is the file's stem."""
        folder = self.prefix.strip("/")
        return f"{folder}/{description}" if folder else description

    def vsigs_path(self, description: str) -> str:
        """Where rasterio reads the finished export back (GDAL's Cloud Storage driver)."""
        return f"/vsigs/{self.bucket}/{self.object_name(description)}.tif"

    def export_grid(self, grid: PatchGrid) -> PatchGrid:
        """The patch grid grown by ``margin_px``: the exported raster, cropped back on read."""
        m = self.margin_px
        return replace(
            grid, x_min=grid.x_min - m * grid.pixel, y_max=grid.y_max + m * grid.pixel,
            size=grid.size + 2 * m,
        )  # fmt: skip


ReadRaster = Callable[[str], "Raster"]


@dataclass(frozen=True)
class Raster:
    """One exported GeoTIFF as read: (bands, rows, cols), band descriptions, georeference."""

    array: np.ndarray
    descriptions: Sequence[str | None]
    transform: Affine | None = None
    crs: str | None = None


def task_description(
    point_id: int, scenes: Sequence[Scene], bands: Sequence[str], target: BatchTarget
) -> str:
    """``sen4map_<POINT_ID>_<digest>``: the digest of what is exported and where, so a task
    found by description is this very export, not one of another run or config."""
    what = [target.bucket, target.prefix, str(target.margin_px), *bands]
    what += [s.image_id for s in time_ordered(scenes)]
    digest = hashlib.sha256("\n".join(what).encode()).hexdigest()[:10]
    return f"sen4map_{point_id:08d}_{digest}"


def band_names(scenes: Sequence[Scene], bands: Sequence[str]) -> list[str]:
    """The exported bands, in file order: scenes in time order, then the requested bands."""
    return [f"{s.image_id}_{b}" for s in time_ordered(scenes) for b in bands]


def export_image(scenes: Sequence[Scene], bands: Sequence[str]) -> ee.Image:
    """Explicit ``Image.cat`` (not ``toBands``) so the file's band order is known up front."""
    parts = [
        ee.Image(f"{COLLECTION}/{s.image_id}").select(
            list(bands), [f"{s.image_id}_{b}" for b in bands]
        )
        for s in time_ordered(scenes)
    ]
    return ee.Image.cat(parts).unmask(0, False).toUint16()


def export_task(
    point: PointRequest, scenes: Sequence[Scene], bands: Sequence[str], target: BatchTarget
) -> Any:
    """The (unstarted) task exporting one point's stack on its (widened) patch grid."""
    grid = target.export_grid(point.grid)
    description = task_description(point.point_id, scenes, bands, target)
    return ee.batch.Export.image.toCloudStorage(
        image=export_image(scenes, bands),
        description=description,
        bucket=target.bucket,
        fileNamePrefix=target.object_name(description),
        dimensions=f"{grid.size}x{grid.size}",
        crs=grid.crs,
        crsTransform=list(grid.transform_tuple()),
        fileFormat="GeoTIFF",
    )


def read_geotiff(path: str, gdal_options: Mapping[str, str] | None = None) -> Raster:
    """A GeoTIFF (``/vsigs/`` or local) with GDAL options such as GCS credentials.

    The stac reader's GDAL settings apply: above all no directory listing on open, which on
    ``/vsigs/`` would list the export prefix (one object per point) for every file.
    """
    import rasterio

    from exports.gdal_env import GDAL_ENV

    options = {**GDAL_ENV, **dict(gdal_options or {})}
    with rasterio.Env(**options), rasterio.open(path) as src:
        crs = src.crs.to_string() if src.crs else None
        return Raster(src.read(), src.descriptions, src.transform, crs)


def crop_to_grid(raster: Raster, grid: PatchGrid, path: str) -> np.ndarray:
    """The patch's pixels of an export, located by the file's georeference when it has one."""
    array = raster.array
    if raster.transform is None or raster.transform.is_identity:
        if array.shape[1:] != (grid.size, grid.size):
            raise ValueError(f"{path}: {array.shape[1:]} pixels and no georeference")
        return array
    if raster.crs is not None and raster.crs.upper() != grid.crs:
        raise ValueError(f"{path}: CRS {raster.crs}, expected {grid.crs}")
    t = raster.transform
    col = (grid.x_min - t.c) / t.a
    row = (grid.y_max - t.f) / t.e
    c0, r0 = round(col), round(row)
    if abs(col - c0) > 1e-3 or abs(row - r0) > 1e-3 or t.a != grid.pixel:
        raise ValueError(f"{path}: pixel grid {tuple(t)[:6]} is not the patch grid's")
    if c0 < 0 or r0 < 0 or r0 + grid.size > array.shape[1] or c0 + grid.size > array.shape[2]:
        raise ValueError(f"{path}: does not cover the patch (offset {r0}, {c0})")
    return array[:, r0 : r0 + grid.size, c0 : c0 + grid.size]


def stack_from_raster(
    raster: Raster,
    path: str,
    point: PointRequest,
    scenes: Sequence[Scene],
    bands: Sequence[str],
    max_patch_nodata: float,
) -> PointStack | PointFailure:
    """A point's stack from its exported file: bands matched to scenes, cropped, assembled."""
    names = band_names(scenes, bands)
    if raster.array.shape[0] != len(names):
        message = f"{path}: {raster.array.shape[0]} bands, expected {len(names)}"
        return PointFailure(point.point_id, message)
    descriptions = list(raster.descriptions)
    if all(descriptions) and set(descriptions) == set(names):
        names = [str(d) for d in descriptions]  # the file says which band is which
    try:
        array = crop_to_grid(raster, point.grid, path)
    except ValueError as e:
        return PointFailure(point.point_id, str(e))
    dtype = band_dtype(bands)
    by_id = {s.image_id: s for s in scenes}
    fields: dict[str, dict[str, np.ndarray]] = {}
    for i, name in enumerate(names):
        image_id, band = name.rsplit("_", 1)
        fields.setdefault(image_id, {})[band] = array[i].astype(dtype[band])
    patches = [ScenePatch(by_id[i], f) for i, f in fields.items()]
    try:
        return assemble_stack(point, patches, bands, max_patch_nodata)
    except ValueError as e:  # wrong patch shape
        return PointFailure(point.point_id, f"{path}: {e}")
