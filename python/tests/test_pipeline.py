"""Pipelines from files, TOML text and dicts; errors as ValueError with the
engine's message (op position, op, key, allowed range)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import gpu_augment as ga
from conftest import PIPELINES

TOML = """
size = 32
format = "f32_chw"

[[ops]]
op = "random_resized_crop"
scale = [0.25, 1.0]

[[ops]]
op = "color_jitter"
brightness = 0.4
hue = 0.1

[[ops]]
op = "normalize"
"""

DICT = {
    "size": 32,
    "format": "f32_chw",
    "ops": [
        {"op": "random_resized_crop", "scale": [0.25, 1.0]},
        {"op": "color_jitter", "brightness": 0.4, "hue": 0.1},
        {"op": "normalize"},
    ],
}


def test_three_sources_are_one_pipeline(tmp_path: Path):
    f = tmp_path / "p.toml"
    f.write_text(TOML)
    pipes = [ga.Pipeline.from_toml(TOML), ga.Pipeline.from_dict(DICT), ga.Pipeline.from_file(f), ga.Pipeline(DICT)]
    img = [np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)]
    outs = [ga.Augmenter(p, backend="cpu")(img, seed=3).images for p in pipes]
    for o in outs[1:]:
        assert np.array_equal(o, outs[0])
    assert pipes[0].size == (32, 32) and pipes[0].format == "f32_chw" and pipes[0].views == 1
    assert pipes[0].mix_classes is None
    assert ga.Pipeline.from_file(PIPELINES / "cutmix.toml").mix_classes == 10


def test_bad_value_names_op_and_key():
    bad = dict(DICT, ops=[{"op": "color_jitter", "hue": 0.7}])
    with pytest.raises(ValueError) as e:
        ga.Pipeline.from_dict(bad)
    msg = str(e.value)
    assert "op #0" in msg and "color_jitter" in msg and "`hue`" in msg and "0.5" in msg, msg
    with pytest.raises(ValueError, match="hue"):
        ga.Pipeline.from_toml(TOML.replace("hue = 0.1", "hue = 0.7"))


def test_unknown_key_and_op_and_syntax():
    with pytest.raises(ValueError, match="unknown key `bightness`"):
        ga.Pipeline.from_dict({"size": 8, "ops": [{"op": "color_jitter", "bightness": 0.4}]})
    with pytest.raises(ValueError, match="unknown op `flip`"):
        ga.Pipeline.from_dict({"size": 8, "ops": [{"op": "flip"}]})
    with pytest.raises(ValueError, match="size"):
        ga.Pipeline.from_dict({"ops": []})
    with pytest.raises(ValueError, match="TOML"):
        ga.Pipeline.from_toml("size = = 3")
    with pytest.raises(ValueError, match="pipeline dict"):
        ga.Pipeline.from_dict({"size": 8, "ops": [{"op": "horizontal_flip", "p": None}]})


def test_missing_file_and_bad_backend(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        ga.Pipeline.from_file(tmp_path / "nope.toml")
    with pytest.raises(ValueError, match="backend"):
        ga.Augmenter(ga.Pipeline.from_dict({"size": 8, "ops": []}), backend="tpu")
    with pytest.raises(TypeError):
        ga.Augmenter(ga.Pipeline.from_dict({"size": 8, "ops": []}), backend="cpu")([42])
    with pytest.raises(OSError, match="nope.png"):
        ga.Augmenter(ga.Pipeline.from_dict({"size": 8, "ops": []}), backend="cpu")([tmp_path / "nope.png"])
