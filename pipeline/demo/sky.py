"""The demo's acquisitions: datatake schedule, clouds, shadows, cirrus, snow, swath wedges.

Schedule: Sentinel-2A/2B over relative orbits R022 (datatake start 10:10:31 UTC) and R065
(10:20:19 UTC, 43 orbits = 3.007 days later), so passes alternate 3 and 2 days apart (one
every 2.5 days on average), each satellite repeating an orbit every 10 days; before 2017
only S2A flies, from its first acquisitions in July 2015. Absolute orbit numbers follow the
real relation to the relative orbit (S2A: ``(abs + 2) % 143 + 1``, S2B:
``(abs - 27) % 143 + 1``). Each datatake covers both tiles: two items, same datetime.

Clouds, shadows, cirrus and snow are smooth random fields on a coarse LAEA grid, one set
per datatake, so both tiles of a datatake see the same clouds where they overlap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from lucas.errors import ConfigError

ORBITS: tuple[tuple[int, timedelta], ...] = (
    (22, timedelta(hours=10, minutes=10, seconds=31)),
    (65, timedelta(hours=10, minutes=20, seconds=19)),
)
GRANULE_DELAY = timedelta(minutes=6, seconds=52)  # datatake start -> sensing of these tiles
_ANCHORS = {  # platform -> (absolute orbit, date, relative-orbit offset)
    "sentinel-2a": (8342, datetime(2017, 1, 26, tzinfo=UTC), 2),
    "sentinel-2b": (4109, datetime(2017, 12, 19, tzinfo=UTC), -27),
}
FIRST_ACQUISITION = datetime(2015, 7, 1, tzinfo=UTC)  # Sentinel-2A launched 23 June 2015
TWO_SATELLITES_FROM = 2017  # the demo flies S2B from 2017 on (its archive starts mid-2017)
MARKER_DOYS = (190.0, 222.0)  # the two forced clear-sky datatakes (mid-July, early August)
SKY_CELL_M = 50.0
SHADOW_MARGIN_M = 5000.0


@dataclass(frozen=True)
class Wedge:
    """A no-data triangle at a swath edge: the raster corner and its share of the raster."""

    corner: str  # "NE", "NW", "SE" or "SW"
    share: float  # 0..1 (the triangle's legs are sqrt(2 * share) of the raster sides)


@dataclass(frozen=True)
class Datatake:
    """One pass over both tiles, with the weather it met."""

    index: int
    platform: str
    relative_orbit: int
    absolute_orbit: int
    start: datetime  # datatake sensing start
    sensed: datetime  # sensing time of the two tiles (the items' datetime)
    generated: datetime  # L2A processing time
    cloud: float  # target cloud share (classes 8, 9) 0..1
    cirrus: float  # target thin-cirrus share
    snow: float  # share of the snow-prone ground under snow
    wedges: Mapping[str, Wedge]  # tile -> no-data wedge
    marker: bool = False  # a clear-sky datatake that carries markers

    @property
    def doy(self) -> float:
        return float(self.sensed.timetuple().tm_yday)

    @property
    def sat(self) -> str:
        return "S2" + self.platform[-1].upper()

    def sun(self) -> tuple[float, float]:
        """(azimuth, elevation) in degrees at the demo centre (47.47N, 12E)."""
        return sun_position(self.sensed, 47.47, 12.0)


def plan_datatakes(year: int, step_days: float, seed: int) -> list[Datatake]:
    """Every pass of the year, ~``step_days`` apart; two mid-summer ones forced clear."""
    if not 1.0 <= step_days <= 120.0:
        raise ConfigError(f"step_days={step_days}: use a value from 1 to 120 days")
    first = datetime(year, 1, 1, tzinfo=UTC)
    days = (datetime(year + 1, 1, 1, tzinfo=UTC) - first).days
    offsets: list[int] = []
    k = 0
    while (d := 1 + math.ceil(k * step_days - 1e-9)) < days:
        if first + timedelta(days=d) >= FIRST_ACQUISITION:
            offsets.append(d)
        k += 1
    if len(offsets) < 2:
        raise ConfigError(f"step_days={step_days} gives fewer than 2 passes in {year}")
    markers = _marker_indices([o + 1 for o in offsets])
    rng = np.random.default_rng([seed, 101])
    out = []
    for i, off in enumerate(offsets):
        weather = _weather(rng, off + 1.0)
        wedges = _wedges(rng, i)
        if i in markers:
            weather = (0.0, 0.0, 0.0)
            wedges = _marker_wedges(markers.index(i))
        out.append(_datatake(i, first + timedelta(days=off), weather, wedges, i in markers))
    return out


def _marker_indices(doys: list[int]) -> list[int]:
    """The passes closest to MARKER_DOYS (two distinct ones)."""
    first = min(range(len(doys)), key=lambda i: abs(doys[i] - MARKER_DOYS[0]))
    rest = [i for i in range(len(doys)) if i != first]
    second = min(rest, key=lambda i: abs(doys[i] - MARKER_DOYS[1]))
    return [first, second]


def _marker_wedges(which: int) -> dict[str, Wedge]:
    """Marker pass A: 33TTN over the 5 % no-data limit; pass B: 32TQT. So the pipeline must
    take the other tile's scene for every point on those dates (incl. the cross-zone ones)."""
    return {"33TTN": Wedge("NW", 0.075)} if which == 0 else {"32TQT": Wedge("SE", 0.075)}


def _wedges(rng: np.random.Generator, index: int) -> dict[str, Wedge]:
    """R022 passes clip 32TQT's south-west corner a little; R065 passes clip 33TTN's north-east
    corner by 1–9 % (so about half of them exceed the 5 % scene no-data limit)."""
    if index % 2 == 0:
        return {"32TQT": Wedge("SW", float(rng.uniform(0.005, 0.035)))}
    return {"33TTN": Wedge("NE", float(rng.uniform(0.01, 0.09)))}


def _weather(rng: np.random.Generator, doy: float) -> tuple[float, float, float]:
    """(cloud, cirrus, snow) shares for a pass: cloudier and snowier in winter."""
    summer = 0.5 - 0.5 * math.cos(2 * math.pi * (doy - 15) / 365)
    u = rng.uniform()
    p_clear, p_overcast = 0.28 + 0.17 * summer, 0.40 - 0.12 * summer
    if u < p_clear:
        cloud = 0.0 if rng.uniform() < 0.5 else rng.uniform(0.002, 0.04)
    elif u < p_clear + p_overcast:
        cloud = rng.uniform(0.42, 0.97)
    else:
        cloud = rng.uniform(0.05, 0.38)
    cirrus = rng.uniform(0.02, 0.2) if rng.uniform() < 0.25 else 0.0
    snow_curve = np.interp(
        doy,
        (0, 30, 60, 80, 100, 110, 315, 330, 350, 366),
        (0.65, 0.7, 0.45, 0.2, 0.02, 0, 0, 0.15, 0.5, 0.65),
    )
    snow = float(np.clip(snow_curve * rng.uniform(0.6, 1.2), 0.0, 0.95))
    return float(cloud), float(cirrus), snow


def _datatake(
    i: int,
    day: datetime,
    weather: tuple[float, float, float],
    wedges: dict[str, Wedge],
    marker: bool,
) -> Datatake:
    relative, start_time = ORBITS[i % 2]
    two = day.year >= TWO_SATELLITES_FROM
    platform = "sentinel-2a" if (i // 2) % 2 == 0 or not two else "sentinel-2b"
    start = day + start_time
    sensed = start + GRANULE_DELAY + timedelta(milliseconds=(i * 137) % 1000)
    generated = start + timedelta(hours=1, minutes=48 + (i * 7) % 30, seconds=(i * 13) % 60)
    return Datatake(
        index=i,
        platform=platform,
        relative_orbit=relative,
        absolute_orbit=absolute_orbit(platform, relative, start),
        start=start,
        sensed=sensed,
        generated=generated,
        cloud=weather[0],
        cirrus=weather[1],
        snow=weather[2],
        wedges=wedges,
        marker=marker,
    )


def absolute_orbit(platform: str, relative: int, when: datetime) -> int:
    """The absolute orbit near the one expected at ``when`` that has relative orbit ``relative``."""
    anchor, anchor_day, offset = _ANCHORS[platform]
    estimate = anchor + round((when - anchor_day).total_seconds() / 86400 * 14.3)
    residue = (relative - 1 - offset) % 143
    base = estimate - ((estimate - residue) % 143)
    return base if estimate - base <= 71 else base + 143


def sun_position(when: datetime, lat: float, lon: float) -> tuple[float, float]:
    """Approximate solar (azimuth, elevation) in degrees; good to ~1° (enough for shadows)."""
    doy = when.timetuple().tm_yday
    decl = math.radians(23.44) * math.sin(2 * math.pi * (doy - 81) / 365)
    hours = when.hour + when.minute / 60 + when.second / 3600 + lon / 15.0
    h = math.radians(15.0 * (hours - 12.0))
    phi = math.radians(lat)
    elev = math.asin(math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(h))
    az = math.atan2(math.sin(h), math.cos(h) * math.sin(phi) - math.tan(decl) * math.cos(phi))
    return (math.degrees(az) + 180.0) % 360.0, math.degrees(elev)


@dataclass(frozen=True)
class SkyGrid:
    """A coarse LAEA grid (cell centres at x0 + (i + 0.5) * cell) carrying the sky fields."""

    x0: float
    y0: float
    nx: int
    ny: int
    cell: float = SKY_CELL_M

    @classmethod
    def around(cls, extent: tuple[float, float, float, float]) -> SkyGrid:
        m = SHADOW_MARGIN_M
        x0, y0 = extent[0] - m, extent[1] - m
        nx = math.ceil((extent[2] + m - x0) / SKY_CELL_M)
        ny = math.ceil((extent[3] + m - y0) / SKY_CELL_M)
        return cls(x0, y0, nx, ny)

    def sample(self, field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bilinear value of ``field`` (ny, nx) at LAEA (x, y), clamped at the grid edge."""
        fx = np.clip((x - self.x0) / self.cell - 0.5, 0, self.nx - 1.001)
        fy = np.clip((y - self.y0) / self.cell - 0.5, 0, self.ny - 1.001)
        i, j = fx.astype(np.intp), fy.astype(np.intp)
        ax, ay = (fx - i).astype(np.float32), (fy - j).astype(np.float32)
        top = field[j, i] * (1 - ax) + field[j, i + 1] * ax
        bottom = field[j + 1, i] * (1 - ax) + field[j + 1, i + 1] * ax
        return top * (1 - ay) + bottom * ay

    def inside(self, field: np.ndarray, extent: tuple[float, float, float, float]) -> np.ndarray:
        """The field's values over the demo extent (for quantile thresholds)."""
        i0 = int((extent[0] - self.x0) // self.cell)
        i1 = int((extent[2] - self.x0) // self.cell)
        j0 = int((extent[1] - self.y0) // self.cell)
        j1 = int((extent[3] - self.y0) // self.cell)
        return field[j0:j1, i0:i1]


def smooth_field(rng: np.random.Generator, grid: SkyGrid, scales: tuple[float, ...]) -> np.ndarray:
    """Value noise: octaves of bilinearly upsampled random grids (cell sizes ``scales`` in m),
    amplitude ∝ scale^0.8; standardised to mean 0, std 1."""
    out = np.zeros((grid.ny, grid.nx), dtype=np.float32)
    for scale in scales:
        k = grid.cell / scale
        coarse = rng.standard_normal((int(grid.ny * k) + 3, int(grid.nx * k) + 3))
        fy, fx = np.arange(grid.ny) * k, np.arange(grid.nx) * k
        j, i = fy.astype(np.intp), fx.astype(np.intp)
        ay, ax = (fy - j)[:, None], (fx - i)[None, :]
        rows = coarse[j] * (1 - ay) + coarse[j + 1] * ay
        out += ((rows[:, i] * (1 - ax) + rows[:, i + 1] * ax) * scale**0.8).astype(np.float32)
    out -= out.mean()
    out /= max(float(out.std()), 1e-6)
    return out
