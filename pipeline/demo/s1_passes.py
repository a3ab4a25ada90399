"""The demo's Sentinel-1 acquisitions: tracks, platforms, datatakes and their slices.

Two relative orbits cross the demo: descending R066 (early morning) and ascending R117
(evening). Each platform repeats a relative orbit every 12 days (175 orbits); Sentinel-1B
flies the same tracks 6 days after Sentinel-1A (from its first images in late April 2016 to
its failure on 23 December 2021; later years have S1A alone), and the descending passes fall
3 days before the ascending ones, so a point sees an acquisition every 3 days (6 without
S1B). Absolute orbits follow the real relation to the relative orbit (S1A:
``(abs - 73) % 175 + 1``, S1B: ``(abs - 27) % 175 + 1``); the 6-hex datatake id grows with
the absolute orbit. Slices of one datatake are 25 s long and share its datatake id.

Half the descending passes (two of every four) are cut into two slices across the demo area
(the frame boundary falls there), the first of them with a no-data strip in the overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

ORBITS_PER_CYCLE = 175
CYCLE_DAYS = 12
SLICE_SECONDS = 25
S1B_OFFSET_DAYS = 6


@dataclass(frozen=True)
class Track:
    """A relative orbit over the demo: direction, time of day, its rasters' UTM zone."""

    orbit_state: str  # "ascending" or "descending" (STAC sat:orbit_state)
    relative_orbit: int
    time_of_day: timedelta  # UTC sensing start of the slice over the demo
    phase_days: int  # days from PHASE_ORIGIN to an S1A pass (mod 12)
    epsg: int  # the slices' rasters (the other track's zone is the other one)


PHASE_ORIGIN = datetime(2018, 1, 5, tzinfo=UTC)
TRACKS: tuple[Track, ...] = (
    Track("descending", 66, timedelta(hours=5, minutes=16, seconds=21), -3, 32632),
    Track("ascending", 117, timedelta(hours=16, minutes=50, seconds=50), 0, 32633),
)
SPLIT_TRACK = "descending"  # the track whose frame boundary crosses the demo (every other pass)

# platform -> (first, end) of its acquisitions, absolute orbit anchor, orbit offset, datatake
# id anchor (hex id = abs * 7 + offset, so consecutive datatakes get distinct, growing ids)
_PLATFORMS: dict[str, tuple[datetime, datetime, tuple[int, datetime], int, int]] = {
    "sentinel-1a": (datetime(2014, 10, 3, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC),
                    (19964, datetime(2018, 1, 5, 16, 50, 50, tzinfo=UTC)), 73, -54),
    "sentinel-1b": (datetime(2016, 4, 28, tzinfo=UTC), datetime(2021, 12, 23, tzinfo=UTC),
                    (9068, datetime(2018, 1, 11, 16, 50, 50, tzinfo=UTC)), 27, 4620),
}  # fmt: skip


@dataclass(frozen=True)
class S1Pass:
    """One datatake over the demo area: one slice, or two overlapping ones (``split``)."""

    index: int  # in time order through the year
    platform: str  # sentinel-1a / sentinel-1b
    track: Track
    absolute_orbit: int
    datatake_id: int  # < 2**24, written as 6 hex digits in the product id
    start: datetime  # sensing start of the (first) slice
    split: bool
    track_index: int  # how many passes of this track came before in the year

    @property
    def mission(self) -> str:
        return "S1" + self.platform[-1].upper()

    @property
    def doy(self) -> float:
        return float(self.start.timetuple().tm_yday)

    def slice_times(self, k: int) -> tuple[datetime, datetime]:
        """(start, stop) of slice ``k`` (0 or 1): consecutive 25 s frames."""
        start = self.start + timedelta(seconds=SLICE_SECONDS * k)
        return start, start + timedelta(seconds=SLICE_SECONDS)

    def item_id(self, k: int) -> str:
        """The Planetary Computer ``sentinel-1-rtc`` id of slice ``k``."""
        start, stop = self.slice_times(k)
        return (
            f"{self.mission}_IW_GRDH_1SDV_{start:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}_"
            f"{self.absolute_orbit:06d}_{self.datatake_id:06X}_rtc"
        )

    @property
    def n_slices(self) -> int:
        return 2 if self.split else 1


def plan_s1_passes(year: int) -> list[S1Pass]:
    """Every Sentinel-1 pass of the year over the demo, in time order."""
    first = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    found: list[tuple[datetime, str, Track]] = []
    for track in TRACKS:
        for platform, (flies_from, flies_until, _, _, _) in _PLATFORMS.items():
            shift = track.phase_days + (S1B_OFFSET_DAYS if platform == "sentinel-1b" else 0)
            day0 = PHASE_ORIGIN + timedelta(days=shift)
            k = (first - day0).days // CYCLE_DAYS - 1
            while (day := day0 + timedelta(days=CYCLE_DAYS * k)) < end:
                when = day + track.time_of_day
                if first <= day and flies_from <= when < flies_until:
                    found.append((when, platform, track))
                k += 1
    found.sort(key=lambda f: f[0])
    out: list[S1Pass] = []
    per_track: dict[int, int] = {}
    for i, (when, platform, track) in enumerate(found):
        n = per_track.get(track.relative_orbit, 0)
        per_track[track.relative_orbit] = n + 1
        orbit = absolute_orbit(platform, track.relative_orbit, when)
        split = track.orbit_state == SPLIT_TRACK and n % 4 < 2  # S1A and S1B passes
        out.append(S1Pass(i, platform, track, orbit, datatake_id(platform, orbit), when, split, n))
    return out


def absolute_orbit(platform: str, relative: int, when: datetime) -> int:
    """The absolute orbit nearest the one expected at ``when`` with relative orbit ``relative``."""
    _, _, (anchor, anchor_time), offset, _ = _PLATFORMS[platform]
    days = (when - anchor_time).total_seconds() / 86400
    estimate = anchor + round(days * ORBITS_PER_CYCLE / CYCLE_DAYS)
    residue = (relative - 1 + offset) % ORBITS_PER_CYCLE
    base = estimate - ((estimate - residue) % ORBITS_PER_CYCLE)
    return base if estimate - base <= ORBITS_PER_CYCLE // 2 else base + ORBITS_PER_CYCLE


def relative_orbit(platform: str, absolute: int) -> int:
    """ESA's relation: S1A ``(abs - 73) % 175 + 1``, S1B ``(abs - 27) % 175 + 1``."""
    return (absolute - _PLATFORMS[platform][3]) % ORBITS_PER_CYCLE + 1


def datatake_id(platform: str, absolute: int) -> int:
    """A datatake id (24 bits) growing with the absolute orbit (one datatake per pass here)."""
    return (absolute * 7 + _PLATFORMS[platform][4]) % (1 << 24)
