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
