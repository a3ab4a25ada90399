"""The STAC source: a static catalog of COGs on disk or a STAC API (Earth Search)."""
