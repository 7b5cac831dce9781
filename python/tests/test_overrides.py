"""Per-sample overrides from numpy arrays: strength 0 gives the source
image exactly, strength 1 the file's output, the records hold the overrides,
and bad arrays are errors naming the field, the sample and the value."""

from __future__ import annotations

import numpy as np
import pytest

import gpu_augment as ga

AFFINE = """
size = [21, 33]
[[ops]]
op = "affine"
degrees = 30
translate = [0.2, 0.1]
[[ops]]
op = "color_jitter"
brightness = 0.5
"""


def images(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size=(21, 33, 3), dtype=np.uint8) for _ in range(n)]


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_strength_from_numpy(backend: str):
    aug = ga.Augmenter(ga.Pipeline.from_toml(AFFINE), backend)
    ims = images(4)
    strength = np.array([0.0, 1.0, 0.5, 0.0])
    b = aug(ims, seed=3, strength=strength)
    out = b.images
    assert np.array_equal(out[0], ims[0]) and np.array_equal(out[3], ims[3])
    plain = aug(ims, seed=3).images
    assert np.array_equal(out[1], plain[1])
    assert not np.array_equal(out[2], plain[2])
    recs = b.records
    assert [r["overrides"]["strength"] for r in recs] == [0.0, 1.0, 0.5, 0.0]
    assert "overrides" not in aug(ims, seed=3).records[0]
    skipped = aug(ims, seed=3, skip=np.array([True, False, True, False]))
    assert np.array_equal(skipped.images[2], ims[2])
    assert skipped.records[2]["overrides"]["skip"] is True


def test_policy_ops_by_name():
    aug = ga.Augmenter(ga.Pipeline.from_toml("size = 16\n[[ops]]\nop = \"rand_augment\"\nnum_ops = 2"), "cpu")
    ims = [np.full((16, 16, 3), 100, np.uint8)] * 2
    b = aug(ims, policy_ops=[["Rotate", "Equalize"], ["Solarize"]])
    steps = [[s["op"] for s in r["ops"][0]["steps"]] for r in b.records]
    assert steps == [["Rotate", "Equalize"], ["Solarize"]]
    w = np.zeros((2, 14))
    w[:, 5] = 1.0  # Rotate only
    b = aug(ims, policy_weights=w)
    assert all(s["op"] == "Rotate" for r in b.records for s in r["ops"][0]["steps"])


def test_bad_overrides():
    aug = ga.Augmenter(ga.Pipeline.from_toml(AFFINE), "cpu")
    ims = images(3)
    with pytest.raises(ValueError, match=r"overrides\.strength has 2 values for 3 images"):
        aug(ims, strength=np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"overrides\.p_scale\[1\] = 1\.5"):
        aug(ims, p_scale=[0.5, 1.5, 0.0])
    with pytest.raises(ValueError, match="expected a 1-d array"):
        aug(ims, strength=np.zeros((3, 2)))
    ra = ga.Augmenter(ga.Pipeline.from_toml("size = 8\n[[ops]]\nop = \"rand_augment\""), "cpu")
    with pytest.raises(ValueError, match=r"unknown policy op \"Rotat\""):
        ra(ims, policy_ops=[["Rotat"], [], []])
    with pytest.raises(ValueError, match="Invert is not in the policy's op set"):
        ra(ims, policy_ops=[["Invert"], [], []])
