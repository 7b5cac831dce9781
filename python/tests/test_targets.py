"""Targets from Python: masks, boxes and keypoints move with their image.

Tolerances: the package runs the engine's own target code, so hand cases
and the comparison with the CLI are exact; masks are exact between the
backends (nearest, integer), boxes and keypoints are computed once in Rust.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import gpu_augment as ga


def labelled(w: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An image and two label maps (u8 classes, u16 ids) that differ at every pixel."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 5 % 256, y * 7 % 256, (x + y) * 3 % 256], axis=-1).astype(np.uint8)
    m8 = ((x + 3 * y) % 200).astype(np.uint8)
    m16 = (x + w * y + 300).astype(np.uint16)
    return img, m8, m16


FLIP = {"size": [30, 40], "ops": [{"op": "horizontal_flip", "p": 1.0}]}


def test_horizontal_flip_moves_masks_boxes_and_keypoints_exactly():
    img, m8, m16 = labelled(40, 30)
    aug = ga.Augmenter(FLIP, backend="cpu")
    b = aug(
        [img],
        targets=[
            {
                "masks": [m8, m16],
                "boxes": [[5.0, 6.0, 15.0, 20.0]],
                "box_labels": [3],
                "keypoints": [[5.5, 7.5, 2.0]],
            }
        ],
    )
    assert b.targets is not None and len(b.targets) == 1
    t = b.targets[0]
    assert t["masks"][0].dtype == np.uint8 and t["masks"][1].dtype == np.uint16
    assert np.array_equal(t["masks"][0], m8[:, ::-1])
    assert np.array_equal(t["masks"][1], m16[:, ::-1])
    assert np.allclose(t["boxes"], [[25.0, 6.0, 35.0, 20.0]])
    assert t["box_labels"].tolist() == [3]
    assert t["box_origin"].tolist() == [[0, 0]]
    assert t["box_format"] == "xyxy" and t["normalized"] is False
    assert t["keypoints"].tolist() == [[34.5, 7.5, 2.0]]
    assert t["forward_error"] == 0.0 and t["weight"] == 1.0
    assert np.array_equal(b.images[0], img[:, ::-1])


def test_box_formats_normalisation_and_two_column_keypoints():
    img, _, _ = labelled(40, 30)
    aug = ga.Augmenter(FLIP, backend="cpu")
    # cxcywh, normalised: the box [5, 6, 15, 20] of a 40 x 30 image.
    box = [[10 / 40, 13 / 30, 10 / 40, 14 / 30]]
    b = aug([img], targets=[{"boxes": box, "box_format": "cxcywh", "normalized": True, "keypoints": [[5.5, 7.5]]}])
    t = b.targets[0]
    assert t["box_format"] == "cxcywh" and t["normalized"] is True
    assert np.allclose(t["boxes"], [[30 / 40, 13 / 30, 10 / 40, 14 / 30]])
    assert t["box_labels"].tolist() == [0]
    # K x 2 keypoints are all visible (COCO's 2).
    assert t["keypoints"].tolist() == [[34.5, 7.5, 2.0]]


def test_images_and_draws_are_the_same_with_and_without_targets():
    p = ga.Pipeline.from_file(Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "detection.toml")
    aug = ga.Augmenter(p, backend="cpu")
    imgs, tg = [], []
    for i, (w, h) in enumerate([(64, 48), (50, 70), (33, 33)]):
        img, m8, _ = labelled(w, h)
        imgs.append(img)
        tg.append({"masks": [m8], "boxes": [[2.0, 3.0, w / 2, h / 2]], "box_labels": [i]})
    plain = aug(imgs, seed=5, epoch=2, first_index=10)
    with_t = aug(imgs, seed=5, epoch=2, first_index=10, targets=tg)
    assert np.array_equal(plain.images, with_t.images)
    assert plain.records == with_t.records
    assert plain.targets is None and len(with_t.targets) == 3
    for t in with_t.targets:
        assert t["masks"][0].shape == tuple(p.size)


def test_equals_the_cli_run_with_masks(cli: Path, folder: Path, tmp_path: Path):
    """`run --masks` and the package write the same label maps, byte for byte."""
    from PIL import Image

    files = sorted(q for q in folder.rglob("*") if q.is_file())
    masks_dir = tmp_path / "masks"
    maps = []
    for q in files:
        with Image.open(q) as im:
            w, h = im.size
        m = labelled(w, h)[1]
        rel = q.relative_to(folder).with_suffix(".png")
        (masks_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(m).save(masks_dir / rel)
        maps.append(m)
    pipeline = tmp_path / "seg.toml"
    pipeline.write_text(
        "size = 48\n"
        '[[ops]]\nop = "affine"\ndegrees = 20\nscale = [0.6, 1.5]\ninterpolation = "nearest"\n'
        '[[ops]]\nop = "random_crop"\nsize = 40\npad_if_needed = true\n'
        '[[ops]]\nop = "horizontal_flip"\n'
        "[targets]\nignore_index = 250\n"
    )
    out = tmp_path / "out"
    subprocess.run(
        [str(cli), "run", "--input", str(folder), "--out", str(out), "--pipeline", str(pipeline),
         "--backend", "cpu", "--seed", "3", "--epoch", "1", "--masks", str(masks_dir)],
        check=True,
        capture_output=True,
    )
    aug = ga.Augmenter(ga.Pipeline.from_file(pipeline), backend="cpu")
    b = aug(files, seed=3, epoch=1, targets=[{"masks": [m]} for m in maps])
    saw_ignore = False
    for j, q in enumerate(files):
        rel = q.relative_to(folder).with_suffix(".png")
        want = np.asarray(Image.open(out / "masks" / rel))
        got = b.targets[j]["masks"][0]
        assert got.shape == want.shape and np.array_equal(got, want), rel
        saw_ignore |= bool((got == 250).any())
    # The pipeline's [targets] table reached the package: fill is its ignore_index.
    assert saw_ignore


def test_target_options_override_the_pipeline_table():
    img, m8, _ = labelled(20, 20)
    p = {"size": 30, "ops": [{"op": "center_crop", "size": 30}]}
    aug = ga.Augmenter(p, backend="cpu")
    m = aug([img], targets=[{"masks": [m8]}]).targets[0]["masks"][0]
    assert m[0, 0] == 255  # the u8 default outside the image
    m = aug([img], targets=[{"masks": [m8]}], target_options={"ignore_index": 7}).targets[0]["masks"][0]
    assert m[0, 0] == 7 and np.array_equal(m[5:25, 5:25], m8)
    # min_area drops a box that falls outside; its labels go with it.
    aug2 = ga.Augmenter({"size": 10, "ops": [{"op": "crop", "top": 0, "left": 0, "height": 10, "width": 10}]}, backend="cpu")
    t = aug2(
        [img],
        targets=[{"boxes": [[1, 1, 5, 5], [12, 12, 18, 18]], "box_labels": [1, 2]}],
        target_options={"min_area": 1.0},
    ).targets[0]
    assert t["box_labels"].tolist() == [1] and t["box_origin"].tolist() == [[0, 0]]


def test_gpu_masks_equal_cpu_masks_exactly(gpu_ok):
    p = {
        "size": [36, 44],
        "ops": [
            {"op": "random_resized_crop", "scale": [0.3, 1.0]},
            {"op": "affine", "degrees": 25, "translate": [0.1, 0.1]},
            {"op": "horizontal_flip"},
        ],
    }
    imgs, tg = [], []
    for w, h in [(60, 40), (31, 57), (44, 36), (80, 80)]:
        img, m8, m16 = labelled(w, h)
        imgs.append(img)
        tg.append({"masks": [m8, m16], "boxes": [[3, 4, w - 5, h - 6]], "keypoints": [[w / 3, h / 4, 2]]})
    cpu = ga.Augmenter(p, backend="cpu")(imgs, seed=9, targets=tg)
    gpu = ga.Augmenter(p, backend="gpu")(imgs, seed=9, targets=tg)
    for c, g in zip(cpu.targets, gpu.targets):
        for mc, mg in zip(c["masks"], g["masks"]):
            assert mc.dtype == mg.dtype and np.array_equal(mc, mg)
        assert np.array_equal(c["boxes"], g["boxes"])
        assert np.array_equal(c["keypoints"], g["keypoints"])


def test_loader_carries_item_targets(tmp_path: Path):
    from PIL import Image

    paths, items, maps = [], [], []
    for i, (w, h) in enumerate([(40, 30), (25, 50), (64, 64), (30, 30), (50, 20)]):
        img, m8, _ = labelled(w, h)
        p = tmp_path / f"img{i}.png"
        mp = tmp_path / f"mask{i}.png"
        Image.fromarray(img).save(p)
        Image.fromarray(m8).save(mp)
        paths.append(p)
        maps.append(m8)
        items.append({"masks": [mp], "boxes": [[1, 1, w - 1, h - 1]], "box_labels": [i]})
    pipe = {"size": 32, "ops": [{"op": "random_resized_crop", "scale": [0.5, 1.0]}, {"op": "horizontal_flip"}]}
    loader = ga.Loader(paths, pipe, batch_size=2, shuffle=True, seed=4, backend="cpu", targets=items)
    aug = ga.Augmenter(pipe, backend="cpu")
    seen = 0
    for b in loader:
        assert b.targets is not None and len(b.targets) == len(b.indices)
        idx = [int(i) for i in b.indices]
        ref_targets = [{"masks": [maps[i]], "boxes": items[i]["boxes"], "box_labels": [i]} for i in idx]
        ref = aug([paths[i] for i in idx], seed=4, epoch=b.epoch, indices=idx, targets=ref_targets)
        for j, i in enumerate(idx):
            assert np.array_equal(b.targets[j]["masks"][0], ref.targets[j]["masks"][0])
            assert np.array_equal(b.targets[j]["boxes"], ref.targets[j]["boxes"])
            assert b.targets[j]["box_labels"].tolist() in ([i], [])
            seen += 1
    assert seen == 5


def test_torch_loader_yields_detection_style_targets(tmp_path: Path):
    torch = pytest.importorskip("torch")
    from PIL import Image

    import gpu_augment.torch as gt

    paths, items = [], []
    for i in range(3):
        img, m8, _ = labelled(40, 30)
        p, mp = tmp_path / f"i{i}.png", tmp_path / f"m{i}.png"
        Image.fromarray(img).save(p)
        Image.fromarray(m8).save(mp)
        paths.append(p)
        items.append({"masks": [mp], "boxes": [[5, 6, 15, 20]], "box_labels": [i], "keypoints": [[5.5, 7.5, 2]]})
    loader = gt.Loader(paths, FLIP, batch_size=3, shuffle=False, backend="cpu", item_targets=items)
    (images, _, sample_targets), = list(loader)
    assert images.shape == (3, 30, 40, 3)
    for i, t in enumerate(sample_targets):
        assert t["masks"].shape == (1, 30, 40) and t["masks"].dtype == torch.uint8
        assert torch.equal(t["boxes"], torch.tensor([[25.0, 6.0, 35.0, 20.0]]))
        assert t["labels"].tolist() == [i] and t["labels"].dtype == torch.int64
        assert t["keypoints"].tolist() == [[34.5, 7.5, 2.0]]


@pytest.mark.parametrize(
    "targets,match",
    [
        ({"mask": []}, "unknown key 'mask'"),
        ({"masks": [np.zeros((5, 5), np.uint8)]}, "masks"),
        ({"masks": [np.zeros((30, 40), np.float32)]}, r"masks\[0\].*integer labels"),
        ({"masks": [np.full((30, 40), 70000, np.int64)]}, "do not fit uint16"),
        ({"boxes": [[1, 2, 3]]}, "N x 4"),
        ({"boxes": [[1, 2, 3, 4]], "box_labels": [1, 2]}, "2 labels for 1 boxes"),
        ({"box_labels": [1]}, "given without `boxes`"),
        ({"boxes": [[1, 2, 3, 4]], "box_format": "xxyy"}, "box format must be"),
        ({"boxes": [[10, 2, 3, 4]]}, "boxes"),
        ({"keypoints": [[1, 2, 3, 4]]}, "K x 2 or K x 3"),
    ],
)
def test_bad_targets_name_the_image_and_field(targets, match):
    img, _, _ = labelled(40, 30)
    aug = ga.Augmenter(FLIP, backend="cpu")
    with pytest.raises((ValueError, TypeError), match=match):
        aug([img, img], targets=[{}, targets])


def test_bad_target_options_and_counts():
    img, _, _ = labelled(40, 30)
    aug = ga.Augmenter(FLIP, backend="cpu")
    with pytest.raises(ValueError, match="1 images but 2 targets"):
        aug([img], targets=[{}, {}])
    with pytest.raises(ValueError, match="target_options"):
        aug([img], targets=[{}], target_options={"ignore": 3})
    with pytest.raises(ValueError, match="min_visibility"):
        aug([img], targets=[{}], target_options={"min_visibility": 2.0})
