"""Conformance with torchvision itself: the same op with the same explicit
parameters, run by `torchvision.transforms.v2.functional` and by
`gpu-augment apply`, on the real photos in tests/data/photos/ (uint8 tensors),
on both backends.

The rule: at least 99.9% of values within 1 LSB of torchvision's. Geometric
ops that sample between pixels (affine, rotate, perspective, resize up) may
leave out a 1-pixel border (`border=1` below): there torchvision's bilinear
fill edge and ours differ by design (README, deviations). A case marked
`deviation` is one the README lists as deliberately different: it is checked
against its own figure (at least `min_pct`% within 1 LSB), so a regression
still fails, and the figure stays honest.

Run `python python/tests/test_conformance.py` for the table of figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = pytest.importorskip("torchvision.transforms.v2.functional")
from torchvision.transforms import InterpolationMode as IM  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PHOTOS = REPO / "tests" / "data" / "photos"
RULE_PCT = 99.9


@dataclass
class Case:
    name: str
    photo: str
    op: str
    sets: dict
    ref: Callable
    border: int = 0
    # A listed deviation: at least this % within 1 LSB (instead of RULE_PCT).
    min_pct: float | None = None
    why: str = ""
    extra: list = field(default_factory=list)
    # One output channel: ours must be an 8-bit grey image (H x W x 1).
    grey: bool = False


def _case_list() -> list[Case]:
    bil = IM.BILINEAR
    c = []
    # Resampling: antialiased like torchvision's antialias=True.
    for h, w in [(224, 224), (300, 400), (262, 400), (150, 200), (75, 125), (90, 100)]:
        c.append(Case(f"resize-{h}x{w}", "astronaut", "resize", {"size": f"{h},{w}"},
                      lambda t, h=h, w=w: F.resize(t, [h, w], antialias=True)))
    c.append(Case("resize-shorter-160", "astronaut", "resize", {"size": "160"},
                  lambda t: F.resize(t, 160, antialias=True)))
    c.append(Case("resize-shorter-120-portrait", "rocket", "resize", {"size": "120"},
                  lambda t: F.resize(t, 120, antialias=True)))
    c.append(Case("resize-up-600x450", "rocket", "resize", {"size": "600,450"},
                  lambda t: F.resize(t, [600, 450], antialias=True)))
    c.append(Case("resize-up-nonsquare", "chelsea", "resize", {"size": "350,700"},
                  lambda t: F.resize(t, [350, 700], antialias=True)))
    bic, ne, nx = IM.BICUBIC, IM.NEAREST, IM.NEAREST_EXACT
    for h, w in [(224, 224), (150, 200), (75, 100), (500, 600)]:
        c.append(Case(f"resize-bicubic-{h}x{w}", "astronaut", "resize", {"size": f"{h},{w}", "interpolation": "bicubic"},
                      lambda t, h=h, w=w: F.resize(t, [h, w], interpolation=bic, antialias=True)))
    for h, w in [(262, 400), (150, 200), (90, 100), (500, 600)]:
        c.append(Case(f"resize-noaa-{h}x{w}", "astronaut", "resize", {"size": f"{h},{w}", "antialias": "false"},
                      lambda t, h=h, w=w: F.resize(t, [h, w], antialias=False)))
    for h, w in [(150, 200), (500, 600)]:
        c.append(Case(f"resize-noaa-bicubic-{h}x{w}", "astronaut", "resize",
                      {"size": f"{h},{w}", "antialias": "false", "interpolation": "bicubic"},
                      lambda t, h=h, w=w: F.resize(t, [h, w], interpolation=bic, antialias=False)))
    for h, w in [(224, 224), (160, 213), (600, 700), (250, 250)]:
        c.append(Case(f"resize-nearest-{h}x{w}", "astronaut", "resize", {"size": f"{h},{w}", "interpolation": "nearest"},
                      lambda t, h=h, w=w: F.resize(t, [h, w], interpolation=ne)))
        c.append(Case(f"resize-nearest_exact-{h}x{w}", "astronaut", "resize",
                      {"size": f"{h},{w}", "interpolation": "nearest_exact"},
                      lambda t, h=h, w=w: F.resize(t, [h, w], interpolation=nx)))
    c.append(Case("resize-max_size", "astronaut", "resize", {"size": 200, "max_size": 240},
                  lambda t: F.resize(t, 200, max_size=240, antialias=True)))
    c.append(Case("resized_crop-nearest", "chelsea", "crop",
                  {"top": 20, "left": 30, "height": 200, "width": 300, "size": 128, "interpolation": "nearest"},
                  lambda t: F.resized_crop(t, 20, 30, 200, 300, [128, 128], interpolation=ne)))
    c.append(Case("resized_crop-bicubic", "chelsea", "crop",
                  {"top": 20, "left": 30, "height": 200, "width": 300, "size": 128, "interpolation": "bicubic"},
                  lambda t: F.resized_crop(t, 20, 30, 200, 300, [128, 128], interpolation=bic, antialias=True)))
    for top, left, h, w, s in [(40, 60, 300, 320, 224), (0, 0, 375, 500, 224), (100, 150, 120, 90, 224),
                               (10, 20, 250, 180, 160)]:
        c.append(Case(f"resized_crop-{top},{left},{h}x{w}->{s}", "astronaut", "crop",
                      {"top": top, "left": left, "height": h, "width": w, "size": s},
                      lambda t, a=(top, left, h, w, s): F.resized_crop(t, *a[:4], [a[4], a[4]], antialias=True)))
    # Crops, flips, pads: exact.
    c.append(Case("crop-inside", "chelsea", "crop", {"top": 30, "left": 40, "height": 200, "width": 250},
                  lambda t: F.crop(t, 30, 40, 200, 250)))
    c.append(Case("crop-outside-topleft", "chelsea", "crop", {"top": -20, "left": -30, "height": 200, "width": 250},
                  lambda t: F.crop(t, -20, -30, 200, 250)))
    c.append(Case("crop-outside-bottomright", "rocket", "crop", {"top": 300, "left": 200, "height": 150, "width": 160},
                  lambda t: F.crop(t, 300, 200, 150, 160)))
    c.append(Case("center_crop-224", "astronaut", "center_crop", {"size": 224},
                  lambda t: F.center_crop(t, [224, 224])))
    c.append(Case("center_crop-oversize", "rocket", "center_crop", {"size": "420,320"},
                  lambda t: F.center_crop(t, [420, 320])))
    c.append(Case("hflip", "chelsea", "horizontal_flip", {}, F.horizontal_flip))
    c.append(Case("vflip", "chelsea", "vertical_flip", {}, F.vertical_flip))
    c.append(Case("pad-4-fill", "rocket", "pad", {"padding": "3,5,7,9", "fill": "10,200,30"},
                  lambda t: F.pad(t, [3, 5, 7, 9], fill=[10, 200, 30])))
    c.append(Case("pad-1", "chelsea", "pad", {"padding": "4"}, lambda t: F.pad(t, [4])))
    for mode in ["edge", "reflect", "symmetric"]:
        c.append(Case(f"pad-{mode}", "rocket", "pad", {"padding": "3,50,17,9", "padding_mode": mode},
                      lambda t, m=mode: F.pad(t, [3, 50, 17, 9], padding_mode=m)))
    # Warps.
    for ang in [90, 30, -17.5]:
        c.append(Case(f"affine-angle{ang}", "chelsea", "affine", {"angle": ang},
                      lambda t, a=ang: F.affine(t, angle=a, translate=[0, 0], scale=1.0, shear=[0.0, 0.0],
                                                interpolation=bil), border=1))
    c.append(Case("affine-mixed", "astronaut", "affine",
                  {"angle": 12, "translate": "10,-6", "scale": 1.2, "shear": "5,3", "fill": 40},
                  lambda t: F.affine(t, angle=12, translate=[10, -6], scale=1.2, shear=[5.0, 3.0],
                                     interpolation=bil, fill=[40, 40, 40]), border=1))
    c.append(Case("affine-scale0.4", "astronaut", "affine", {"angle": 0, "scale": 0.4},
                  lambda t: F.affine(t, angle=0.0, translate=[0, 0], scale=0.4, shear=[0.0, 0.0],
                                     interpolation=bil), border=1))
    c.append(Case("affine-rot10-scale0.5", "chelsea", "affine", {"angle": 10, "scale": 0.5},
                  lambda t: F.affine(t, angle=10.0, translate=[0, 0], scale=0.5, shear=[0.0, 0.0],
                                     interpolation=bil), border=1))
    c.append(Case("affine-nearest", "chelsea", "affine", {"angle": 33, "interpolation": "nearest"},
                  lambda t: F.affine(t, angle=33, translate=[0, 0], scale=1.0, shear=[0.0, 0.0],
                                     interpolation=IM.NEAREST)))
    for ang in [90, 25]:
        c.append(Case(f"rotate-{ang}", "chelsea", "rotate", {"angle": ang},
                      lambda t, a=ang: F.rotate(t, a, interpolation=bil), border=1))
    for ang in [90, 30, -140]:
        c.append(Case(f"rotate-expand-{ang}", "chelsea", "rotate", {"angle": ang, "expand": "true"},
                      lambda t, a=ang: F.rotate(t, a, interpolation=bil, expand=True), border=1))
    c.append(Case("perspective", "astronaut", "perspective", {"endpoints": "10,5,480,20,499,374,0,350"},
                  lambda t: F.perspective(t, [[0, 0], [499, 0], [499, 374], [0, 374]],
                                          [[10, 5], [480, 20], [499, 374], [0, 350]], interpolation=bil),
                  border=1))
    c.append(Case("perspective-strong-1to1", "astronaut", "perspective",
                  {"endpoints": "60,0,440,0,499,374,0,374"},
                  lambda t: F.perspective(t, [[0, 0], [499, 0], [499, 374], [0, 374]],
                                          [[60, 0], [440, 0], [499, 374], [0, 374]], interpolation=bil),
                  border=1))
    c.append(Case("perspective-start-end", "chelsea", "perspective",
                  {"startpoints": "20,10,430,15,445,290,5,280", "endpoints": "0,6,440,0,420,299,12,290"},
                  lambda t: F.perspective(t, [[20, 10], [430, 15], [445, 290], [5, 280]],
                                          [[0, 6], [440, 0], [420, 299], [12, 290]], interpolation=bil),
                  border=1))
    # Colour.
    for f in [0.0, 0.5, 1.7]:
        c.append(Case(f"brightness-{f}", "chelsea", "brightness", {"factor": f},
                      lambda t, f=f: F.adjust_brightness(t, f)))
        c.append(Case(f"contrast-{f}", "chelsea", "contrast", {"factor": f},
                      lambda t, f=f: F.adjust_contrast(t, f)))
        c.append(Case(f"saturation-{f}", "astronaut", "saturation", {"factor": f},
                      lambda t, f=f: F.adjust_saturation(t, f)))
    for h in [0.1, 0.45, -0.25, -0.5]:
        c.append(Case(f"hue-{h}", "astronaut", "hue", {"factor": h}, lambda t, h=h: F.adjust_hue(t, h)))
    c.append(Case("grayscale", "astronaut", "grayscale", {}, lambda t: F.rgb_to_grayscale(t, 3)))
    for photo in ["astronaut", "chelsea", "rocket"]:
        c.append(Case(f"grayscale-1ch-{photo}", photo, "grayscale", {"num_output_channels": 1},
                      lambda t: F.rgb_to_grayscale(t, num_output_channels=1), grey=True))
    c.append(Case("invert", "rocket", "invert", {}, F.invert))
    c.append(Case("solarize-128", "rocket", "solarize", {"threshold": 128}, lambda t: F.solarize(t, 128)))
    for b in [1, 4]:
        c.append(Case(f"posterize-{b}", "rocket", "posterize", {"bits": b}, lambda t, b=b: F.posterize(t, b)))
    c.append(Case("autocontrast", "chelsea", "autocontrast", {}, F.autocontrast))
    c.append(Case("equalize", "chelsea", "equalize", {}, F.equalize))
    for f in [0.0, 2.0]:
        c.append(Case(f"sharpness-{f}", "astronaut", "sharpness", {"factor": f},
                      lambda t, f=f: F.adjust_sharpness(t, f)))
    for k, s in [(5, 1.5), (9, 3.0)]:
        c.append(Case(f"gaussian_blur-{k}-{s}", "astronaut", "gaussian_blur", {"kernel_size": k, "sigma": s},
                      lambda t, k=k, s=s: F.gaussian_blur(t, [k, k], [s, s])))
    c.append(Case("gaussian_blur-5x9-1.0,3.0", "astronaut", "gaussian_blur", {"kernel_size": "5,9", "sigma": "1.0,3.0"},
                  lambda t: F.gaussian_blur(t, [5, 9], [1.0, 3.0])))
    c.append(Case("gaussian_blur-7x3-2.5,0.6", "chelsea", "gaussian_blur", {"kernel_size": "7,3", "sigma": "2.5,0.6"},
                  lambda t: F.gaussian_blur(t, [7, 3], [2.5, 0.6])))
    for gm, gain in [(0.5, 1.0), (2.2, 1.0)]:
        c.append(Case(f"gamma-{gm}", "chelsea", "gamma", {"gamma": gm, "gain": gain},
                      lambda t, gm=gm, gain=gain: F.adjust_gamma(t, gm, gain)))
    c.append(Case("erase", "chelsea", "random_erasing",
                  {"top": 20, "left": 30, "height": 50, "width": 70, "value": "10,20,30"},
                  lambda t: F.erase(t, 20, 30, 50, 70, torch.tensor([10, 20, 30], dtype=torch.uint8)[:, None, None])))
    c.append(Case("permute_channels", "astronaut", "permute_channels", {"order": "2,0,1"},
                  lambda t: F.permute_channels(t, [2, 0, 1])))
    # The seed papers' ops: DeVries & Taylor's Cutout box (rows y - L//2 ..
    # y + L//2, clipped) is F.erase's; rotation_label is torch.rot90.
    c.append(Case("cutout", "chelsea", "cutout", {"length": 40, "centers": "100,80"},
                  lambda t: F.erase(t, 60, 80, 40, 40, torch.tensor(0, dtype=torch.uint8))))
    c.append(Case("cutout-corner", "astronaut", "cutout", {"length": 16, "value": "10,20,30", "centers": "5,3"},
                  lambda t: F.erase(t, 0, 0, 11, 13, torch.tensor([10, 20, 30], dtype=torch.uint8)[:, None, None])))
    for k in [1, 2, 3]:
        c.append(Case(f"rotation_label-{k}", "rocket", "rotation_label", {"k": k},
                      lambda t, k=k: torch.rot90(t, k, dims=[1, 2])))
    return c


CASES = _case_list()


def _cli() -> Path:
    env = os.environ.get("GPU_AUGMENT_BIN")
    for c in ([Path(env)] if env else []) + [REPO / "target" / "release" / "gpu-augment",
                                              REPO / "target" / "debug" / "gpu-augment"]:
        if c.is_file():
            return c
    pytest.fail("no gpu-augment binary")


def _load(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def run_case(case: Case, backend: str, tmp: Path) -> tuple[float, int, float]:
    """(% within 1 LSB, max |diff|, % exact) of ours against torchvision's."""
    src = PHOTOS / f"{case.photo}.png"
    out = tmp / f"{case.name}-{backend}.png".replace("/", "_")
    cmd = [str(_cli()), "apply", "--op", case.op, "--backend", backend]
    for k, v in case.sets.items():
        cmd += ["--set", f"{k}={v}"]
    r = subprocess.run(cmd + [str(src), str(out)], capture_output=True, text=True)
    assert r.returncode == 0, f"{case.name} ({backend}): {r.stderr}"
    if case.grey:
        from PIL import Image

        with Image.open(out) as im:
            assert im.mode == "L", f"{case.name} ({backend}): a one-channel output is an 8-bit grey PNG, got mode {im.mode}"
            ours = np.asarray(im).astype(np.int32)[:, :, None]
    else:
        ours = _load(out).astype(np.int32)
    out.unlink()
    t = torch.from_numpy(_load(src).copy()).permute(2, 0, 1).contiguous()
    ref = case.ref(t).permute(1, 2, 0).numpy().astype(np.int32)
    assert ours.shape == ref.shape, f"{case.name}: shape {ours.shape} vs torchvision {ref.shape}"
    b = case.border
    if b:
        ours, ref = ours[b:-b, b:-b], ref[b:-b, b:-b]
    d = np.abs(ours - ref)
    return 100.0 * float((d <= 1).mean()), int(d.max()), 100.0 * float((d == 0).mean())


def _backends() -> list[str]:
    return ["cpu", "gpu"]


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_matches_torchvision(case: Case, backend: str, tmp_path, gpu_ok_cli) -> None:
    if backend == "gpu" and not gpu_ok_cli:
        pytest.skip("no GPU adapter")
    pct, mx, _ = run_case(case, backend, tmp_path)
    want = RULE_PCT if case.min_pct is None else case.min_pct
    assert pct >= want, (
        f"{case.name} ({backend}): {pct:.3f}% within 1 LSB (max diff {mx}); the rule is {want}%"
        + (f" ({case.why})" if case.why else "")
    )


# Bicubic resizes composed with a warp in one pipeline (the README's
# deviation): the map is not axis-aligned, so it is one bilinear gather from
# the source, where torchvision resizes bicubically and then warps. Measured
# against torchvision's bicubic-then-bilinear chain (what the file asks for)
# and its bilinear-then-bilinear chain; the floors are the figures the README
# gives, so a regression fails. (torchvision v2 itself refuses bicubic for
# rotate / affine / perspective on tensors, as our warps do.)
WARP_CASES = [
    # name, photo, (h, w), angle, floor % within 1 LSB of the bicubic chain
    ("up-1.5x-rot30", "chelsea", (450, 676), 30.0, 92.5),
    ("down-0.8x-rot10", "astronaut", (300, 400), 10.0, 78.0),
]


def warp_figures(photo: str, size: tuple[int, int], angle: float, backend: str) -> tuple[tuple[float, int], tuple[float, int]]:
    """((% within 1 LSB, max) against the bicubic chain, the same against the bilinear chain)."""
    import gpu_augment

    h, w = size
    pipe = gpu_augment.Pipeline.from_dict({
        "size": [h, w],
        "ops": [
            {"op": "resize", "size": [h, w], "interpolation": "bicubic"},
            {"op": "affine", "degrees": [angle, angle], "interpolation": "bilinear"},
        ],
    })
    img = _load(PHOTOS / f"{photo}.png")
    ours = gpu_augment.Augmenter(pipe, backend)([img]).images[0].astype(np.int32)
    t = torch.from_numpy(img.copy()).permute(2, 0, 1).contiguous()
    out = []
    for mode in (IM.BICUBIC, IM.BILINEAR):
        r = F.resize(t, [h, w], interpolation=mode, antialias=True)
        r = F.affine(r, angle=angle, translate=[0, 0], scale=1.0, shear=[0.0, 0.0], interpolation=IM.BILINEAR)
        d = np.abs(ours - r.permute(1, 2, 0).numpy().astype(np.int32))[1:-1, 1:-1]
        out.append((100.0 * float((d <= 1).mean()), int(d.max())))
    return out[0], out[1]


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("wc", WARP_CASES, ids=[w[0] for w in WARP_CASES])
def test_bicubic_with_a_warp_is_bilinear_within_its_figure(wc, backend: str, gpu_ok_cli) -> None:
    pytest.importorskip("gpu_augment._native")
    if backend == "gpu" and not gpu_ok_cli:
        pytest.skip("no GPU adapter")
    name, photo, size, angle, floor = wc
    (pct_bic, mx_bic), (pct_bil, mx_bil) = warp_figures(photo, size, angle, backend)
    assert pct_bic >= floor, f"{name} ({backend}): {pct_bic:.3f}% within 1 LSB of the bicubic chain (max {mx_bic}); the README's figure is {floor}%"


@pytest.fixture(scope="session")
def gpu_ok_cli() -> bool:
    """Whether `apply --backend gpu` finds an adapter (fails under CI=true without one)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "o.png"
        r = subprocess.run([str(_cli()), "apply", "--op", "invert", "--backend", "gpu",
                            str(PHOTOS / "rocket.png"), str(out)], capture_output=True, text=True)
    if r.returncode != 0:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true but no GPU adapter: {r.stderr}")
        return False
    return True


if __name__ == "__main__":
    import tempfile

    backends = sys.argv[1:] or ["cpu", "gpu"]
    with tempfile.TemporaryDirectory() as d:
        for case in CASES:
            row = []
            for be in backends:
                pct, mx, ex = run_case(case, be, Path(d))
                row.append(f"{be}: {pct:8.3f}% max {mx:3d} exact {ex:6.2f}%")
            want = RULE_PCT if case.min_pct is None else case.min_pct
            ok = "ok " if all(float(r.split()[1].rstrip("%")) >= want for r in row) else "BAD"
            print(f"{ok} {case.name:40s} " + " | ".join(row))
        for name, photo, size, angle, _ in WARP_CASES:
            for be in backends:
                (pb, mb), (pl, ml) = warp_figures(photo, size, angle, be)
                print(f"warp {name:20s} {be}: vs bicubic chain {pb:8.3f}% max {mb:3d} | vs bilinear chain {pl:8.3f}% max {ml:3d}")
