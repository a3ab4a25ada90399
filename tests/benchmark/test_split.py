"""Split proportions per country, determinism, and the key-file split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark import split
from lucas.errors import ConfigError


def _names(prefix: int, n: int) -> list[str]:
    return [f"Lucas_Point_{prefix + i:08d}" for i in range(n)]


def test_proportions_per_country() -> None:
    names = _names(10000000, 200) + _names(20000000, 41)
    countries = ["AT"] * 200 + ["DE"] * 41
    parts = split.random_split(names, countries, seed=0)
    counts = split.summary(parts, np.array(countries))
    assert counts["AT"] == {"train": 140, "val": 30, "test": 30}
    assert counts["DE"] == {"train": 29, "val": 6, "test": 6}  # round(0.15 · 41) = 6


def test_deterministic_and_independent_of_order_and_other_countries() -> None:
    at = _names(10000000, 100)
    de = _names(20000000, 60)
    both = split.random_split(at + de, ["AT"] * 100 + ["DE"] * 60, seed=7)
    again = split.random_split(at + de, ["AT"] * 100 + ["DE"] * 60, seed=7)
    assert both.tolist() == again.tolist()
    reversed_at = split.random_split(at[::-1], ["AT"] * 100, seed=7)
    assert reversed_at[::-1].tolist() == both[:100].tolist()
    assert split.random_split(at, ["AT"] * 100, seed=7).tolist() == both[:100].tolist()
    assert split.random_split(at, ["AT"] * 100, seed=8).tolist() != both[:100].tolist()


def test_key_files_split(tmp_path: Path) -> None:
    names = _names(30000000, 10)
    (tmp_path / "val_keys.txt").write_text("\n".join(names[:2]) + "\n")
    (tmp_path / "test_keys.txt").write_text("\n".join(names[2:5]) + "\n\n")
    parts = split.keys_split(names, split.key_files(tmp_path))
    assert parts.tolist() == ["val"] * 2 + ["test"] * 3 + ["train"] * 5
    (tmp_path / "train_keys.txt").write_text("\n".join(names[5:8]))
    parts = split.keys_split(names, split.key_files(tmp_path))
    assert parts.tolist()[5:] == ["train"] * 3 + [split.UNASSIGNED] * 2


def test_key_files_prefix_and_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="val_keys.txt"):
        split.key_files(tmp_path)
    (tmp_path / "crop_val_keys.txt").write_text("Lucas_Point_00000001\n")
    (tmp_path / "crop_test_keys.txt").write_text("Lucas_Point_00000001\n")
    files = split.key_files(tmp_path, prefix="crop_")
    with pytest.raises(ConfigError, match="both val and test"):
        split.keys_split(["Lucas_Point_00000001"], files)


@pytest.mark.realdata
def test_real_sen4map_key_lists(shared_dir: Path) -> None:
    keys = shared_dir / "lucas" / "sen4map_split_keys_Foxigod"
    files = split.key_files(keys)
    assert set(files) == {"val", "test"}
    names = ["Lucas_Point_26401762", "Lucas_Point_99999999"]
    assert split.keys_split(names, files).tolist() == ["val", "train"]


def test_random_split_is_drawn_within_the_labelled_points() -> None:
    """70/15/15 of the points the legend keeps (± 1 point of rounding), per country."""
    rng = np.random.default_rng(3)
    names = _names(10000000, 400) + _names(20000000, 157)
    countries = np.array(["AT"] * 400 + ["DE"] * 157)
    labelled = rng.random(len(names)) < 0.55
    parts = split.random_split(names, countries, seed=1, eligible=labelled)
    assert (parts[~labelled] == split.UNASSIGNED).all()
    for country in ("AT", "DE"):
        sel = (countries == country) & labelled
        n = int(sel.sum())
        for part, share in zip(split.PARTS, split.DEFAULT_FRACTIONS, strict=True):
            assert abs(int(np.sum(parts[sel] == part)) - share * n) <= 1, (country, part)


def test_no_key_of_any_val_or_test_list_is_trained_on(tmp_path: Path) -> None:
    """A crop run uses the crop lists; land-cover val/test points stay out of its training."""
    names = _names(40000000, 12)
    (tmp_path / "val_keys.txt").write_text("\n".join(names[0:3]))
    (tmp_path / "test_keys.txt").write_text("\n".join(names[3:6]))
    (tmp_path / "crop_val_keys.txt").write_text(names[0])
    (tmp_path / "crop_test_keys.txt").write_text(names[3])
    held_out = split.held_out_keys(tmp_path)
    assert held_out == set(names[:6])
    parts = split.keys_split(names, split.key_files(tmp_path, "crop_"), held_out=held_out)
    assert parts.tolist() == (["val"] + [split.UNASSIGNED] * 2 + ["test"]
                              + [split.UNASSIGNED] * 2 + ["train"] * 6)
    (tmp_path / "crop_train_keys.txt").write_text("\n".join([names[1], *names[6:]]))
    parts = split.keys_split(names, split.key_files(tmp_path, "crop_"), held_out=held_out)
    assert parts[1] == split.UNASSIGNED and (parts[6:] == "train").all()
    assert not set(np.asarray(names)[parts == "train"]) & held_out


def test_part_sizes_compared_with_the_paper() -> None:
    ours = {"train": 10, "val": 3, "test": 3}
    assert split.compare_with_paper(ours, {"train": 10, "val": 3, "test": 3}) == []
    assert split.compare_with_paper(ours, {"train": 10, "val": 3, "test": 4}) == [
        "test: 3 points, the paper 4"]
