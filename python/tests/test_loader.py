"""Loader: exact len(), ranks from RANK / WORLD_SIZE disjoint and covering,
mid-epoch resume byte for byte, epochs that advance, skipped files, error
mapping, the GIL released and Ctrl-C honoured while waiting, the torch
adapter, and the warnings against DataLoader worker processes."""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import gpu_augment as ga
from conftest import PIPELINES, make_image_folder, write_image

SMALL = {
    "size": 24,
    "format": "f32_chw",
    "ops": [
        {"op": "random_resized_crop", "scale": [0.3, 1.0]},
        {"op": "horizontal_flip"},
        {"op": "color_jitter", "brightness": 0.3, "contrast": 0.3},
        {"op": "normalize"},
    ],
}
MIX = dict(SMALL, ops=SMALL["ops"] + [{"op": "cutmix", "num_classes": 3}])


def snapshot(b: ga.Batch):
    return (b.epoch, b.index, b.indices.tolist(), b.images.tobytes(), None if b.labels is None else b.labels.tobytes())


def run_epoch(loader) -> list:
    return [snapshot(b) for b in loader]


def test_batches_held_stay_intact_and_dropped_ones_are_reused(folder: Path):
    # One batch ahead at most, so a dropped batch's buffer is free before
    # the worker two batches on takes one.
    ld = ga.Loader(folder, SMALL, batch_size=1, backend="cpu", shuffle=False, prefetch=1)
    held = [(b.images, b.images.copy()) for b in ld]
    assert len({a.ctypes.data for a, _ in held}) == len(held) == 15
    assert all(np.array_equal(a, want) for a, want in held)
    first = [want for _, want in held]
    del held
    ld.set_epoch(0)  # the same epoch again, into recycled buffers
    addrs, again = [], []
    for b in ld:
        addrs.append(b.buffer_address)
        again.append(b.images.copy())
    assert len(set(addrs)) < len(addrs)
    assert all(np.array_equal(x, y) for x, y in zip(first, again))


def test_len_is_exact(folder: Path):
    # 15 items.
    for bs in (1, 4, 5, 16):
        for world in (1, 2, 4):
            for drop_last in (False, True):
                for tail in ("pad", "drop", "uneven"):
                    if tail == "uneven" and world > 1:
                        continue  # ranks differ by one item there
                    ld = ga.Loader(folder, SMALL, batch_size=bs, world_size=world, rank=world - 1,
                                   drop_last=drop_last, shard_tail=tail, backend="cpu",
                                   decode_threads=1, shuffle=False)
                    n = sum(1 for _ in ld)
                    assert n == len(ld), (bs, world, drop_last, tail)


def test_ranks_from_environment_are_disjoint_and_cover(folder: Path, monkeypatch):
    items = [(p, c) for p, c in sorted((p, int(p.parent.name[-1])) for p in folder.rglob("*.png"))]
    assert len(items) == 15
    for tail, data, cover in (("pad", items[:14], 14), ("drop", items[:14], 14), ("uneven", items, 15)):
        seen = []
        lens = []
        for r in (0, 1):
            monkeypatch.setenv("RANK", str(r))
            monkeypatch.setenv("WORLD_SIZE", "2")
            ld = ga.Loader(data, MIX, batch_size=3, seed=4, shard_tail=tail, backend="cpu", decode_threads=1)
            assert (ld.rank, ld.world_size) == (r, 2)
            got = [i for b in ld for i in b.indices.tolist()]
            lens.append(len(got))
            seen.append(got)
        assert not set(seen[0]) & set(seen[1]), tail
        assert sorted(seen[0] + seen[1]) == list(range(cover)), tail
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    assert ga.Loader(items, MIX, batch_size=3, backend="cpu").world_size == 1


def test_state_dict_resume_is_byte_identical(folder: Path):
    kw = dict(batch_size=4, seed=7, backend="cpu", decode_threads=2)
    full = ga.Loader(folder, MIX, **kw)
    e0, e1 = run_epoch(full), run_epoch(full)
    assert full.epoch == 2 and e0 != e1 and len(e0) == 4
    part = ga.Loader(folder, MIX, **kw)
    it = iter(part)
    first = [snapshot(next(it)), snapshot(next(it))]
    state = part.state_dict()
    assert state["epoch"] == 0 and state["batch"] == 2
    del it
    resumed = ga.Loader(folder, MIX, **kw)
    resumed.load_state_dict(state)
    rest = run_epoch(resumed)
    assert first + rest == e0
    assert run_epoch(resumed) == e1
    # Saved after the last batch: the next iteration is the next epoch.
    done = ga.Loader(folder, MIX, **kw)
    for _ in done:
        last = done.state_dict()
    assert (last["epoch"], last["batch"]) == (1, 0)
    # A state from another set-up is refused.
    other = ga.Loader(folder, MIX, **dict(kw, batch_size=5))
    with pytest.raises(ValueError, match="batch_size"):
        other.load_state_dict(state)


def test_set_epoch_and_shuffle(folder: Path):
    ld = ga.Loader(folder, SMALL, batch_size=15, seed=1, backend="cpu")
    ld.set_epoch(5)
    a = next(iter(ld))
    assert a.epoch == 5
    ld2 = ga.Loader(folder, SMALL, batch_size=15, seed=1, backend="cpu")
    ld2.set_epoch(6)
    b = next(iter(ld2))
    assert sorted(a.indices.tolist()) == sorted(b.indices.tolist()) == list(range(15))
    assert a.indices.tolist() != b.indices.tolist()
    # A sample's result depends on (seed, epoch, dataset index) only.
    aug = ga.Augmenter(SMALL, backend="cpu")
    paths = [ld.path(i) for i in a.indices.tolist()]
    direct = aug(paths, seed=1, epoch=5, indices=a.indices.tolist())
    assert np.array_equal(direct.images, a.images)
    assert [r["index"] for r in a.records] == a.indices.tolist()


def test_corrupt_files_are_skipped_and_listed(tmp_path: Path):
    make_image_folder(tmp_path, classes=2, per_class=4)
    (tmp_path / "class_0" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (tmp_path / "class_1" / "empty.png").write_bytes(b"")
    ld = ga.Loader(tmp_path, SMALL, batch_size=4, backend="cpu", shuffle=False)
    assert ld.dataset_len == 10 and ld.classes == ["class_0", "class_1"]
    batches = list(ld)
    got = sorted(i for b in batches for i in b.indices.tolist())
    assert len(got) == 8
    per_batch = [s for b in batches for s in b.skipped]
    skipped = ld.skipped
    assert sorted(per_batch) == sorted(skipped)
    names = sorted(Path(p).name for p, _ in skipped)
    assert names == ["broken.jpg", "empty.png"]
    assert all(reason for _, reason in skipped)
    assert any("empty" in reason for _, reason in skipped)


def test_missing_folder_and_bad_arguments(tmp_path: Path, folder: Path):
    with pytest.raises(FileNotFoundError):
        ga.Loader(tmp_path / "does-not-exist", SMALL, batch_size=2)
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(OSError):
        ga.Loader(f, SMALL, batch_size=2)
    with pytest.raises(ValueError, match="rank"):
        ga.Loader(folder, SMALL, batch_size=2, rank=2, world_size=2)
    with pytest.raises(ValueError, match="shard_tail"):
        ga.Loader(folder, SMALL, batch_size=2, shard_tail="wrap")
    with pytest.raises(ValueError, match="hue"):
        ga.Loader(folder, dict(SMALL, ops=[{"op": "color_jitter", "hue": 2}]), batch_size=2)
    with pytest.raises(ValueError, match="mixes labels"):
        ga.Loader([p for p in folder.rglob("*.png")], MIX, batch_size=2)


def blocked_loader(tmp_path: Path):
    """A loader whose first batch waits on a FIFO (the decoder blocks opening
    it until someone writes); returns the loader and a function releasing it."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    fifo = tmp_path / "wait.png"
    os.mkfifo(fifo)
    real = tmp_path / "real.png"
    write_image(real, np.random.default_rng(0), 30, 30)
    ld = ga.Loader([(fifo, 0), (real, 1)], SMALL, batch_size=2, shuffle=False, backend="cpu",
                   decode_threads=1, prefetch=1)

    released = threading.Lock()

    def release():
        # Once only (a second writer would wait for a reader forever).
        if released.acquire(blocking=False):
            with open(fifo, "wb"):
                pass  # open and close: the decoder reads an empty file

    # A test that fails must not leave the decoder blocked (and the run hung).
    guard = threading.Timer(20.0, release)
    guard.daemon = True
    guard.start()
    return ld, release


def test_gil_released_while_waiting(tmp_path: Path):
    ld, release = blocked_loader(tmp_path)
    count = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            count[0] += 1

    spinner = threading.Thread(target=spin)
    timer = threading.Timer(0.6, release)
    it = iter(ld)
    spinner.start()
    timer.start()
    t0 = time.perf_counter()
    try:
        b = next(it)  # waits ~0.6 s for the FIFO
    finally:
        stop.set()
        spinner.join()
        timer.join()
    waited = time.perf_counter() - t0
    assert waited > 0.4
    assert count[0] > 50_000, count[0]
    assert b.indices.tolist() == [1] and Path(b.skipped[0][0]).name == "wait.png"


def test_ctrl_c_while_waiting_raises_keyboard_interrupt(tmp_path: Path):
    # Python's own Ctrl-C handler, whatever this process inherited: a shell
    # starting a job in the background (`cmd &`) has SIGINT ignored, and
    # Python then installs no handler, so the signal would never arrive.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        ctrl_c_while_waiting(tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def ctrl_c_while_waiting(tmp_path: Path):
    ld, release = blocked_loader(tmp_path)
    main = threading.main_thread().ident
    sent = []

    def interrupt():
        sent.append(time.perf_counter())
        signal.pthread_kill(main, signal.SIGINT)

    # The native wait itself: the interrupt surfaces within a wait slice.
    it = ld._native.epoch(0, 0)
    timer = threading.Timer(0.3, interrupt)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        next(it)
    latency = time.perf_counter() - sent[0]
    timer.join()
    assert latency < 0.5, latency
    threading.Thread(target=release).start()  # let the decoder finish
    it.close()
    # Through the public iterator: the interrupt ends the epoch (its threads
    # are joined once the blocked decoder is released).
    ld2, release2 = blocked_loader(tmp_path / "again")
    sent.clear()
    timer = threading.Timer(0.3, interrupt)
    timer.start()
    threading.Timer(0.8, release2).start()
    with pytest.raises(KeyboardInterrupt):
        for _ in ld2:
            pass
    timer.join()
    assert time.perf_counter() - sent[0] < 0.5 + 1.0


def test_not_for_dataloader_workers(folder: Path, monkeypatch):
    ld = ga.Loader(folder, SMALL, batch_size=4, backend="cpu")
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(ld)
    torch_data = pytest.importorskip("torch.utils.data")
    monkeypatch.setattr(torch_data, "get_worker_info", lambda: object())
    with pytest.warns(ga.DataLoaderWorkerWarning):
        ga.Loader(folder, SMALL, batch_size=4, backend="cpu")
    with pytest.warns(ga.DataLoaderWorkerWarning):
        next(iter(ld))


def test_torch_loader(folder: Path):
    torch = pytest.importorskip("torch")
    from gpu_augment.torch import Loader as TorchLoader, soft_cross_entropy

    tl = TorchLoader(folder, SMALL, batch_size=4, seed=3, backend="cpu")
    x, y = next(iter(tl))
    assert x.dtype == torch.float32 and x.shape == (4, 3, 24, 24)
    assert y.dtype == torch.int64 and y.shape == (4,)
    ref = next(iter(ga.Loader(folder, SMALL, batch_size=4, seed=3, backend="cpu")))
    assert np.array_equal(x.numpy(), ref.images) and y.tolist() == ref.classes.tolist()
    # Mixing pipelines give soft targets.
    xm, ym = next(iter(TorchLoader(folder, MIX, batch_size=4, backend="cpu")))
    assert ym.dtype == torch.float32 and ym.shape == (4, 3)
    loss = soft_cross_entropy(torch.zeros(4, 3), ym)
    assert abs(loss.item() - np.log(3)) < 1e-5
    # u8 hand-over, normalised on the device (here the CPU).
    u8 = dict(SMALL, format="u8_hwc", ops=SMALL["ops"][:3])
    xn, _ = next(iter(TorchLoader(folder, u8, batch_size=4, seed=3, backend="cpu", normalize=True, device="cpu")))
    raw = next(iter(ga.Loader(folder, u8, batch_size=4, seed=3, backend="cpu"))).images
    mean = np.array([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = np.array([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    want = (raw.transpose(0, 3, 1, 2) / 255.0 - mean) / std
    assert xn.shape == (4, 3, 24, 24) and np.allclose(xn.numpy(), want, atol=1e-5)
    with pytest.raises(ValueError, match="u8_hwc"):
        TorchLoader(folder, SMALL, batch_size=4, normalize=True)
    with pytest.warns(UserWarning) if not torch.cuda.is_available() else _nullcontext():
        TorchLoader(folder, SMALL, batch_size=4, pin_memory=True, backend="cpu")
    # state_dict passes through.
    assert tl.state_dict()["batch"] == 1


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_one_channel_pipelines(folder: Path):
    """grayscale num_output_channels = 1: N x H x W x 1 / N x 1 x H x W arrays
    from the Augmenter and the Loaders, channel 0 of the 3-channel run."""
    grey = {"op": "grayscale", "num_output_channels": 1}
    img = np.random.default_rng(0).integers(0, 256, (30, 41, 3), dtype=np.uint8)
    for fmt, axis in (("u8_hwc", 3), ("f32_chw", 1)):
        p1 = ga.Pipeline.from_dict({"size": [12, 10], "format": fmt, "ops": [{"op": "random_resized_crop"}, grey]})
        p3 = ga.Pipeline.from_dict(
            {"size": [12, 10], "format": fmt, "ops": [{"op": "random_resized_crop"}, dict(grey, num_output_channels=3)]}
        )
        assert p1.channels == 1 and p3.channels == 3
        a = ga.Augmenter(p1, "cpu")([img, img], seed=4).images
        b = ga.Augmenter(p3, "cpu")([img, img], seed=4).images
        assert a.shape == ((2, 12, 10, 1) if axis == 3 else (2, 1, 12, 10))
        assert np.array_equal(a, np.take(b, [0], axis=axis))
        lb = next(iter(ga.Loader(folder, p1, batch_size=4, backend="cpu")))
        assert lb.images.shape == ((4, 12, 10, 1) if axis == 3 else (4, 1, 12, 10))
    with pytest.raises(ValueError, match="normalize.*key `mean`.*1 channel"):
        ga.Pipeline.from_dict({"size": 8, "format": "f32_chw", "ops": [grey, {"op": "normalize"}]})
    with pytest.raises(ValueError, match="key `p`"):
        ga.Pipeline.from_dict({"size": 8, "ops": [dict(grey, p=0.5)]})
    torch = pytest.importorskip("torch")
    from gpu_augment.torch import Loader as TorchLoader

    u8 = {"size": [12, 10], "ops": [{"op": "random_resized_crop"}, grey]}
    with pytest.raises(ValueError, match="1 channel"):
        TorchLoader(folder, u8, batch_size=4, backend="cpu", normalize=True)
    x, _ = next(iter(TorchLoader(folder, u8, batch_size=4, seed=3, backend="cpu", normalize=([0.5], [0.25]))))
    raw = next(iter(ga.Loader(folder, u8, batch_size=4, seed=3, backend="cpu"))).images
    assert x.shape == (4, 1, 12, 10)
    assert np.allclose(x.numpy(), (raw.transpose(0, 3, 1, 2) / 255.0 - 0.5) / 0.25, atol=1e-5)
    assert torch.is_tensor(x)
