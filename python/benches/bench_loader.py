"""End-to-end loader comparison on a folder of JPEG photos (imagenet_train,
CPU backend, 2 threads): gpu_augment.torch.Loader vs the Rust loader
(`gpu-augment bench --end-to-end`) vs torch's DataLoader with torchvision v2
transforms and 2 worker processes.

    python python/benches/bench_loader.py --make-photos /tmp/ga-photos   # once: ~500 JPEGs, ~500x375
    python python/benches/bench_loader.py --input /tmp/ga-photos

Photos: crops and resizes of the real photographs scikit-image ships
(``pip install scikit-image``; only needed for --make-photos), written as
JPEG (quality 90) in an ImageFolder layout (one class per source photo).

Each contender runs one warm-up epoch, then ``--repeats`` epochs; the median
epoch gives images/s (decode + augment + hand-over to the training loop,
which here does nothing else).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PIPELINE = REPO / "examples" / "pipelines" / "imagenet_train.toml"


def make_photos(out: Path, count: int, seed: int = 0) -> None:
    import numpy as np
    from PIL import Image

    try:
        from skimage import data
    except ImportError:
        raise SystemExit("--make-photos needs scikit-image: pip install scikit-image") from None
    names = ["astronaut", "chelsea", "coffee", "rocket", "cat", "immunohistochemistry", "motorcycle_left", "hubble_deep_field"]
    photos = []
    for n in names:
        try:
            im = getattr(data, n)()
        except Exception:
            continue  # not shipped in this version (or needs a download)
        if im.ndim == 3 and im.shape[2] >= 3 and min(im.shape[:2]) >= 256:
            photos.append((n, Image.fromarray(np.ascontiguousarray(im[..., :3]))))
    if not photos:
        raise SystemExit("no photographs found in skimage.data")
    rng = np.random.default_rng(seed)
    for i in range(count):
        name, im = photos[i % len(photos)]
        w, h = im.size
        # A random crop of 55-100% of the side, resized to ~500x375 (landscape or portrait).
        f = rng.uniform(0.55, 1.0)
        cw, ch = int(w * f), int(h * f)
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        size = (500, 375) if rng.random() < 0.75 else (375, 500)
        size = (size[0] + int(rng.integers(-20, 21)), size[1] + int(rng.integers(-20, 21)))
        crop = im.crop((x, y, x + cw, y + ch)).resize(size, Image.BICUBIC)
        if rng.random() < 0.5:
            crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        crop.save(d / f"{i:04d}.jpg", quality=90)
    print(f"wrote {count} JPEGs from {len(photos)} photos ({', '.join(n for n, _ in photos)}) to {out}")


def timed_epochs(run_epoch, repeats: int) -> tuple[float, list[float], int]:
    run_epoch()  # warm-up
    times, n = [], 0
    for _ in range(repeats):
        t = time.perf_counter()
        n = run_epoch()
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return n / med, times, n


def bench_gpu_augment(folder: Path, threads: int, batch: int, repeats: int) -> float:
    from gpu_augment.torch import Loader

    loader = Loader(folder, PIPELINE, batch_size=batch, shuffle=False, backend="cpu",
                    decode_threads=threads, augment_threads=threads)

    def epoch() -> int:
        n = 0
        for x, y in loader:
            n += x.shape[0]
        return n

    rate, times, n = timed_epochs(epoch, repeats)
    print(f"gpu_augment.torch.Loader: {rate:.0f} img/s ({n} images, epochs {', '.join(f'{t:.2f}' for t in times)} s)")
    return rate


def bench_rust(folder: Path, threads: int, batch: int, repeats: int, cli: Path) -> float:
    out = subprocess.run(
        [str(cli), "bench", "--input", str(folder), "--pipeline", str(PIPELINE), "--backend", "cpu",
         "--threads", str(threads), "--batch-size", str(batch), "--repeats", str(repeats), "--end-to-end"],
        check=True, capture_output=True, text=True,
    ).stdout
    m = re.search(r"images/s: (\d+)", out)
    if not m:
        raise SystemExit(f"unexpected bench output:\n{out}")
    rate = float(m.group(1))
    print(f"Rust loader (gpu-augment bench --end-to-end): {rate:.0f} img/s")
    return rate


def bench_torchvision(folder: Path, workers: int, batch: int, repeats: int) -> float:
    import torch
    from torchvision import datasets
    from torchvision.transforms import v2

    tf = v2.Compose([
        v2.ToImage(),
        v2.RandomResizedCrop(224, antialias=True),
        v2.RandomHorizontalFlip(),
        v2.ColorJitter(0.4, 0.4, 0.4, 0.1),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    ds = datasets.ImageFolder(str(folder), transform=tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=False, num_workers=workers,
                                     persistent_workers=True, worker_init_fn=lambda _: torch.set_num_threads(1))

    def epoch() -> int:
        n = 0
        for x, y in dl:
            n += x.shape[0]
        return n

    rate, times, n = timed_epochs(epoch, repeats)
    print(f"torch DataLoader + torchvision v2, {workers} workers: {rate:.0f} img/s ({n} images, epochs {', '.join(f'{t:.2f}' for t in times)} s)")
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--make-photos", type=Path, help="write the photo folder here and exit")
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--input", type=Path, help="ImageFolder of JPEGs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cli", type=Path, default=REPO / "target" / "release" / "gpu-augment")
    ap.add_argument("--only", choices=["gpu_augment", "rust", "torchvision"], action="append")
    args = ap.parse_args()
    if args.make_photos:
        make_photos(args.make_photos, args.count)
        return
    if not args.input:
        ap.error("--input (or --make-photos)")
    torch_threads = os.environ.get("OMP_NUM_THREADS")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}, python {sys.version.split()[0]}, OMP_NUM_THREADS={torch_threads}")
    only = set(args.only or ["gpu_augment", "rust", "torchvision"])
    r = {}
    if "rust" in only:
        r["rust"] = bench_rust(args.input, args.threads, args.batch_size, args.repeats, args.cli)
    if "gpu_augment" in only:
        r["gpu_augment"] = bench_gpu_augment(args.input, args.threads, args.batch_size, args.repeats)
    if "torchvision" in only:
        r["torchvision"] = bench_torchvision(args.input, args.threads, args.batch_size, args.repeats)
    if "gpu_augment" in r and "rust" in r:
        print(f"gpu_augment.torch.Loader / Rust loader: {r['gpu_augment'] / r['rust']:.2f}")
    if "gpu_augment" in r and "torchvision" in r:
        print(f"gpu_augment.torch.Loader / torch DataLoader: {r['gpu_augment'] / r['torchvision']:.2f}x")


if __name__ == "__main__":
    main()
