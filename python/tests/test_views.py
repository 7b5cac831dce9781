"""Named views ([[views]] files) from Python: one (images, records) pair per
view, shaped images x count x ..., equal to the CLI's outputs byte for byte."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gpu_augment as ga
from conftest import PIPELINES


def files_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_fixmatch_views_equal_the_cli(cli: Path, folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    subprocess.run(
        [str(cli), "run", "--input", str(folder), "--out", str(out), "--pipeline",
         str(PIPELINES / "fixmatch.toml"), "--backend", "cpu", "--seed", "3", "--epoch", "1"],
        check=True, capture_output=True,
    )
    files = files_of(folder)
    aug = ga.ViewAugmenter(PIPELINES / "fixmatch.toml", backend="cpu")
    assert [v[0] for v in aug.views] == ["weak", "strong"]
    got = aug(files, seed=3, epoch=1)
    assert list(got) == ["weak", "strong"]
    lines = [json.loads(l) for l in (out / "params.jsonl").read_text().splitlines()]
    for name, (images, records) in got.items():
        assert images.shape == (len(files), 1, 32, 32, 3)
        assert images.dtype == np.uint8
        assert [r["view_name"] for r in records] == [name] * len(files)
        for i, f in enumerate(files):
            rel = f.relative_to(folder)
            png = np.asarray(Image.open(out / rel.parent / f"{rel.stem}_{name}.png"))
            assert np.array_equal(png, images[i, 0]), (rel, name)
            line = next(l for l in lines if l["file"] == rel.as_posix() and l["view_name"] == name)
            assert line["ops"] == records[i]["ops"]


def test_dino_views_have_their_sizes_and_counts(folder: Path):
    files = files_of(folder)[:3]
    aug = ga.ViewAugmenter(PIPELINES / "dino_multicrop.toml", backend="cpu")
    got = aug(files, seed=1, first_index=10)
    g, gr = got["global"]
    loc, lr = got["local"]
    assert g.shape == (3, 2, 3, 224, 224) and g.dtype == np.float32
    assert loc.shape == (3, 6, 3, 96, 96)
    assert [(r["index"], r["view"]) for r in lr[:7]] == [(10, k) for k in range(6)] + [(11, 0)]
    # The same call again is the same; another seed differs.
    again = aug(files, seed=1, first_index=10)
    assert np.array_equal(again["local"][0], loc)
    assert not np.array_equal(aug(files, seed=2, first_index=10)["local"][0], loc)


def test_bad_views_raise_value_errors():
    with pytest.raises(ValueError, match="view `a`, key `count`"):
        ga.ViewAugmenter('size = 8\n[[views]]\nname = "a"\ncount = 0\n[[views.ops]]\nop = "invert"\n', "cpu")
