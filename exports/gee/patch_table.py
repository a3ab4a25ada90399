"""What one group's batch task exports (a TFRecord table of patches) and how it is read back.

One ``Export.table.toCloudStorage`` task per group of neighbouring points
(:mod:`exports.gee.groups`), one feature per (point, selected scene):

- per scene of the group (each scene once): the image, the requested bands selected,
  ``unmask(0, False).toUint16()`` (the fast path's fields), reprojected onto the group's
  10 m UTM lattice (``crsTransform [10, 0, 0, 0, -10, 0]``: patch grids are aligned to it,
  :mod:`exports.grid`), every band turned into a 65×65 array with
  ``neighborhoodToArray(Kernel.square(32, "pixels"))``, sampled with ``sampleRegions`` at
  the centre of each point's pixel [32, 32], only for the points that selected this scene
  (``Filter.inList`` on ``point_id``), each feature tagged with the scene's
  ``system:index`` (``image_id``);
- the per-scene collections flattened into one table, written as TFRecord (GZIP).

So a point gets exactly its own scenes, and its patch is rows/cols 0–63 of each 65×65
array (offsets −32…+31 around the point's pixel): the same pixels as the fast path's
``computePixels`` on the point's grid. ``point_id`` is a string: Earth Engine writes every
number to TFRecord as float32, which cannot hold an 8-digit id exactly; reflectance (u16)
is exact in float32.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ee
import numpy as np

from exports.gee.pixels import time_ordered
from exports.gee.select import COLLECTION
from exports.gee.tfrecord import Example
from exports.grid import CENTER_PIXEL
from exports.source import DroppedScene, PointFailure, PointRequest, PointStack, Scene, band_dtype
from exports.stack import ScenePatch, assemble_stack

KERNEL_RADIUS = CENTER_PIXEL  # 65×65 arrays centred on pixel [32, 32]; rows/cols 0–63 kept
LATTICE = [10.0, 0.0, 0.0, 0.0, -10.0, 0.0]  # the 10 m UTM lattice every patch grid is on
PROPERTIES = ("point_id", "image_id")
SUFFIX = ".tfrecord.gz"  # Earth Engine's table TFRecord exports are always GZIP'd

Member = tuple[PointRequest, Sequence[Scene]]


@dataclass(frozen=True)
class TableTarget:
    """The Cloud Storage destination (``--gcs-bucket``, ``--gcs-prefix``)."""

    bucket: str
    prefix: str = "sen4map"

    def object_name(self, description: str) -> str:
        """The export's ``fileNamePrefix``: the task description under the prefix."""
        folder = self.prefix.strip("/")
        return f"{folder}/{description}" if folder else description

    def object_path(self, description: str) -> str:
        """The object Earth Engine writes for that prefix (one file per table export)."""
        return f"{self.object_name(description)}{SUFFIX}"


def member_digest(
    point: PointRequest, scenes: Sequence[Scene], bands: Sequence[str], target: TableTarget
) -> str:
    """What one point asks of an export (its scenes, bands, grid, destination): a point
    re-attaches to a task only when this is unchanged (e.g. not after ``--force``)."""
    what = [target.bucket, target.prefix, f"{point.point_id:08d}", point.grid.crs,
            repr(point.grid.transform_tuple()), *bands]
    what += [s.image_id for s in time_ordered(scenes)]
    return hashlib.sha256("\n".join(what).encode()).hexdigest()[:16]


def group_description(
    members: Sequence[Member], bands: Sequence[str], target: TableTarget
) -> str:
    """``sen4map_g<first POINT_ID>_<n>_<digest>``: the digest of every member's export, so a
    task found by description is this very export."""
    ordered = sorted(members, key=lambda m: m[0].point_id)
    digests = [member_digest(p, s, bands, target) for p, s in ordered]
    digest = hashlib.sha256("\n".join(digests).encode()).hexdigest()[:12]
    return f"sen4map_g{ordered[0][0].point_id:08d}_{len(ordered)}_{digest}"


def sample_feature(point: PointRequest) -> ee.Feature:
    """The point as a sampling location: the centre of its pixel [32, 32], in its grid's CRS."""
    g = point.grid
    x = g.x_min + (CENTER_PIXEL + 0.5) * g.pixel
    y = g.y_max - (CENTER_PIXEL + 0.5) * g.pixel
    return ee.Feature(ee.Geometry.Point([x, y], g.crs), {"point_id": f"{point.point_id:08d}"})


def scene_patches(
    scene: Scene, point_ids: Sequence[int], points: ee.FeatureCollection,
    bands: Sequence[str], crs: str,
) -> ee.FeatureCollection:
    """One scene's 65×65 arrays at the points (of ``points``) that selected it."""
    image = (
        ee.Image(f"{COLLECTION}/{scene.image_id}")
        .select(list(bands))
        .unmask(0, False)
        .toUint16()
        .reproject(crs=crs, crsTransform=LATTICE)
        .neighborhoodToArray(ee.Kernel.square(KERNEL_RADIUS, "pixels"))
    )
    ids = [f"{pid:08d}" for pid in sorted(point_ids)]
    wanted = points.filter(ee.Filter.inList("point_id", ids))
    samples = image.sampleRegions(collection=wanted, properties=["point_id"],
                                  projection=ee.Projection(crs, LATTICE))
    return samples.map(lambda f: ee.Feature(f).set("image_id", scene.image_id))


def group_table(members: Sequence[Member], bands: Sequence[str]) -> ee.FeatureCollection:
    """Every member's selected scenes as features, one per (point, scene)."""
    crs = {p.grid.crs for p, _ in members}
    if len(crs) != 1:
        raise ValueError(f"a batch group spans several CRSs: {sorted(crs)}")
    (group_crs,) = crs
    points = ee.FeatureCollection([sample_feature(p) for p, _ in members])
    by_scene: dict[str, tuple[Scene, list[int]]] = {}
    for p, scenes in members:
        for s in scenes:
            by_scene.setdefault(s.image_id, (s, []))[1].append(p.point_id)
    ordered = time_ordered([s for s, _ in by_scene.values()])
    parts = [scene_patches(s, by_scene[s.image_id][1], points, bands, group_crs)
             for s in ordered]
    return ee.FeatureCollection(parts).flatten()


def export_task(
    members: Sequence[Member], bands: Sequence[str], target: TableTarget
) -> Any:
    """The (unstarted) table export task of one group."""
    description = group_description(members, bands, target)
    return ee.batch.Export.table.toCloudStorage(
        collection=group_table(members, bands),
        description=description,
        bucket=target.bucket,
        fileNamePrefix=target.object_name(description),
        fileFormat="TFRecord",
        selectors=[*PROPERTIES, *bands],
    )


def _text(value: Any) -> str:
    if isinstance(value, list) and value:
        return bytes(value[0]).decode("utf-8")
    raise ValueError("a text property is not a bytes_list")


class GroupReader:
    """The members' stacks out of a group's table, read once front to back.

    Features come scene after scene; each is cropped to 64×64 and kept under its point
    until the whole file is read (a group of 128 points × 90 scenes × 11 bands holds about
    1 GB of u16 at the end).
    """

    def __init__(self, members: Sequence[Member], bands: Sequence[str], where: str) -> None:
        self.members = {p.point_id: (p, s) for p, s in members}
        self.bands = list(bands)
        self.where = where
        self.dtype = band_dtype(bands)
        self.found: dict[int, dict[str, dict[str, np.ndarray]]] = {}
        self.bad: dict[int, str] = {}

    def add(self, example: Example) -> None:
        """One feature: a point's patch of one scene."""
        pid = int(_text(example.get("point_id")))
        image_id = _text(example.get("image_id"))
        if pid not in self.members:
            return  # a member of the export no longer asked for (e.g. done meanwhile)
        side = 2 * KERNEL_RADIUS + 1
        fields: dict[str, np.ndarray] = {}
        for band in self.dtype.names or ():
            values = example.get(band)
            if not isinstance(values, np.ndarray) or values.size != side * side:
                size = 0 if not isinstance(values, np.ndarray) else values.size
                self.bad[pid] = (f"{self.where}: band {band} of {image_id} has {size} values, "
                                 f"expected {side}×{side}")
                return
            patch = values.reshape(side, side)[: side - 1, : side - 1]
            fields[band] = patch.astype(self.dtype[band])
        self.found.setdefault(pid, {})[image_id] = fields

    def add_all(self, examples: Iterable[Example]) -> None:
        """Every feature of the table."""
        for example in examples:
            self.add(example)

    def results(self, max_patch_nodata: float) -> list[PointStack | PointFailure]:
        """Each member's stack (its scenes in time order), or why it has none."""
        out: list[PointStack | PointFailure] = []
        for pid, (point, scenes) in self.members.items():
            if pid in self.bad:
                out.append(PointFailure(pid, self.bad[pid]))
                continue
            got = self.found.get(pid, {})
            patches = [ScenePatch(s, got[s.image_id]) for s in scenes if s.image_id in got]
            dropped = [DroppedScene(s.scene_id, "the batch export has no patch for this scene",
                                    kind="gee_missing_band")
                       for s in scenes if s.image_id not in got]
            try:
                out.append(assemble_stack(point, patches, self.bands, max_patch_nodata, dropped))
            except ValueError as e:
                out.append(PointFailure(pid, f"{self.where}: {e}"))
        return out
