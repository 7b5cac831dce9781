"""gpu-augment's CPU backend beside Albumentations, torchvision v2 and Kornia,
on the same images and the same work as each shipped pipeline
(examples/pipelines/), in one sitting. Run on demand, not in CI:

    python -m venv ~/.cache/gpu-augment/peers-venv
    ~/.cache/gpu-augment/peers-venv/bin/pip install -r benches/peers/requirements.txt
    cargo build --release
    ~/.cache/gpu-augment/peers-venv/bin/python benches/peers/peers.py --input /tmp/ga-photos

Sources: ``--count`` photos from ``--input`` (any folder of images, searched
recursively), resized once to the pipeline's source size (224x224; 32x32 for
cifar_train) before timing, so every contender starts from the same u8
pixels and decoding is not timed. Each peer runs as ``--processes``
single-threaded processes (torch, OpenCV and OMP threads at 1), each over its
share of the images, with per-sample random parameters (Kornia: batches of
``--batch-size`` with ``same_on_batch=False``); the rate is the sum of the
processes' rates, each the median of ``--repeats`` timed passes after one
warm-up pass. Ours: ``gpu-augment bench --backend cpu --threads P`` (the
mixing rows: ``--mix-only``, the mixing step alone on augmented batches, as
the peers' rows time torchvision's and Kornia's MixUp/CutMix alone).

With ``--rounds R`` every contender is timed R times, in turn (all of
them once, then all of them again), and each one's rate is the median of
its R rounds: on a shared machine the load drifts, and taking turns gives
every contender the same share of it.

Prints a Markdown table: each contender's images/s and ours over the fastest
peer. A peer without the op prints "-".

``--only dino_multicrop`` (the named views of examples/pipelines/
dino_multicrop.toml: 2 x 224 global + 6 x 96 local crops per image) is timed
differently, as a training loop would feed it: the ``--count`` photos at
their own size (500x375 for ``bench_loader.py --make-photos``), decoded once;
torchvision v2 doing the same 8 crops per image in a ``DataLoader`` with
``--processes`` workers (persistent, batches of ``--batch-size``, torch at 1
thread a worker); ours ``gpu-augment bench`` with the views file on
``--backend cpu --threads P`` (and ``--backend gpu`` when ``--gpu``). Rates
are source images per second (each giving 8 crops): the median of
``--repeats`` passes after one warm-up pass.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PIPES = REPO / "examples" / "pipelines"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)

# pipeline name -> (source size, mixing step alone?)
PIPELINES = {
    "imagenet_train": (224, False),
    "color_jitter": (224, False),
    "affine": (224, False),
    "cifar_train": (32, False),
    "elastic": (224, False),
    "randaugment": (224, False),
    "trivial_augment": (224, False),
    "ssl_two_views": (224, False),
    "mixup": (224, True),
    "cutmix": (224, True),
}


class DinoCrops:
    """torchvision v2's DINO multi-crop over decoded u8 CHW tensors: 2 global + 6 local."""

    def __init__(self, images):
        import torch
        from torchvision.transforms import v2

        def photometric(size, kernel):
            return [
                v2.RandomHorizontalFlip(),
                v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
                v2.RandomGrayscale(p=0.2),
                v2.RandomApply([v2.GaussianBlur(kernel, sigma=(0.1, 2.0))], p=0.5),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(MEAN, STD),
            ]

        self.images = images
        self.glob = v2.Compose([v2.RandomResizedCrop(224, scale=(0.32, 1.0), antialias=True), *photometric(224, 23)])
        self.loc = v2.Compose([v2.RandomResizedCrop(96, scale=(0.05, 0.32), antialias=True), *photometric(96, 9)])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        x = self.images[i]
        return [self.glob(x) for _ in range(2)] + [self.loc(x) for _ in range(6)]


def dino_worker_init(_):
    single_threaded()


def dino_torchvision(images, workers: int, batch: int, repeats: int) -> float:
    import torch
    from torch.utils.data import DataLoader

    tensors = [torch.from_numpy(im).permute(2, 0, 1).contiguous() for im in images]
    loader = DataLoader(DinoCrops(tensors), batch_size=batch, num_workers=workers, persistent_workers=True,
                        worker_init_fn=dino_worker_init, multiprocessing_context="spawn")
    times = []
    for r in range(repeats + 1):
        t = time.perf_counter()
        n = 0
        for crops in loader:
            assert len(crops) == 8 and crops[0].shape[1:] == (3, 224, 224) and crops[2].shape[1:] == (3, 96, 96)
            n += crops[0].shape[0]
        if r > 0:
            times.append(time.perf_counter() - t)
    return len(images) / statistics.median(times)


def dino_main(a) -> None:
    import numpy as np
    from PIL import Image

    exts = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
    files = sorted(p for p in a.input.rglob("*") if p.suffix.lower() in exts)[: a.count]
    if not files:
        sys.exit(f"no images under {a.input}")
    images = [np.asarray(Image.open(p).convert("RGB")) for p in files]
    sizes = sorted({im.shape[:2] for im in images})
    load = os.getloadavg()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, load average "
          f"{load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}, {len(images)} sources of (h, w) {sizes[:3]}, "
          f"{a.processes} workers / threads, batch {a.batch_size}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "src"
        folder.mkdir()
        for i, im in enumerate(images):
            Image.fromarray(im).save(folder / f"{i:05d}.png")
        rows = []
        for backend in ["cpu"] + (["gpu"] if a.gpu else []):
            cmd = [str(a.cli), "bench", "--backend", backend, "--threads", str(a.processes), "--batch-size",
                   str(a.batch_size), "--repeats", str(a.repeats), "--input", str(folder), "--pipeline",
                   str(PIPES / "dino_multicrop.toml")]
            out = subprocess.run(cmd, capture_output=True, text=True)
            m = re.search(r"images/s: ([0-9.]+)", out.stdout)
            rows.append((backend, float(m.group(1)) if m else f"error: {out.stderr.strip()[-200:]}"))
            print(out.stdout, file=sys.stderr, flush=True)
        tv = dino_torchvision(images, a.processes, a.batch_size, a.repeats)
    print()
    print("| dino_multicrop (2 x 224 + 6 x 96) | source images/s | vs torchvision v2 DataLoader |")
    print("|---|---|---|")
    print(f"| torchvision v2, DataLoader, {a.processes} workers | {tv:,.1f} | 1.00x |")
    for backend, r in rows:
        cell = f"{r:,.1f}" if isinstance(r, float) else r
        ratio = f"{r / tv:.2f}x" if isinstance(r, float) else "-"
        print(f"| gpu-augment {backend}, {a.processes} threads | {cell} | {ratio} |")


def single_threaded() -> None:
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[k] = "1"
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass


# --- torchvision v2: one image at a time, u8 CHW tensors -------------------


def tv_step(name: str):
    import torch
    from torchvision.transforms import v2

    f32 = [v2.ToDtype(torch.float32, scale=True)]
    rrc = v2.RandomResizedCrop(224, scale=(0.08, 1.0), ratio=(0.75, 4 / 3), antialias=True)
    cj = v2.ColorJitter(0.4, 0.4, 0.4, 0.1)
    t = {
        "imagenet_train": [rrc, v2.RandomHorizontalFlip(), cj, *f32, v2.Normalize(MEAN, STD)],
        "color_jitter": [cj],
        "affine": [
            v2.Resize((224, 224), antialias=True),
            v2.RandomAffine(30, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=10,
                            interpolation=v2.InterpolationMode.BILINEAR),
        ],
        "cifar_train": [v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip(), *f32,
                        v2.Normalize(CIFAR_MEAN, CIFAR_STD)],
        "elastic": [v2.ElasticTransform(alpha=50.0, sigma=5.0)],
        "randaugment": [v2.RandAugment(num_ops=2, magnitude=9, num_magnitude_bins=31)],
        "trivial_augment": [v2.TrivialAugmentWide()],
        "ssl_two_views": [v2.RandomResizedCrop(224, scale=(0.08, 1.0), antialias=True),
                          v2.RandomHorizontalFlip(),
                          v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
                          v2.RandomGrayscale(p=0.2), *f32, v2.Normalize(MEAN, STD)],
    }
    if name in ("mixup", "cutmix"):
        mix = v2.MixUp(alpha=1.0, num_classes=10) if name == "mixup" else v2.CutMix(alpha=1.0, num_classes=10)
        return "batch_f32", lambda x, y: mix(x, y)
    seq = v2.Compose(t[name])
    views = 2 if name == "ssl_two_views" else 1
    if views == 2:
        return "image", lambda img: (seq(img), seq(img))
    return "image", seq


# --- Albumentations: one image at a time, u8 HWC arrays ----------------------


def alb_step(name: str):
    import albumentations as A
    import cv2

    norm = A.Normalize(mean=MEAN, std=STD)
    cj = A.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, p=1.0)
    rrc = A.RandomResizedCrop(size=(224, 224), scale=(0.08, 1.0), ratio=(0.75, 4 / 3))
    chw = A.ToTensorV2() if hasattr(A, "ToTensorV2") else None
    t = {
        "imagenet_train": [rrc, A.HorizontalFlip(p=0.5), cj, norm] + ([chw] if chw else []),
        "color_jitter": [cj],
        "affine": [
            A.Resize(224, 224, interpolation=cv2.INTER_LINEAR),
            A.Affine(rotate=(-30, 30), translate_percent=(-0.1, 0.1), scale=(0.8, 1.2),
                     shear=(-10, 10), interpolation=cv2.INTER_LINEAR, p=1.0),
        ],
        "cifar_train": [A.PadIfNeeded(40, 40, border_mode=cv2.BORDER_CONSTANT, fill=0),
                        A.RandomCrop(32, 32), A.HorizontalFlip(p=0.5),
                        A.Normalize(mean=CIFAR_MEAN, std=CIFAR_STD)] + ([chw] if chw else []),
        "elastic": [A.ElasticTransform(alpha=50.0, sigma=5.0, p=1.0)],
        "ssl_two_views": [A.RandomResizedCrop(size=(224, 224), scale=(0.08, 1.0)), A.HorizontalFlip(p=0.5),
                          A.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, p=0.8),
                          A.ToGray(p=0.2), norm] + ([chw] if chw else []),
    }
    if name not in t:
        return None
    seq = A.Compose(t[name])
    if name == "ssl_two_views":
        return "array", lambda img: (seq(image=img)["image"], seq(image=img)["image"])
    return "array", lambda img: seq(image=img)["image"]


# --- Kornia: batches of float tensors in [0, 1], per-sample draws -----------


def kornia_step(name: str):
    import torch
    import kornia.augmentation as K

    same = dict(same_on_batch=False)
    cj = K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=1.0, **same)
    norm = K.Normalize(mean=torch.tensor(MEAN), std=torch.tensor(STD))
    to_u8 = lambda x: (x * 255).round().clamp(0, 255).to(torch.uint8)  # noqa: E731
    t = {
        "imagenet_train": ([K.RandomResizedCrop((224, 224), scale=(0.08, 1.0), ratio=(0.75, 4 / 3), **same),
                            K.RandomHorizontalFlip(**same), cj, norm], False),
        "color_jitter": ([cj], True),
        "affine": ([K.Resize((224, 224)),
                    K.RandomAffine(30, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=10, p=1.0, **same)], True),
        "cifar_train": ([K.RandomCrop((32, 32), padding=4, **same), K.RandomHorizontalFlip(**same),
                         K.Normalize(mean=torch.tensor(CIFAR_MEAN), std=torch.tensor(CIFAR_STD))], False),
        "elastic": ([K.RandomElasticTransform(kernel_size=(31, 31), sigma=(5.0, 5.0), alpha=(50.0 / 224, 50.0 / 224),
                                              p=1.0, **same)], True),
        "ssl_two_views": ([K.RandomResizedCrop((224, 224), scale=(0.08, 1.0), **same),
                           K.RandomHorizontalFlip(**same),
                           K.ColorJitter(0.4, 0.4, 0.2, 0.1, p=0.8, **same),
                           K.RandomGrayscale(p=0.2, **same), norm], False),
    }
    if name in ("randaugment", "trivial_augment"):
        from kornia.augmentation import auto

        aug = auto.RandAugment(n=2, m=9) if name == "randaugment" else auto.TrivialAugment()
        return "batch_u8", lambda x: to_u8(aug(x.float() / 255))
    if name in ("mixup", "cutmix"):
        mix = K.RandomMixUpV2(p=1.0, data_keys=["input", "class"]) if name == "mixup" else \
            K.RandomCutMixV2(p=1.0, data_keys=["input", "class"])
        return "batch_f32", lambda x, y: mix(x, y)
    ops, u8_out = t[name]
    seq = K.AugmentationSequential(*ops)
    views = 2 if name == "ssl_two_views" else 1

    def run(x):
        outs = [seq(x.float() / 255) for _ in range(views)]
        return [to_u8(o) for o in outs] if u8_out else outs

    return "batch_u8", run


# --- the worker: one single-threaded process over its share -----------------


def worker(args):
    peer, name, images, batch, repeats = args
    import numpy as np
    import torch

    try:
        made = {"torchvision": tv_step, "albumentations": alb_step, "kornia": kornia_step}[peer](name)
    except Exception as e:  # a peer whose API lacks the op: reported, not fatal
        return ("error", f"{type(e).__name__}: {e}")
    if made is None:
        return None
    kind, step = made
    if kind == "image":
        data = [torch.from_numpy(np.ascontiguousarray(im.transpose(2, 0, 1))) for im in images]

        def one_pass():
            for im in data:
                step(im)
    elif kind == "array":
        data = images

        def one_pass():
            for im in data:
                step(im)
    elif kind == "batch_u8":
        arr = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
        batches = [arr[i:i + batch] for i in range(0, len(arr), batch)]

        def one_pass():
            for b in batches:
                step(b)
    else:  # batch_f32: the mixing step alone, on augmented f32 batches
        arr = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255
        batches = [arr[i:i + batch].contiguous() for i in range(0, len(arr), batch)]
        labels = [torch.randint(0, 10, (len(b),)) for b in batches]

        def one_pass():
            for b, y in zip(batches, labels):
                step(b, y)
    try:
        one_pass()  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            one_pass()
            times.append(time.perf_counter() - t)
    except Exception as e:
        return ("error", f"{type(e).__name__}: {e}")
    return ("ok", len(images) / statistics.median(times))


def peer_rate(pool, peer: str, name: str, images, processes: int, batch: int, repeats: int):
    shares = [images[i::processes] for i in range(processes)]
    results = pool.map(worker, [(peer, name, s, batch, repeats) for s in shares])
    if any(r is None for r in results):
        return None
    errors = [r[1] for r in results if r[0] == "error"]
    if errors:
        return errors[0]
    return sum(r[1] for r in results)


def ours(cli: Path, folder: Path, name: str, threads: int, batch: int, repeats: int, mix: bool):
    cmd = [str(cli), "bench", "--backend", "cpu", "--threads", str(threads), "--batch-size", str(batch),
           "--repeats", str(repeats), "--input", str(folder), "--pipeline", str(PIPES / f"{name}.toml")]
    if mix:
        cmd.append("--mix-only")
    out = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"images/s: ([0-9.]+)", out.stdout)
    if out.returncode != 0 or not m:
        return f"error: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}"
    return float(m.group(1))


def load_sources(folder: Path, count: int, size: int):
    import numpy as np
    from PIL import Image

    exts = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in exts)[:count]
    if not files:
        sys.exit(f"no images under {folder}")
    return files, [np.asarray(Image.open(p).convert("RGB").resize((size, size), Image.BILINEAR)) for p in files]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", type=Path, default=Path("/tmp/ga-photos"), help="folder of photos")
    ap.add_argument("--count", type=int, default=256)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1,
                    help="time every contender this many times, in turn, and report each one's median")
    ap.add_argument("--cli", type=Path, default=REPO / "target" / "release" / "gpu-augment")
    ap.add_argument("--only", action="append", choices=sorted([*PIPELINES, "dino_multicrop"]),
                    help="pipelines to run (default: all but dino_multicrop, which runs alone)")
    ap.add_argument("--gpu", action="store_true", help="dino_multicrop: also time our GPU backend")
    ap.add_argument("--peers", default="albumentations,torchvision,kornia")
    a = ap.parse_args()
    from PIL import Image

    if a.only and "dino_multicrop" in a.only:
        if len(a.only) > 1:
            sys.exit("--only dino_multicrop runs alone (its own timing: DataLoader, source images/s)")
        dino_main(a)
        return
    peers = [p for p in a.peers.split(",") if p]
    names = a.only or list(PIPELINES)
    load = os.getloadavg()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, load average "
          f"{load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}, python {platform.python_version()}, "
          f"{a.processes} processes / threads, {a.count} sources, median of {a.rounds} round(s)")
    rows = []
    ctx = mp.get_context("spawn")
    with ctx.Pool(a.processes, initializer=single_threaded) as pool, tempfile.TemporaryDirectory() as tmp:
        by_size = {}
        for name in names:
            size, mix = PIPELINES[name]
            if size not in by_size:
                files, imgs = load_sources(a.input, a.count, size)
                folder = Path(tmp) / f"s{size}"
                folder.mkdir()
                for i, im in enumerate(imgs):
                    Image.fromarray(im).save(folder / f"{i:05d}.png")
                by_size[size] = (folder, imgs)
            folder, imgs = by_size[size]
            # --rounds: every contender in turn, round after round, and each
            # one's median over the rounds (the load drifts: interleaving
            # gives every contender the same share of quiet and busy spells).
            per = {p: [] for p in [*peers, "ours"]}
            for r in range(a.rounds):
                for p in peers:
                    per[p].append(peer_rate(pool, p, name, imgs, a.processes, a.batch_size, a.repeats))
                per["ours"].append(ours(a.cli, folder, name, a.processes, a.batch_size, a.repeats, mix))
                if a.rounds > 1:
                    cells = ", ".join(f"{p} {v:,.0f}" if isinstance(v, float) else f"{p} {v}"
                                      for p, v in ((p, per[p][-1]) for p in per))
                    print(f"  {name} round {r + 1}: {cells}", file=sys.stderr, flush=True)

            def med(vals):
                nums = [v for v in vals if isinstance(v, float)]
                return statistics.median(nums) if len(nums) == len(vals) else vals[0]

            rates = {p: med(per[p]) for p in peers}
            mine = med(per["ours"])
            rows.append((name, mix, rates, mine))
            nums = {p: r for p, r in rates.items() if isinstance(r, float)}
            best = max(nums, key=nums.get) if nums else None
            ratio = f"{mine / nums[best]:.2f}x" if best and isinstance(mine, float) else "-"
            fmt = lambda r: "-" if r is None else (f"{r:,.0f}" if isinstance(r, float) else r)  # noqa: E731
            rows[-1] = (name + (" (mixing step)" if mix else ""), [fmt(rates[p]) for p in peers],
                        fmt(mine), f"{best} {nums[best]:,.0f}" if best else "-", ratio)
            print(f"  {rows[-1][0]}: ours {rows[-1][2]}, " + ", ".join(f"{p} {v}" for p, v in zip(peers, rows[-1][1])),
                  file=sys.stderr, flush=True)
    print()
    print("| pipeline | " + " | ".join(peers) + " | gpu-augment (CPU) | fastest peer | ours / fastest |")
    print("|---" * (len(peers) + 4) + "|")
    for name, peer_cells, mine, best, ratio in rows:
        print(f"| {name} | " + " | ".join(peer_cells) + f" | {mine} | {best} | {ratio} |")


if __name__ == "__main__":
    main()
