"""Shared fixtures: the repository, the CLI binary, folders of test images,
and the GPU policy (lavapipe in CI: GPU tests fail, never skip, under CI=true)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
PIPELINES = REPO / "examples" / "pipelines"


def write_image(path: Path, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth random image with shapes (JPEG/PNG by the extension); returns its pixels."""
    from PIL import Image

    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = ((x / max(w - 1, 1)) * 0.6 + (y / max(h - 1, 1)) * 0.4)[..., None]
    img = c0 * (1 - t) + c1 * t
    for _ in range(3):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, max(3, min(h, w) / 3))
        img[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 6, img.shape)
    arr = np.clip(img, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return arr


def make_image_folder(
    root: Path, classes: int = 3, per_class: int = 5, seed: int = 0, ext: str = "png"
) -> list[tuple[Path, int]]:
    """An ImageFolder (root/class_k/img_i.ext) of images of various sizes."""
    rng = np.random.default_rng(seed)
    items = []
    for c in range(classes):
        for i in range(per_class):
            h, w = int(rng.integers(20, 90)), int(rng.integers(20, 90))
            p = root / f"class_{c}" / f"img_{i:03d}.{ext}"
            write_image(p, rng, h, w)
            items.append((p, c))
    return items


@pytest.fixture(scope="session")
def cli() -> Path:
    """The gpu-augment binary (GPU_AUGMENT_BIN, else target/{release,debug})."""
    env = os.environ.get("GPU_AUGMENT_BIN")
    cands = [Path(env)] if env else []
    cands += [REPO / "target" / "release" / "gpu-augment", REPO / "target" / "debug" / "gpu-augment"]
    for c in cands:
        if c.is_file():
            return c
    found = shutil.which("gpu-augment")
    if found:
        return Path(found)
    pytest.fail("no gpu-augment binary: run `cargo build --release` or set GPU_AUGMENT_BIN")


@pytest.fixture(scope="session")
def folder(tmp_path_factory) -> Path:
    """A small ImageFolder: 3 classes x 5 PNGs of sizes 20..90."""
    root = tmp_path_factory.mktemp("folder")
    make_image_folder(root)
    return root


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def gpu_ok() -> None:
    """Skips GPU tests without an adapter outside CI; fails them under CI=true."""
    import gpu_augment as ga

    p = ga.Pipeline.from_dict({"size": 8, "ops": []})
    try:
        a = ga.Augmenter(p, backend="gpu")
    except RuntimeError as e:
        if in_ci():
            pytest.fail(f"CI=true but no GPU adapter: {e}")
        pytest.skip(f"no GPU adapter: {e}")
    assert a.backend == "gpu"
