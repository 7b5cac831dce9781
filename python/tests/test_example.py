"""examples/python/train_torch.py under torchrun with 2 ranks (gloo, CPU):
finite losses, each rank on its own shard, and a resumed run that continues
with the same batches (and the same losses) as an uninterrupted one."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

EXAMPLE = REPO / "examples" / "python" / "train_torch.py"

pytest.importorskip("torch")


def run(workdir: Path, log: Path, steps: int, *extra: str, ranks: int = 2) -> None:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks)]
    cmd = launcher + [
        str(EXAMPLE), "--workdir", str(workdir), "--steps", str(steps), "--record", str(log),
        "--backend", "cpu", "--batch-size", "8", "--size", "32", "--decode-threads", "1", *extra,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def read(log: Path) -> dict[tuple[int, int], dict]:
    return {(d["rank"], d["step"]): d for d in map(json.loads, log.read_text().splitlines())}


def test_torchrun_two_ranks_resume(tmp_path: Path):
    # 4 classes x 40 images, 80 per rank, batches of 8 (drop_last): 10 per epoch.
    full, part = tmp_path / "full", tmp_path / "part"
    # The first run writes the synthetic data set; the others share it.
    run(full, full / "log.jsonl", 13, "--mix", "cutmix")
    a = read(full / "log.jsonl")
    assert sorted(a) == [(r, s) for r in (0, 1) for s in range(1, 14)]
    assert all(math.isfinite(d["loss"]) for d in a.values())
    # Each rank its shard: different batches at every step.
    assert all(a[(0, s)]["digest"] != a[(1, s)]["digest"] for s in range(1, 14))
    assert a[(0, 11)]["epoch"] == 1 and a[(0, 10)]["epoch"] == 0
    # Stop at step 6, then resume to 13 (crossing the epoch boundary).
    data_dir = full / "data"
    run(part, part / "log.jsonl", 6, "--mix", "cutmix", "--data", str(data_dir))
    run(part, part / "log.jsonl", 13, "--mix", "cutmix", "--data", str(data_dir), "--resume")
    b = read(part / "log.jsonl")
    assert sorted(b) == sorted(a)
    for key, d in a.items():
        assert b[key]["digest"] == d["digest"], key
        assert b[key]["next"] == d["next"], key
        assert math.isclose(b[key]["loss"], d["loss"], rel_tol=1e-4, abs_tol=1e-6), (key, b[key]["loss"], d["loss"])


def test_single_process_plain_labels(tmp_path: Path):
    r = subprocess.run(
        [sys.executable, str(EXAMPLE), "--workdir", str(tmp_path), "--steps", "3", "--backend", "cpu",
         "--batch-size", "8", "--size", "32", "--record", str(tmp_path / "log.jsonl")],
        env=dict(os.environ, OMP_NUM_THREADS="1", RANK="0", WORLD_SIZE="1"),
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    logs = read(tmp_path / "log.jsonl")
    assert sorted(logs) == [(0, 1), (0, 2), (0, 3)]
    assert all(math.isfinite(d["loss"]) for d in logs.values())
