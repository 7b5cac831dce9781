"""Train a small CNN for a few steps with gpu_augment's torch loader.

    python examples/python/train_torch.py                         # synthetic ImageFolder, 1 process
    torchrun --nproc_per_node 2 examples/python/train_torch.py    # 2 ranks (gloo on CPU), each its shard
    python examples/python/train_torch.py --data /path/to/imagenet/train --pipeline examples/pipelines/imagenet_train.toml

- Data: an ImageFolder (``DIR/class_name/image.jpg``); without ``--data`` a
  small synthetic one is written to ``WORKDIR/data`` first.
- Augmentation: a pipeline file, or by default a small 64x64 crop / flip /
  colour / normalise pipeline; ``--mix cutmix`` (or ``mixup``) adds batch
  mixing, and the loss becomes a soft-label cross-entropy.
- Sharding: the loader reads ``RANK`` / ``WORLD_SIZE`` (set by torchrun), so
  each rank trains on its shard; gradients are averaged by DDP (gloo).
- Checkpoint and resume: every ``--checkpoint-every`` steps and at the end,
  each rank saves the model, the optimizer and ``loader.state_dict()`` to
  ``WORKDIR/ckpt.rank{R}.pt``; ``--resume`` continues from there with the
  very batches an uninterrupted run would have seen next.
- ``--record FILE`` appends one JSON line per step and rank (step, epoch, batch,
  loss, the dataset indices and a digest of the images), which the tests use
  to check that a resumed run continues with the same batches.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

import gpu_augment
from gpu_augment.torch import Loader, soft_cross_entropy


def default_pipeline(size: int, mix: str | None, num_classes: int) -> dict:
    ops: list[dict] = [
        {"op": "random_resized_crop", "scale": [0.35, 1.0]},
        {"op": "horizontal_flip", "p": 0.5},
        {"op": "color_jitter", "brightness": 0.3, "contrast": 0.3, "saturation": 0.3},
        {"op": "normalize"},
    ]
    if mix:
        ops.append({"op": mix, "alpha": 1.0, "num_classes": num_classes})
    return {"size": size, "format": "f32_chw", "ops": ops}


def write_synthetic(root: Path, classes: int, per_class: int) -> None:
    """A tiny ImageFolder: class c is a blob of colour c on a noisy background."""
    from PIL import Image

    rng = np.random.default_rng(0)
    palette = rng.uniform(40, 215, (classes, 3))
    for c in range(classes):
        d = root / f"class_{c:02d}"
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            h, w = int(rng.integers(60, 120)), int(rng.integers(60, 120))
            y, x = np.mgrid[0:h, 0:w]
            img = rng.normal(128, 30, (h, w, 3))
            cy, cx, r = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w, rng.uniform(0.2, 0.35) * min(h, w)
            img[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = palette[c]
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(d / f"{i:04d}.jpg", quality=90)


class SmallCNN(nn.Module):
    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, help="ImageFolder root (default: a synthetic one in WORKDIR/data)")
    ap.add_argument("--workdir", type=Path, default=Path("gpu-augment-train"))
    ap.add_argument("--pipeline", type=Path, help="pipeline file (default: 64x64 crop/flip/jitter/normalise)")
    ap.add_argument("--mix", choices=["cutmix", "mixup"], help="add batch mixing (soft labels)")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20, help="optimizer steps to reach (in all, counting resumed ones)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="auto", help="auto, gpu or cpu")
    ap.add_argument("--decode-threads", type=int)
    ap.add_argument("--checkpoint-every", type=int, default=0, help="also checkpoint every N steps (0: only at the end)")
    ap.add_argument("--resume", action="store_true", help="continue from WORKDIR/ckpt.rank{R}.pt")
    ap.add_argument("--record", type=Path, help="append one JSON line per step to this file")
    args = ap.parse_args()

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group("gloo")
    torch.manual_seed(args.seed)
    args.workdir.mkdir(parents=True, exist_ok=True)

    data = args.data
    if data is None:
        data = args.workdir / "data"
        if rank == 0 and not (data / ".done").exists():
            write_synthetic(data, classes=4, per_class=40)
            (data / ".done").touch()
        if world > 1:
            dist.barrier()
    num_classes = len([d for d in data.iterdir() if d.is_dir()])
    pipeline = (
        gpu_augment.Pipeline.from_file(args.pipeline)
        if args.pipeline
        else gpu_augment.Pipeline.from_dict(default_pipeline(args.size, args.mix, num_classes))
    )
    # RANK / WORLD_SIZE come from the environment: each rank gets its shard.
    loader = Loader(
        data, pipeline, batch_size=args.batch_size, shuffle=True, seed=args.seed,
        drop_last=True, backend=args.backend, decode_threads=args.decode_threads,
    )
    model: nn.Module = SmallCNN(pipeline.mix_classes or num_classes)
    if world > 1:
        model = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)

    ckpt = args.workdir / f"ckpt.rank{rank}.pt"
    step = 0
    if args.resume and ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        loader.load_state_dict(state["loader"])
        step = state["step"]
        print(f"rank {rank}: resumed at step {step}, epoch {state['loader']['epoch']}, batch {state['loader']['batch']}")

    def save() -> None:
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "loader": loader.state_dict(), "step": step}, ckpt)

    print(f"rank {rank}/{world}: {len(loader)} batches per epoch, backend {loader.loader.backend_name}")
    log = open(args.record, "a") if args.record else None
    loss_v = float("nan")
    while step < args.steps:
        epoch = loader.epoch
        for b, (images, targets) in enumerate(loader):
            logits = model(images)
            loss = soft_cross_entropy(logits, targets)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            loss_v = loss.item()
            if not math.isfinite(loss_v):
                raise SystemExit(f"rank {rank}: loss is {loss_v} at step {step}")
            state = loader.state_dict()
            if log:
                digest = hashlib.sha1(images.numpy().tobytes()).hexdigest()[:16]
                log.write(json.dumps({"rank": rank, "step": step, "epoch": epoch, "next": state,
                                      "loss": loss_v, "digest": digest}) + "\n")
                log.flush()
            if args.checkpoint_every and step % args.checkpoint_every == 0:
                save()
            if step >= args.steps:
                break
    save()
    print(f"rank {rank}: step {step}, loss {loss_v:.4f}, skipped files {len(loader.skipped)}")
    if log:
        log.close()
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
