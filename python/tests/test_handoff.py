"""The u8_chw hand-off: uint8 N x C x H x W with the pipeline's normalize
deferred to the consumer, and gpu_augment.torch.normalize applying it.

Tolerance: against the same pipeline's f32_chw output, (u8 / 255 - mean) / std
differs by the u8 rounding only: at most half an LSB, 0.5 / 255 / std, plus
1e-4 of float32 slack, for all but 0.1% of values; float16 adds its own
rounding (2^-11 relative, 1e-3 here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import gpu_augment as ga
from conftest import PIPELINES


def u8_chw_of(name: str) -> ga.Pipeline:
    text = (PIPELINES / name).read_text().replace('format = "f32_chw"', 'format = "u8_chw"')
    return ga.Pipeline.from_toml(text)


def files_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_u8_chw_exposes_the_deferred_normalization(folder: Path):
    pipe = u8_chw_of("imagenet_train.toml")
    assert pipe.format == "u8_chw"
    mean, std = pipe.normalization()
    assert np.allclose(mean, (0.485, 0.456, 0.406)) and np.allclose(std, (0.229, 0.224, 0.225))
    b = ga.Augmenter(pipe, backend="cpu")(files_of(folder)[:4], seed=1, epoch=0)
    assert b.images.dtype == np.uint8 and b.images.shape == (4, 3, 224, 224)


@pytest.mark.parametrize("dtype_name", ["float32", "float16"])
def test_torch_normalize_matches_f32_chw(folder: Path, dtype_name: str):
    torch = pytest.importorskip("torch")
    import gpu_augment.torch as gat

    files = files_of(folder)[:8]
    f32 = ga.Augmenter(ga.Pipeline.from_file(PIPELINES / "imagenet_train.toml"), backend="cpu")
    pipe = u8_chw_of("imagenet_train.toml")
    u8 = ga.Augmenter(pipe, backend="cpu")
    want = f32(files, seed=9, epoch=2).images
    mean, std = pipe.normalization()
    dtype = getattr(torch, dtype_name)
    got = gat.normalize(u8(files, seed=9, epoch=2).images, mean, std, device="cpu", dtype=dtype)
    assert got.dtype == dtype and tuple(got.shape) == want.shape
    s = np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)
    tol = 0.5 / 255.0 / s + (1e-4 if dtype_name == "float32" else 1e-3 * (1 + np.abs(want)))
    over = np.abs(got.float().numpy() - want) > tol
    assert over.mean() <= 0.001, f"{over.sum()} of {over.size} values beyond half an LSB"


def f16_chw_of(name: str) -> ga.Pipeline:
    text = (PIPELINES / name).read_text().replace('format = "f32_chw"', 'format = "f16_chw"')
    assert 'format = "f16_chw"' in text, name
    return ga.Pipeline.from_toml(text)


@pytest.fixture(params=["cpu", "gpu"])
def backend(request) -> str:
    if request.param == "gpu":
        request.getfixturevalue("gpu_ok")
    return request.param


@pytest.mark.parametrize("name", ["imagenet_train.toml", "cutmix.toml", "mixup.toml"])
def test_f16_chw_is_f32_chw_cast_to_float16(folder: Path, backend: str, name: str):
    files = files_of(folder)[:6]
    pipe = f16_chw_of(name)
    assert pipe.format == "f16_chw"
    f32 = ga.Augmenter(ga.Pipeline.from_file(PIPELINES / name), backend=backend)
    f16 = ga.Augmenter(pipe, backend=backend)
    labels = list(range(len(files)))
    want = f32(files, seed=4, epoch=1, labels=labels)
    got = f16(files, seed=4, epoch=1, labels=labels)
    a = got.images
    assert a.dtype == np.float16 and a.shape == (6, 3, 224, 224) and a.flags.c_contiguous
    # Zero copy, as for the other formats: the engine's buffer, owned by a
    # TensorOwner that hands it back to the pool.
    assert a.ctypes.data == got.buffer_address and type(a.base).__name__ == "TensorOwner"
    cast = want.images.astype(np.float16)
    same = a.view(np.uint16) == cast.view(np.uint16)
    assert same.all(), f"{(~same).sum()} of {same.size} values differ from astype(float16)"
    if want.labels is not None:
        assert np.array_equal(got.labels, want.labels)
    if backend == "gpu":
        s32, s16 = want.gpu_stats, got.gpu_stats
        assert s16["bytes_down"] * 2 == s32["bytes_down"]


def test_f16_chw_buffers_are_recycled(folder: Path):
    aug = ga.Augmenter(f16_chw_of("imagenet_train.toml"), backend="cpu")
    files = files_of(folder)[:3]
    held = aug(files, seed=1)
    a, want, addr = held.images, held.images.copy(), held.buffer_address
    del held
    addrs = set()
    for seed in range(2, 5):
        b = aug(files, seed=seed)
        addrs.add(b.buffer_address)
        del b
    assert addr not in addrs and len(addrs) == 1
    assert np.array_equal(a.view(np.uint16), want.view(np.uint16))


def test_f16_chw_through_torch(folder: Path):
    torch = pytest.importorskip("torch")
    import gpu_augment.torch as gat

    pipe = f16_chw_of("imagenet_train.toml")
    b = ga.Augmenter(pipe, backend="cpu")(files_of(folder)[:2], seed=0)
    t, _ = gat.to_tensors(b)
    assert t.dtype == torch.float16 and tuple(t.shape) == (2, 3, 224, 224)
    assert t.data_ptr() == b.buffer_address
    loader = gat.Loader(folder, pipe, batch_size=4, backend="cpu", seed=0)
    images, targets = next(iter(loader))
    assert images.dtype == torch.float16 and tuple(images.shape) == (4, 3, 224, 224)
    with pytest.raises(ValueError, match="f16_chw"):
        gat.Loader(folder, pipe, batch_size=4, backend="cpu", normalize=True)
