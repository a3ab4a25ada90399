"""Config: TOML + flags, flags win, errors name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from lucas.errors import ConfigError
from pipeline.config import build_config, load_toml


def test_flags_override_file_and_paths_resolve_against_the_file(tmp_path: Path) -> None:
    cfg_file = tmp_path / "etl.toml"
    cfg_file.write_text(
        '[run]\nout = "outdir"\ncatalog = "cat/catalog.json"\nmax_cloud_cover = 30\n'
        'bands = ["B02", "B8A", "scl"]\nyear = 2018\n'
    )
    cfg = build_config(load_toml(cfg_file), {"max_cloud_cover": 20.0, "year": None}, cfg_file)
    assert cfg.max_cloud_cover == 20.0
    assert cfg.year == 2018
    assert cfg.out == tmp_path / "outdir"
    assert cfg.source_options.catalog == tmp_path / "cat" / "catalog.json"
    assert cfg.bands == ("B2", "B8A", "SCL")


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    cfg_file = tmp_path / "etl.toml"
    cfg_file.write_text('out = "o"\nmax_clouds = 3\n')
    with pytest.raises(ConfigError, match=r"etl\.toml.*unknown key 'max_clouds'"):
        build_config(load_toml(cfg_file), {}, cfg_file)


def test_bad_value_names_key_and_file(tmp_path: Path) -> None:
    cfg_file = tmp_path / "etl.toml"
    cfg_file.write_text('out = "o"\nworkers = "many"\n')
    with pytest.raises(ConfigError, match=r"etl\.toml, key 'workers'.*'many'"):
        build_config(load_toml(cfg_file), {}, cfg_file)


def test_flag_errors_name_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--max-cloud-cover.*percentage"):
        build_config({}, {"out": tmp_path, "max_cloud_cover": 140.0}, None)
    with pytest.raises(ConfigError, match="--bands.*B13"):
        build_config({}, {"out": tmp_path, "bands": "B2,B13"}, None)


def test_year_before_sentinel2_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="2009 is before Sentinel-2"):
        build_config({}, {"out": tmp_path, "year": 2009}, None)


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    cfg_file = tmp_path / "bad.toml"
    cfg_file.write_text("out = \n")
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML"):
        load_toml(cfg_file)


def test_output_hash_ignores_workers_but_not_thresholds(tmp_path: Path) -> None:
    a = build_config({}, {"out": tmp_path, "workers": 1}, None)
    b = build_config({}, {"out": tmp_path, "workers": 4}, None)
    c = build_config({}, {"out": tmp_path, "max_patch_nodata": 10.0}, None)
    assert a.output_hash() == b.output_hash() != c.output_hash()


def test_workers_default_depends_on_the_source(tmp_path: Path) -> None:
    assert build_config({}, {"out": tmp_path}, None).workers == 2
    assert build_config({}, {"out": tmp_path, "source": "gee"}, None).workers == 16
    assert build_config({}, {"out": tmp_path, "source": "gee", "workers": 4}, None).workers == 4


def test_batch_size_default_is_larger_over_a_stac_api(tmp_path: Path) -> None:
    """Over HTTP, batches of 256 download the blocks neighbouring batches share once
    (bench/bench_stac_api.py: 1.3× the minimum bytes, against 2.7× at 32)."""
    local = {"out": tmp_path, "catalog": tmp_path / "catalog.json"}
    api = {"out": tmp_path, "stac_url": "earth-search"}
    assert build_config({}, local, None).batch_size == 32
    assert build_config({}, api, None).batch_size == 256
    assert build_config({}, {**api, "batch_size": 64}, None).batch_size == 64
    assert build_config({}, {**api, "batch_size": None}, None).batch_size == 256


def test_a_sources_keys_may_sit_under_its_own_table(tmp_path: Path) -> None:
    flat, nested = tmp_path / "flat.toml", tmp_path / "nested.toml"
    flat.write_text('[run]\nout = "o"\nsource = "gee"\nmode = "batch"\ngcs_bucket = "b"\n')
    nested.write_text('[run]\nout = "o"\nsource = "gee"\n[run.gee]\nmode = "batch"\n'
                      'gcs-bucket = "b"\n')
    a = build_config(load_toml(flat), {}, flat)
    b = build_config(load_toml(nested), {}, nested)
    assert a == b and a.source_options.mode == "batch" and a.source_options.gcs_bucket == "b"
    assert a.scheduling.in_process and a.scheduling.one_job_per_country


def test_a_source_table_refuses_keys_of_other_sources(tmp_path: Path) -> None:
    cfg_file = tmp_path / "etl.toml"
    cfg_file.write_text('[run]\nout = "o"\n[run.stac]\nmode = "batch"\n')
    with pytest.raises(ConfigError, match=r"\[run\.stac\]: unknown key 'mode'; valid keys: "
                       r"allow_hosts, asset_root, catalog, collection, stac_url"):
        load_toml(cfg_file)


def test_earth_search_alias_and_source_errors_name_their_origin(tmp_path: Path) -> None:
    cfg = build_config({}, {"out": tmp_path, "stac_url": " Earth-Search "}, None)
    assert cfg.source_options.stac_url == "https://earth-search.aws.element84.com/v1"
    with pytest.raises(ConfigError, match="flag --mode: unknown mode 'slow'; choose one of "
                       "fast, batch"):
        build_config({}, {"out": tmp_path, "source": "gee", "mode": "slow"}, None)
    with pytest.raises(ConfigError, match="flag --source: unknown source 'ftp'; choose one "
                       "of stac, gee"):
        build_config({}, {"out": tmp_path, "source": "ftp"}, None)
    with pytest.raises(ConfigError, match="flag --scheduler: the gee source cannot run on Dask"):
        build_config({}, {"out": tmp_path, "source": "gee", "scheduler": "local:2"}, None)


def test_another_sources_table_is_kept_for_later_but_its_flat_keys_are_refused(
    tmp_path: Path,
) -> None:
    """One file for both sources: ``[run.gee]`` waits while ``source = "stac"``; switching
    ``source`` (or ``--source gee``) uses it. A flat key or flag of gee is refused with stac."""
    cfg_file = tmp_path / "etl.toml"
    cfg_file.write_text('[run]\nout = "o"\nsource = "stac"\n[run.stac]\ncatalog = "c.json"\n'
                        '[run.gee]\nmode = "batch"\ngcs_bucket = "b"\n')
    stac = build_config(load_toml(cfg_file), {}, cfg_file)
    assert stac.source == "stac" and stac.source_options.catalog == tmp_path / "c.json"
    gee = build_config(load_toml(cfg_file), {"source": "gee"}, cfg_file)
    assert gee.source_options.mode == "batch" and gee.source_options.gcs_bucket == "b"
    with pytest.raises(ConfigError, match="flag --catalog applies to --source stac, not gee"):
        build_config(load_toml(cfg_file), {"source": "gee", "catalog": "x"}, cfg_file)
    with pytest.raises(ConfigError, match=r"flag --gcs-bucket applies to --source gee, not "
                       r"stac \(the default\): drop it, or choose --source gee"):
        build_config({}, {"out": tmp_path, "gcs_bucket": "b"}, None)


def test_gee_group_size_is_a_whole_number_of_points(tmp_path: Path) -> None:
    base = {"out": tmp_path, "source": "gee", "mode": "batch", "gcs_bucket": "b"}
    assert build_config({}, base, None).source_options.gee_group_size == 128
    cfg = build_config({}, {**base, "gee_group_size": 256}, None)
    assert cfg.source_options.gee_group_size == 256
    for wrong in (0, 5000, "many", True):
        with pytest.raises(ConfigError, match=r"--gee-group-size: invalid value .*whole "
                           "number of points from 1 to 1000"):
            build_config({}, {**base, "gee_group_size": wrong}, None)
