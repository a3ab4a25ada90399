"""Whole tiles from Earth Engine (the BigEarthNet path): a tile's scenes, a band read whole.

Offline: a fake server answers ``computeValue`` (the tile query, a scene's band grids) and
``computePixels`` (blocks of one band) the way Earth Engine would, checking what it checks
(the request limits, the expression's image and band, the grid) and filtering the rows by
the query's own filters.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ee
import numpy as np
import pytest
from affine import Affine

from exports.gee.pixels import MAX_BYTES
from exports.gee.source import GeeSettings, GeeSource
from exports.gee.throttle import RetryPolicy
from exports.gee.tiles import (
    TILE_BANDS,
    TILE_OPTIONAL,
    TILE_PROPS,
    Block,
    block_side,
    blocks,
    product_id,
    tile_query,
)
from exports.source import Scene, SceneFilter
from exports.tiles.grid import BAND_RESOLUTION, scene_band
from exports.tiles.mgrs import tile_bbox
from lucas.errors import SourceError
from tests.exports.gee_fakes import FakeClock, const, invocations, npy_bytes

COLLECTION = "COPERNICUS/S2_SR_HARMONIZED"
TILE = "33UUP"
X0, Y0 = 300_000.0, 5_400_000.0  # 33UUP's upper-left corner (EPSG:32633)
SIDE_M = 109_800.0
RES = {scene_band(b): r for b, r in BAND_RESOLUTION.items()}
INDEX = "20170613T101031_20170613T101032_T33UUP"
PRODUCT = "S2A_MSIL2A_20170613T101031_N0205_R022_T33UUP_20170613T101032"


def _props(index: str, cloud: float = 12.5, nodata: float = 0.0, **extra: Any) -> dict[str, Any]:
    """An S2_SR_HARMONIZED image's properties (those the tile query asks for)."""
    sensed = datetime.strptime(index[16:31], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    tile = index[-5:]
    props = {
        "system:index": index,
        "system:time_start": int(sensed.timestamp() * 1000),
        "MGRS_TILE": tile,
        "CLOUDY_PIXEL_PERCENTAGE": cloud,
        "NODATA_PIXEL_PERCENTAGE": nodata,
        "PRODUCT_ID": f"S2A_MSIL2A_{index[:15]}_N0205_R022_T{tile}_{index[16:31]}",
        "DATATAKE_IDENTIFIER": f"GS2A_{index[:15]}_010292_N02.05",
        "SPACECRAFT_NAME": "Sentinel-2A",
        "PROCESSING_BASELINE": "02.05",
        "SENSING_ORBIT_NUMBER": 22,
    }
    props.update(extra)
    return {k: v for k, v in props.items() if v is not None}


def value_at(band: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The fake tile's value of ``band`` at global pixels (rows × cols of its own grid):
    never 0, so a 0 in a read band is no-data."""
    if band == "SCL":
        return ((rows[:, None] + cols[None, :]) % 11 + 1).astype(np.uint8)
    r = ((rows % 251) * 256).astype(np.uint16)
    c = (cols % 255 + 1).astype(np.uint16)
    return r[:, None] + c[None, :]


def marker(band: str, n: int) -> int:
    """The value at pixel (5, 9) of block ``n`` (row-major) of the fake's marker lattice."""
    return 200 + n if band == "SCL" else 65_000 + n


@dataclass
class FakeTile:
    """One image of the tile on the server: its band grids, values and footprint."""

    index: str = INDEX
    side_m: float = SIDE_M
    masked_m: float = 1_200.0  # the tile's last 1,200 m of columns are outside the footprint
    marker_step: int = 2_048  # pixels between two markers (the block lattice of a test)

    def size(self, band: str) -> int:
        return round(self.side_m / RES[band])

    def transform(self, band: str) -> Affine:
        res = float(RES[band])
        return Affine(res, 0.0, X0, 0.0, -res, Y0)

    def band_info(self, band: str) -> dict[str, Any]:
        size = self.size(band)
        return {
            "id": band,
            "data_type": {"type": "PixelType", "precision": "int", "min": 0,
                          "max": 255 if band == "SCL" else 65535},
            "dimensions": [size, size],
            "crs": "EPSG:32633",
            "crs_transform": list(self.transform(band))[:6],
        }

    def truth(self, band: str) -> np.ndarray:
        """The whole band as the reader must return it (masked columns 0)."""
        size = self.size(band)
        return self.window(band, 0, 0, size, size)

    def window(self, band: str, col: int, row: int, width: int, height: int) -> np.ndarray:
        """Values of a window of the band's grid, 0 outside the band or the footprint."""
        size = self.size(band)
        rows, cols = np.arange(row, row + height), np.arange(col, col + width)
        out = value_at(band, rows, cols)
        step = self.marker_step
        for n, (mr, mc) in enumerate((r, c) for r in range(0, size, step)
                                     for c in range(0, size, step)):
            if row <= mr + 5 < row + height and col <= mc + 9 < col + width:
                out[mr + 5 - row, mc + 9 - col] = marker(band, n)
        masked = (cols >= size - int(self.masked_m / RES[band])) | (cols < 0) | (cols >= size)
        out[:, masked] = 0
        out[(rows < 0) | (rows >= size), :] = 0
        return out


@dataclass
class FakeServer:
    """computeValue and computePixels of an Earth Engine holding ``images`` (properties)
    and ``tiles`` (image id → pixels). Records every request; ``fail`` makes the block at
    pixel ``(col, row)`` raise its listed errors, one per attempt."""

    images: list[dict[str, Any]] = field(default_factory=list)
    tiles: dict[str, FakeTile] = field(default_factory=dict)
    fail: dict[tuple[int, int], list[Exception]] = field(default_factory=dict)
    values: list[Any] = field(default_factory=list)
    pixels: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- computeValue ---
    def compute_value(self, obj: Any) -> Any:
        self.values.append(obj)
        if invocations(obj, "Collection.reduceColumns"):
            return self._rows(obj)
        return self._grids(obj)

    def _rows(self, query: Any) -> list[list[Any]]:
        (load,) = invocations(query, "ImageCollection.load")
        assert const(load["id"]) == COLLECTION
        (span,) = invocations(query, "DateRange")
        start = datetime.fromisoformat(const(span["start"])).replace(tzinfo=UTC)
        end = datetime.fromisoformat(const(span["end"])).replace(tzinfo=UTC)
        equals = {const(a["leftField"]): const(a["rightValue"])
                  for a in invocations(query, "Filter.equals")}
        (columns,) = invocations(query, "Collection.reduceColumns")
        (to_list,) = invocations(query, "Reducer.toList")
        selectors = const(columns["selectors"])
        required = const(to_list["tupleSize"]) - const(to_list["numOptional"])
        rows = []
        for props in self.images:
            when = datetime.fromtimestamp(props["system:time_start"] / 1000, tz=UTC)
            if not start <= when < end:
                continue
            if any(props.get(k) != v for k, v in equals.items()):
                continue
            if any(props.get(k) is None for k in selectors[:required]):
                continue  # Reducer.toList drops a tuple lacking a required value
            rows.append([props.get(k) for k in selectors])
        return rows

    def _grids(self, image: Any) -> dict[str, Any]:
        (load,) = invocations(image, "Image.load")
        tile = self._tile(const(load["id"]))
        (select,) = invocations(image, "Image.select")
        bands = const(select["bandSelectors"])
        return {"type": "Image", "bands": [tile.band_info(b) for b in bands],
                "properties": {"system:index": tile.index}}

    def _tile(self, asset_id: str) -> FakeTile:
        index = asset_id.removeprefix(f"{COLLECTION}/")
        if index not in self.tiles or not asset_id.startswith(f"{COLLECTION}/"):
            raise ee.EEException(f"Image.load: Image asset '{asset_id}' not found (does not "
                                 "exist or caller does not have access).")
        return self.tiles[index]

    # --- computePixels ---
    def compute_pixels(self, params: dict[str, Any]) -> bytes:
        self.pixels.append(params)
        grid = params["grid"]
        width, height = grid["dimensions"]["width"], grid["dimensions"]["height"]
        if width > 32_768 or height > 32_768:
            raise ee.EEException(f"Grid dimensions ({width}x{height}) must be less than or "
                                 "equal to 32768.")
        expression = params["expression"]
        (load,) = invocations(expression, "Image.load")
        tile = self._tile(const(load["id"]))
        (select,) = invocations(expression, "Image.select")
        (band,) = const(select["bandSelectors"])
        u8 = bool(invocations(expression, "Image.toUint8"))
        size = width * height * (1 if u8 else 2)
        if size > MAX_BYTES:
            raise ee.EEException(f"Total request size ({size} bytes) must be less than or "
                                 f"equal to {MAX_BYTES} bytes.")
        t = grid["affineTransform"]
        native = tile.transform(band)
        assert grid["crsCode"] == "EPSG:32633"
        assert (t["scaleX"], t["scaleY"], t["shearX"], t["shearY"]) == (native.a, native.e, 0, 0)
        col = (t["translateX"] - native.c) / native.a
        row = (t["translateY"] - native.f) / native.e
        assert col == int(col) and row == int(row), "a block off the band's pixel grid"
        key = (int(col), int(row))
        with self._lock:
            errors = self.fail.get(key)
            if errors:
                raise errors.pop(0)
        values = tile.window(band, key[0], key[1], width, height)
        (unmask,) = invocations(expression, "Image.unmask")
        if const(unmask["sameFootprint"]) is not False:
            values[values == 0] = 7  # unmasked inside the footprint only: not 0 outside
        dtype = "u1" if u8 else "<u2"
        answer = np.zeros((height, width), dtype=[(band, dtype)])
        answer[band] = values
        return npy_bytes(answer)


def _source(server: FakeServer, block_px: int = 2_048, attempts: int = 3,
            workers: int = 4) -> GeeSource:
    clock = FakeClock()
    settings = GeeSettings(workers=workers, retry=RetryPolicy(max_attempts=attempts),
                           tile_block_px=block_px)
    return GeeSource(settings, compute_pixels=server.compute_pixels,
                     compute_value=server.compute_value, clock=clock, sleep=clock.sleep)


def _scene(server: FakeServer, index: str = INDEX) -> Scene:
    selection = _source(server).find_tile_scenes(TILE, 2017, SceneFilter(100.0, 100.0, 0.0),
                                                 None)
    return next(s for s in selection.scenes[0] if s.image_id == index)


def _server(tile: FakeTile | None = None) -> FakeServer:
    tile = tile or FakeTile()
    return FakeServer(images=[_props(tile.index)], tiles={tile.index: tile})


# --- the scenes of a tile ---------------------------------------------------------------


def test_tile_query_asks_one_tile_one_year_compact_rows(ee_offline: Any) -> None:
    bbox = tile_bbox(TILE)
    query = tile_query(TILE, 2017, bbox)

    assert [const(a["id"]) for a in invocations(query, "ImageCollection.load")] == [COLLECTION]
    (span,) = invocations(query, "DateRange")
    assert (const(span["start"]), const(span["end"])) == ("2017-01-01", "2018-01-01")
    (equals,) = invocations(query, "Filter.equals")
    assert (const(equals["leftField"]), const(equals["rightValue"])) == ("MGRS_TILE", TILE)
    assert not invocations(query, "Filter.lessThan")  # drops are decided here, and reported
    (rect,) = invocations(query, "GeometryConstructors.Rectangle")
    assert const(rect["coordinates"]) == list(bbox)
    (columns,) = invocations(query, "Collection.reduceColumns")
    assert const(columns["selectors"]) == list(TILE_PROPS)
    assert TILE_PROPS[:5] == ("system:index", "system:time_start", "MGRS_TILE",
                              "CLOUDY_PIXEL_PERCENTAGE", "NODATA_PIXEL_PERCENTAGE")
    assert {"PRODUCT_ID", "DATATAKE_IDENTIFIER"} <= set(TILE_OPTIONAL)
    (to_list,) = invocations(query, "Reducer.toList")
    assert const(to_list["tupleSize"]) == len(TILE_PROPS)
    assert const(to_list["numOptional"]) == len(TILE_OPTIONAL)
    assert not invocations(tile_query(TILE, 2017), "GeometryConstructors.Rectangle")


def test_the_tiles_scenes_of_the_year_with_drops_reported(ee_offline: Any) -> None:
    server = FakeServer(images=[
        _props("20170801T101031_20170801T101420_T33UUP", nodata=30.0),
        _props(INDEX, cloud=12.5, nodata=0.4),
        _props("20170420T100031_20170420T100025_T33UUP", cloud=85.0),
        _props("20170104T101401_20170104T101402_T33UUP", cloud=3.0),
        _props("20170613T101031_20170613T101032_T33UVP"),  # the neighbouring tile
        _props("20180613T101031_20180613T101032_T33UUP"),  # another year
        _props("20170910T101021_20170910T101020_T33UUP", NODATA_PIXEL_PERCENTAGE=None),
    ])
    selection = _source(server).find_tile_scenes(TILE, 2017, SceneFilter(40.0, 5.0, 0.0),
                                                 tile_bbox(TILE))

    assert len(server.values) == 1  # one server call for the whole year
    assert selection.scenes_seen == 4
    assert list(selection.scenes) == [0]
    early, june = selection.scenes[0]
    assert early.image_id == "20170104T101401_20170104T101402_T33UUP"
    assert june.scene_id == f"{COLLECTION}/{INDEX}"
    assert june.image_id == INDEX
    assert june.acquired == datetime(2017, 6, 13, 10, 10, 32, tzinfo=UTC)
    assert june.datatake == "S2A_20170613T101031"  # spacecraft + datatake start
    assert (june.tile, june.epsg) == (TILE, 32633)
    assert (june.cloud_cover, june.nodata_percent) == (12.5, 0.4)
    assert june.product_id == "S2A_MSIL2A_20170613T101031_N0205_R022_T33UUP"
    assert june.boa_offset == 0
    assert set(june.assets) == {"B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9",
                                "B11", "B12", "SCL"} == set(TILE_BANDS)
    assert set(june.assets.values()) == {f"{COLLECTION}/{INDEX}"}
    drops = {d.scene_id.rsplit("/", 1)[1][:8]: d for d in selection.dropped}
    assert set(drops) == {"20170801", "20170420"}
    assert drops["20170420"].kind == "cloud"
    assert drops["20170420"].reason == "cloud cover 85 % >= 40 %"
    assert drops["20170801"].kind == "scene_nodata"
    assert drops["20170801"].reason == "scene no-data 30 % >= 5 %"


def test_thresholds_at_100_filter_nothing(ee_offline: Any) -> None:
    server = FakeServer(images=[_props(INDEX, cloud=100.0, nodata=99.0)])
    selection = _source(server).find_tile_scenes(TILE, 2017, SceneFilter(100.0, 100.0, 0.0),
                                                 None)
    assert [s.image_id for s in selection.scenes[0]] == [INDEX]
    assert selection.dropped == []


def test_product_id_without_generation_time_or_built_from_the_properties() -> None:
    assert product_id({"PRODUCT_ID": PRODUCT}) == "S2A_MSIL2A_20170613T101031_N0205_R022_T33UUP"
    built = _props(INDEX, PRODUCT_ID=None)
    assert product_id(built) == "S2A_MSIL2A_20170613T101031_N0205_R022_T33UUP"
    assert product_id(_props(INDEX, PRODUCT_ID=None, SENSING_ORBIT_NUMBER=None)) == ""
    assert product_id({"PRODUCT_ID": "garbage"}) == ""


def test_a_failed_tile_query_raises_source_error(ee_offline: Any) -> None:
    calls: list[Any] = []

    def busy(obj: Any) -> Any:
        calls.append(obj)
        raise ee.EEException("Too many concurrent aggregations.")

    clock = FakeClock()
    source = GeeSource(GeeSettings(workers=2, retry=RetryPolicy(max_attempts=3)),
                       compute_value=busy, clock=clock, sleep=clock.sleep)
    with pytest.raises(SourceError, match="33UUP 2017") as err:
        source.find_tile_scenes(TILE, 2017, SceneFilter(), None)
    assert err.value.transient and len(calls) > 3  # 429s: retried for the quota budget
    assert clock.now >= RetryPolicy().quota_budget_s

    def bad(obj: Any) -> Any:
        raise ee.EEException("Invalid argument: nope")

    source = GeeSource(compute_value=bad, clock=FakeClock(), sleep=lambda s: None)
    with pytest.raises(SourceError) as err:
        source.find_tile_scenes(TILE, 2017, SceneFilter(), None)
    assert not err.value.transient


# --- a band whole -----------------------------------------------------------------------


def test_blocks_of_a_real_tile_fit_the_request_limits() -> None:
    for res, n in ((10, 36), (20, 9), (60, 1)):
        size = int(SIDE_M / res)
        plan = blocks(size, size, block_side(2_048, 2))
        assert len(plan) == n
        assert sum(b.width * b.height for b in plan) == size * size
        assert all(b.width * b.height * 2 <= MAX_BYTES and b.width <= 2_048 for b in plan)
    assert blocks(5, 3, 2) == [Block(0, 0, 2, 2), Block(2, 0, 2, 2), Block(4, 0, 1, 2),
                               Block(0, 2, 2, 1), Block(2, 2, 2, 1), Block(4, 2, 1, 1)]
    assert block_side(100_000, 2) ** 2 * 2 <= MAX_BYTES
    assert block_side(100_000, 1) <= 32_768


@pytest.mark.parametrize(
    ("key", "block_px", "n_blocks"),
    [("B4", 2_048, 36), ("B5", 2_048, 9), ("SCL", 2_048, 9), ("B1", 2_048, 1),
     ("B9", 512, 16)],
)
def test_a_band_whole_on_its_native_grid(
    ee_offline: Any, key: str, block_px: int, n_blocks: int
) -> None:
    tile = FakeTile(marker_step=block_px)
    server = _server(tile)
    scene = _scene(server)
    band = _source(server, block_px=block_px).read_band_whole(scene, key)

    res = RES[key]
    size = int(SIDE_M / res)
    assert band.data.shape == (size, size)
    assert band.data.dtype == (np.uint8 if key == "SCL" else np.uint16)
    assert band.transform == Affine(res, 0.0, X0, 0.0, -res, Y0)  # the tile's corner
    assert band.epsg == scene.epsg == 32633
    assert band.nodata == 0
    # every block's marker where it belongs, every pixel as on the server, masked → 0
    lattice = [(r, c) for r in range(0, size, block_px) for c in range(0, size, block_px)]
    assert len(lattice) == n_blocks
    for n, (r, c) in enumerate(lattice):
        assert band.data[r + 5, c + 9] == marker(key, n)
    assert np.array_equal(band.data, tile.truth(key))
    masked = int(1_200 / res)
    assert not band.data[:, -masked:].any() and band.data[:, :-masked].all()

    requests = server.pixels
    assert len(requests) == n_blocks
    origins = set()
    for params in requests:
        assert params["fileFormat"] == "NPY"
        grid = params["grid"]
        assert grid["crsCode"] == "EPSG:32633"
        w, h = grid["dimensions"]["width"], grid["dimensions"]["height"]
        assert w * h * band.data.itemsize <= MAX_BYTES and max(w, h) <= block_px
        t = grid["affineTransform"]
        assert (t["scaleX"], t["scaleY"], t["shearX"], t["shearY"]) == (res, -res, 0.0, 0.0)
        origins.add((t["translateX"], t["translateY"]))
        expr = params["expression"]
        (load,) = invocations(expr, "Image.load")
        assert const(load["id"]) == f"{COLLECTION}/{INDEX}"
        (select,) = invocations(expr, "Image.select")
        assert const(select["bandSelectors"]) == [key]
        (unmask,) = invocations(expr, "Image.unmask")
        assert const(unmask["sameFootprint"]) is False
        (fill,) = invocations(unmask["value"], "Image.constant")
        assert const(fill["value"]) == 0
        cast = "Image.toUint8" if key == "SCL" else "Image.toUint16"
        assert invocations(expr, cast)
    assert origins == {(X0 + c * res, Y0 - r * res) for r, c in lattice}


def test_band_grids_are_asked_once_per_scene(ee_offline: Any) -> None:
    server = _server(FakeTile(side_m=2_400.0))
    scene = _scene(server)
    source = _source(server)
    before = len(server.values)
    for key in ("B1", "B2", "B5", "SCL"):
        source.read_band_whole(scene, key)
    assert len(server.values) == before + 1
    (select,) = invocations(server.values[-1], "Image.select")
    assert const(select["bandSelectors"]) == list(TILE_BANDS)


def test_oversized_blocks_are_cut_under_48_mb(ee_offline: Any) -> None:
    server = _server()
    band = _source(server, block_px=8_192).read_band_whole(_scene(server), "B5")
    assert band.data.shape == (5_490, 5_490)
    assert len(server.pixels) == 4  # 5,017 px blocks: 48 MB of uint16 at most
    assert np.array_equal(band.data, server.tiles[INDEX].truth("B5"))


def test_the_pipeline_reads_a_whole_scene_through_the_source(ee_offline: Any) -> None:
    from pipeline.bigearthnet.read import READ_BANDS, read_scene

    server = _server(FakeTile(side_m=2_400.0, masked_m=0.0))
    scene = _scene(server)
    raster = read_scene(scene, _source(server).read_band_whole)
    assert (raster.grid.epsg, raster.grid.x_min, raster.grid.y_max) == (32633, X0, Y0)
    assert (raster.width_m, raster.height_m) == (2_400.0, 2_400.0)
    assert set(raster.bands) == set(READ_BANDS)
    assert raster.bands["B02"].shape == (240, 240) and raster.bands["B01"].shape == (40, 40)
    assert raster.bands["SCL"].dtype == np.uint8


def test_quota_errors_are_retried(ee_offline: Any) -> None:
    server = _server()
    scene = _scene(server)
    server.fail[(2_048, 0)] = [ee.EEException("Too many concurrent aggregations."),
                               ee.EEException("Too many concurrent aggregations.")]
    band = _source(server, attempts=3).read_band_whole(scene, "B5")
    assert len(server.pixels) == 9 + 2
    assert np.array_equal(band.data, FakeTile().truth("B5"))


def test_a_permanent_error_names_the_scene_and_band(ee_offline: Any) -> None:
    server = _server()
    scene = _scene(server)
    server.fail[(0, 2_048)] = [ee.EEException("Image.select: Pattern 'B5' did not match any "
                                              "bands. Invalid argument.")]
    with pytest.raises(SourceError) as err:
        _source(server, workers=1).read_band_whole(scene, "B5")
    assert not err.value.transient
    assert scene.scene_id in str(err.value) and "band B5" in str(err.value)
    assert sum(1 for p in server.pixels
               if p["grid"]["affineTransform"]["translateY"] == Y0 - 2_048 * 20
               and p["grid"]["affineTransform"]["translateX"] == X0) == 1  # never retried


def test_transient_errors_past_the_retries_are_transient(ee_offline: Any) -> None:
    server = _server()
    scene = _scene(server)
    server.fail[(0, 0)] = [ee.EEException("Internal error.") for _ in range(3)]
    with pytest.raises(SourceError, match="band B1") as err:
        _source(server, attempts=3).read_band_whole(scene, "B1")
    assert err.value.transient
    assert len(server.pixels) == 3


def test_an_unknown_image_is_a_permanent_error(ee_offline: Any) -> None:
    server = _server()
    scene = _scene(server)
    gone = Scene(**{**scene.__dict__, "image_id": "20170614T101031_20170614T101032_T33UUP"})
    with pytest.raises(SourceError, match="20170614T101031") as err:
        _source(server).read_band_whole(gone, "B2")
    assert not err.value.transient
    with pytest.raises(ValueError, match="B10"):
        _source(server).read_band_whole(scene, "B10")
