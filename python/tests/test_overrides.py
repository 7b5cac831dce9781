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


def _photos(tmp_path, n: int) -> list:
    from PIL import Image

    paths = []
    for i, im in enumerate(images(n)):
        p = tmp_path / f"im{i}.png"
        Image.fromarray(im).save(p)
        paths.append(p)
    return paths


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_loader_takes_a_per_item_table(tmp_path, backend: str):
    """Each batch of the Loader takes its items' entries of the table, by
    dataset index whatever the shuffle: the Augmenter given the same entries
    for the same indices gives the same bytes and records."""
    paths = _photos(tmp_path, 5)
    pipe = ga.Pipeline.from_toml(AFFINE)
    loader = ga.Loader(paths, pipe, batch_size=2, shuffle=True, seed=3, backend=backend)
    strength = np.array([0.0, 1.0, 0.25, 0.0, 0.75])
    skip = np.array([False, False, False, True, False])
    loader.set_overrides(strength=strength, skip=skip)
    aug = ga.Augmenter(pipe, backend)
    src = images(5)
    seen = 0
    for b in loader:
        idx = [int(i) for i in b.indices]
        ref = aug([paths[i] for i in idx], seed=3, epoch=b.epoch, indices=idx,
                  strength=strength[idx], skip=skip[idx])
        assert np.array_equal(b.images, ref.images)
        for j, i in enumerate(idx):
            rec = b.records[j]
            assert rec["overrides"]["strength"] == strength[i]
            if strength[i] == 0.0 or skip[i]:
                assert np.array_equal(b.images[j], src[i])
            seen += 1
    assert seen == 5
    # Cleared: the next epoch is the file's own.
    loader.set_overrides()
    b = next(iter(loader))
    idx = [int(i) for i in b.indices]
    plain = aug([paths[i] for i in idx], seed=3, epoch=b.epoch, indices=idx)
    assert np.array_equal(b.images, plain.images)
    assert "overrides" not in b.records[0]


def test_loader_table_is_checked_at_the_call(tmp_path):
    loader = ga.Loader(_photos(tmp_path, 3), ga.Pipeline.from_toml(AFFINE), batch_size=2, backend="cpu")
    with pytest.raises(ValueError, match=r"3 items\).*overrides\.strength has 2 values"):
        loader.set_overrides(strength=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"overrides\.p_scale\[2\] = 2"):
        loader.set_overrides(p_scale=[1.0, 0.5, 2.0])
    # A rejected table leaves the loader as it was: no overrides.
    b = next(iter(loader))
    assert "overrides" not in b.records[0]


def test_torch_loader_passes_the_table_on(tmp_path):
    pytest.importorskip("torch")
    import gpu_augment.torch as gt

    paths = _photos(tmp_path, 3)
    loader = gt.Loader(paths, ga.Pipeline.from_toml(AFFINE), batch_size=3, shuffle=False, backend="cpu")
    loader.set_overrides(strength=np.zeros(3))
    images_t, _ = next(iter(loader))
    assert np.array_equal(images_t.numpy(), np.stack(images(3)))
