"""gpu_augment: GPU-accelerated, per-sample random, bit-reproducible image
augmentation for Python training loops.

A sample's augmentation is a pure function of (seed, epoch, sample index):
whatever the batch size, the number of ranks, a resume, or the backend (the
GPU through wgpu, or its bit-matching CPU twin).

- :class:`Pipeline`: what to do (a TOML file, TOML text or a dict).
- :class:`Augmenter`: a pipeline on a backend, called on a batch of images.
- :class:`Loader`: files in, augmented batches out, epoch after epoch,
  decoded and augmented ahead of the training loop on the engine's own
  threads; sharded (``RANK`` / ``WORLD_SIZE``) and resumable
  (``state_dict`` / ``load_state_dict``).
- :mod:`gpu_augment.torch`: the same loader yielding torch tensors.

The engine runs its own decode and augment threads and releases the GIL
while it works or waits. Do not wrap it in a ``torch.utils.data.DataLoader``
with worker processes: iterate the loader directly in the training process.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Union

import numpy as np

from . import _native
from ._native import Batch

__all__ = [
    "Augmenter",
    "Batch",
    "DataLoaderWorkerWarning",
    "Loader",
    "Pipeline",
    "ViewAugmenter",
    "__version__",
]

__version__: str = _native.__version__

PathLike = Union[str, "os.PathLike[str]"]


class DataLoaderWorkerWarning(UserWarning):
    """The engine is being used inside a torch DataLoader worker process (or
    a forked child): it already decodes and augments on its own threads, so
    worker processes only add copies and break its sharding and resume."""


class Pipeline:
    """An augmentation pipeline: output size and format, then ops in order.

    Build one with :meth:`from_file`, :meth:`from_toml` or :meth:`from_dict`
    (the same schema as the TOML files, see ``examples/pipelines/``). Errors
    raise ``ValueError`` with the engine's message, which names the op (and
    its position), the key and the allowed range.
    """

    __slots__ = ("_native",)

    def __init__(self, source: Pipeline | Mapping[str, Any]) -> None:
        if isinstance(source, Pipeline):
            self._native: _native.Pipeline = source._native
        elif isinstance(source, Mapping):
            self._native = _native.Pipeline.from_json(json.dumps(dict(source)))
        else:
            raise TypeError(
                "Pipeline(source): give a dict, or use Pipeline.from_file / from_toml"
            )

    @classmethod
    def _wrap(cls, native: _native.Pipeline) -> Pipeline:
        p = cls.__new__(cls)
        p._native = native
        return p

    @classmethod
    def from_file(cls, path: PathLike) -> Pipeline:
        """Reads a pipeline file (TOML). A missing file raises FileNotFoundError."""
        return cls._wrap(_native.Pipeline.from_file(os.fspath(path)))

    @classmethod
    def from_toml(cls, text: str) -> Pipeline:
        """Parses a pipeline from TOML text."""
        return cls._wrap(_native.Pipeline.from_toml(text))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Pipeline:
        """A pipeline from a dict with the TOML schema, e.g.
        ``{"size": 224, "format": "f32_chw", "ops": [{"op": "horizontal_flip"}]}``."""
        return cls(d)

    @property
    def size(self) -> tuple[int, int]:
        """Output (height, width)."""
        return self._native.size

    @property
    def format(self) -> str:
        """``"u8_hwc"`` (uint8 N x H x W x C), ``"f32_chw"`` (float32 N x C x H x W),
        ``"u8_chw"`` (uint8 N x C x H x W, normalize deferred: see
        :meth:`normalization`) or ``"f16_chw"`` (float16 N x C x H x W: the
        f32_chw values rounded to nearest, ties to even), C = :attr:`channels`."""
        return self._native.format

    @property
    def channels(self) -> int:
        """Channels of each output: 3, or 1 after ``grayscale`` with
        ``num_output_channels = 1`` (arrays N x H x W x 1 or N x 1 x H x W)."""
        return self._native.channels

    @property
    def views(self) -> int:
        """Views per source image (SimCLR-style multi-view pipelines)."""
        return self._native.views

    @property
    def mix_classes(self) -> int | None:
        """``num_classes`` of the mixing op (mixup, cutmix, ...), None without one."""
        return self._native.mix_classes

    def normalization(self) -> tuple[list[float], list[float]]:
        """(mean, std) of the ``normalize`` op (``(0, 1)`` per channel without
        one). A ``u8_chw`` pipeline defers its ``normalize`` to the consumer:
        ``(x / 255 - mean) / std`` (see :func:`gpu_augment.torch.normalize`);
        without one that gives the ``[0, 1]`` values."""
        m, s = self._native.normalization()
        return list(m), list(s)

    def __repr__(self) -> str:
        return repr(self._native)


def as_pipeline(p: Pipeline | Mapping[str, Any] | PathLike) -> Pipeline:
    """A Pipeline from a Pipeline, a dict, or the path of a TOML file."""
    if isinstance(p, Pipeline):
        return p
    if isinstance(p, Mapping):
        return Pipeline(p)
    if isinstance(p, (str, os.PathLike)):
        return Pipeline.from_file(p)
    raise TypeError(f"expected a Pipeline, a dict or a file path, got {type(p).__name__}")


def _images_arg(images: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for i, im in enumerate(images):
        if isinstance(im, np.ndarray):
            if im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3:
                raise ValueError(
                    f"image {i}: expected an H x W x 3 uint8 array, got {im.dtype} {im.shape}"
                )
            out.append(im)
        elif isinstance(im, (str, os.PathLike)):
            out.append(os.fspath(im))
        else:
            raise TypeError(
                f"image {i}: expected an H x W x 3 uint8 numpy array or a path, "
                f"got {type(im).__name__}"
            )
    return out


def _indices_arg(n: int, first_index: int, indices: Sequence[int] | None) -> list[int]:
    """The global sample index of each of ``n`` images: ``first_index + i``,
    or ``indices`` (not both)."""
    if indices is None:
        return list(range(int(first_index), int(first_index) + n))
    if first_index:
        raise ValueError("give first_index or indices, not both")
    idx = [int(i) for i in indices]
    if len(idx) != n:
        raise ValueError(f"{n} images but {len(idx)} indices")
    return idx


_TARGET_KEYS = ("masks", "boxes", "box_format", "normalized", "box_labels", "keypoints")


def _mask_array(i: int, k: int, m: Any) -> np.ndarray:
    """One label map as a C-contiguous uint8 or uint16 H x W array: uint8,
    uint16 and bool are kept (bool as uint8); other integer arrays become
    uint16 when their values fit (0..65535), else an error."""
    a = np.asarray(m)
    if a.ndim != 2:
        raise ValueError(f"targets of image {i}: `masks[{k}]`: expected an H x W array, got shape {a.shape}")
    if a.dtype == np.bool_:
        a = a.astype(np.uint8)
    elif a.dtype not in (np.uint8, np.uint16):
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"targets of image {i}: `masks[{k}]`: expected integer labels, got dtype {a.dtype}")
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise ValueError(
                f"targets of image {i}: `masks[{k}]`: values {a.min()}..{a.max()} do not fit uint16 (0..65535)"
            )
        a = a.astype(np.uint16)
    return np.ascontiguousarray(a)


def _targets_arg(targets: Sequence[Mapping[str, Any]], n: int, masks_as_paths: bool) -> list[dict[str, Any]]:
    """Per-image target dicts in the exact dtypes the native side reads."""
    targets = list(targets)
    if len(targets) != n:
        raise ValueError(f"{n} images but {len(targets)} targets (give one dict per image, empty where it has none)")
    out = []
    for i, t in enumerate(targets):
        if not isinstance(t, Mapping):
            raise TypeError(f"targets of image {i}: expected a dict, got {type(t).__name__}")
        unknown = sorted(set(t) - set(_TARGET_KEYS))
        if unknown:
            raise ValueError(f"targets of image {i}: unknown key {unknown[0]!r} (allowed: {', '.join(_TARGET_KEYS)})")
        d: dict[str, Any] = {}
        masks = t.get("masks")
        if masks is not None:
            if masks_as_paths:
                if isinstance(masks, (str, os.PathLike)):
                    masks = [masks]
                d["masks"] = [os.fspath(m) for m in masks]
            else:
                if isinstance(masks, np.ndarray) and masks.ndim == 2:
                    masks = [masks]
                d["masks"] = [_mask_array(i, k, m) for k, m in enumerate(masks)]
        boxes = t.get("boxes")
        if boxes is not None:
            b = np.asarray(boxes, dtype=np.float64)
            if b.size == 0:
                b = b.reshape(0, 4)
            if b.ndim != 2 or b.shape[1] != 4:
                raise ValueError(f"targets of image {i}: `boxes`: expected N x 4, got shape {b.shape}")
            d["boxes"] = np.ascontiguousarray(b)
            labels = t.get("box_labels")
            if labels is not None:
                lab = np.asarray(labels).reshape(-1)
                if lab.size and (not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0):
                    raise ValueError(f"targets of image {i}: `box_labels`: expected non-negative integer classes")
                d["box_labels"] = np.ascontiguousarray(lab, dtype=np.uint32)
        for k in ("box_format", "normalized"):
            if t.get(k) is not None:
                d[k] = t[k]
        if t.get("box_labels") is not None and boxes is None:
            d["box_labels"] = t["box_labels"]  # refused by the engine: labels without boxes
        kp = t.get("keypoints")
        if kp is not None:
            k = np.asarray(kp, dtype=np.float64)
            if k.size == 0:
                k = k.reshape(0, 3)
            if k.ndim != 2 or k.shape[1] not in (2, 3):
                raise ValueError(f"targets of image {i}: `keypoints`: expected K x 2 or K x 3, got shape {k.shape}")
            if k.shape[1] == 2:  # no visibility column: every point visible (COCO's 2)
                k = np.concatenate([k, np.full((k.shape[0], 1), 2.0)], axis=1)
            d["keypoints"] = np.ascontiguousarray(k)
        out.append(d)
    return out


def _target_options_arg(options: Mapping[str, Any] | None) -> str | None:
    return None if options is None else json.dumps(dict(options))


class Augmenter:
    """A pipeline bound to a backend (``"auto"``: the GPU when an adapter
    exists, else the CPU; ``"gpu"``; ``"cpu"``)."""

    def __init__(self, pipeline: Pipeline | Mapping[str, Any] | PathLike, backend: str = "auto") -> None:
        self.pipeline: Pipeline = as_pipeline(pipeline)
        self._native = _native.Augmenter(self.pipeline._native, backend)

    @property
    def backend(self) -> str:
        """``"gpu"`` or ``"cpu"``."""
        return self._native.backend

    @property
    def backend_name(self) -> str:
        """The backend in words (the adapter's name on the GPU)."""
        return self._native.backend_name

    def __call__(
        self,
        images: Sequence[np.ndarray | PathLike],
        *,
        seed: int = 0,
        epoch: int = 0,
        first_index: int = 0,
        indices: Sequence[int] | None = None,
        labels: Sequence[int] | np.ndarray | None = None,
        num_classes: int | None = None,
        targets: Sequence[Mapping[str, Any]] | None = None,
        target_options: Mapping[str, Any] | None = None,
        strength: Sequence[float] | np.ndarray | None = None,
        p_scale: Sequence[float] | np.ndarray | None = None,
        skip: Sequence[bool] | np.ndarray | None = None,
        policy_ops: Sequence[Sequence[str]] | None = None,
        policy_weights: Sequence[Sequence[float]] | np.ndarray | None = None,
    ) -> Batch:
        """Augments a batch of images of any sizes.

        Per-sample overrides (arrays of length N, one entry per image; see
        the README's "Overrides"): ``strength`` in [0, 1] moves every random
        op's range toward its identity (0: no augmentation, 1: the file's
        ranges), ``p_scale`` in [0, 1] multiplies every probability, ``skip``
        (bool) gives a sample no random op, ``policy_ops`` lists each
        sample's RandAugment / TrivialAugmentWide ops by name ("Rotate",
        "Equalize"...), ``policy_weights`` (N x 14) weighs the policy's
        choice. Each record holds its sample's overrides.

        ``images``: H x W x 3 uint8 arrays or image file paths. Source ``i``
        has global sample index ``first_index + i`` (or ``indices[i]``); its
        result depends only on (seed, epoch, that index). ``labels``: one
        class index per image, or an images x C array of soft rows; they come
        back as ``Batch.labels`` (N x C, mixed like the images). The GIL is
        released while the engine decodes and augments.

        ``targets``: one dict per image with any of ``masks`` (a list of
        H x W label maps of the image's size, uint8 or uint16), ``boxes``
        (N x 4) with ``box_format`` (``"xyxy"``, ``"xywh"``, ``"cxcywh"``),
        ``normalized`` and ``box_labels`` (N classes), and ``keypoints``
        (K x 3: x, y, visibility; or K x 2, all visible). They come back as
        ``Batch.targets``, one dict per output sample, moved with exactly
        the geometry its image got. ``target_options``: the keys of a
        pipeline file's ``[targets]`` table (``ignore_index``,
        ``min_visibility``, ``min_area``, ``num_keypoints``, ``flip_pairs``,
        ``num_classes``); the pipeline's table when omitted.
        """
        imgs = _images_arg(images)
        n = len(imgs)
        idx = _indices_arg(n, first_index, indices)
        classes = soft = None
        if labels is not None:
            lab = np.asarray(labels)
            if lab.ndim == 1:
                if not np.issubdtype(lab.dtype, np.integer):
                    raise ValueError("labels: class indices must be integers (or give N x C soft rows)")
                if lab.size and lab.min() < 0:
                    raise ValueError("labels: class indices must be >= 0")
                classes = [int(c) for c in lab]
            elif lab.ndim == 2:
                soft = np.ascontiguousarray(lab, dtype=np.float32)
            else:
                raise ValueError(f"labels: expected N class indices or N x C rows, got shape {lab.shape}")
        tgt = None if targets is None else _targets_arg(targets, n, masks_as_paths=False)
        return self._native.run(
            imgs, idx, int(seed), int(epoch), classes, soft, num_classes, tgt, _target_options_arg(target_options),
            *_overrides_args(n, strength, p_scale, skip, policy_ops, policy_weights),
        )

    def __repr__(self) -> str:
        return f"Augmenter({self.pipeline!r}, backend={self.backend!r})"


class ViewAugmenter:
    """Named views (a pipeline file with ``[[views]]`` tables, e.g.
    ``examples/pipelines/dino_multicrop.toml``) bound to a backend. A call
    returns a dict, in file order, view name -> ``(images, records)``:
    ``images`` is images x count x (H, W, 3 | 3, H, W), ``records`` one dict
    per output (image-major, each with ``view_name``)."""

    def __init__(self, path_or_toml: PathLike, backend: str = "auto") -> None:
        text = str(path_or_toml)
        if "[[views]]" not in text:
            with open(path_or_toml, encoding="utf-8") as f:
                text = f.read()
        self._native = _native.ViewAugmenter(text, backend)

    @property
    def backend(self) -> str:
        """``"gpu"`` or ``"cpu"``."""
        return self._native.backend

    @property
    def views(self) -> list[tuple[str, int, tuple[int, int], str]]:
        """(name, count, (height, width), format) of every view."""
        return self._native.views

    def __call__(
        self,
        images: Sequence[np.ndarray | PathLike],
        *,
        seed: int = 0,
        epoch: int = 0,
        first_index: int = 0,
        indices: Sequence[int] | None = None,
        labels: Sequence[int] | None = None,
        num_classes: int | None = None,
    ) -> dict[str, tuple[np.ndarray, list[dict[str, Any]]]]:
        """Augments a batch of images through every view (sample indices as
        :class:`Augmenter`; a view's results depend on (seed, epoch, index,
        its name) only)."""
        imgs = _images_arg(images)
        n = len(imgs)
        idx = _indices_arg(n, first_index, indices)
        classes = None if labels is None else [int(c) for c in labels]
        out = {}
        for name, batch in self._native.run(imgs, idx, int(seed), int(epoch), classes, num_classes):
            arr = batch.images
            count = len(batch) // max(n, 1)
            out[name] = (arr.reshape((n, count) + arr.shape[1:]), batch.records)
        return out

    def __repr__(self) -> str:
        return f"ViewAugmenter(views={self.views!r}, backend={self.backend!r})"


def _env_int(name: str) -> int | None:
    v = os.environ.get(name)
    if v is None or v.strip() == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise ValueError(f"environment variable {name}={v!r} is not an integer") from None


def _in_dataloader_worker() -> bool:
    # Only look when torch is already imported (never import it from here).
    t = sys.modules.get("torch.utils.data")
    if t is None:
        return False
    try:
        return t.get_worker_info() is not None
    except Exception:  # pragma: no cover - a torch without get_worker_info
        return False


def _overrides_args(
    n: int,
    strength: Any,
    p_scale: Any,
    skip: Any,
    policy_ops: Any,
    policy_weights: Any,
) -> tuple[Any, Any, Any, Any, Any]:
    """Per-sample overrides as the native layer takes them (lists): arrays
    of length ``n`` (lengths and values are checked there, naming the field)."""

    def floats(name: str, v: Any) -> list[float] | None:
        if v is None:
            return None
        a = np.asarray(v, dtype=np.float64)
        if a.ndim != 1:
            raise ValueError(f"{name}: expected a 1-d array of length {n}, got shape {a.shape}")
        return [float(x) for x in a]

    skip_list = None
    if skip is not None:
        s = np.asarray(skip)
        if s.ndim != 1 or not (s.dtype == np.bool_ or np.issubdtype(s.dtype, np.integer)):
            raise ValueError(f"skip: expected a 1-d bool array of length {n}, got {s.dtype} of shape {s.shape}")
        skip_list = [bool(x) for x in s]
    weights = None
    if policy_weights is not None:
        w = np.asarray(policy_weights, dtype=np.float64)
        if w.ndim != 2:
            raise ValueError(f"policy_weights: expected an N x 14 array, got shape {w.shape}")
        weights = [[float(x) for x in row] for row in w]
    ops = None if policy_ops is None else [[str(o) for o in row] for row in policy_ops]
    return floats("strength", strength), floats("p_scale", p_scale), skip_list, ops, weights


_WORKER_MSG = (
    "gpu_augment.Loader is running inside a torch DataLoader worker process (or a forked "
    "child). It decodes and augments on its own threads already: iterate it directly in "
    "the training process, not through DataLoader(num_workers > 0), which only adds copies, "
    "duplicates work across workers and breaks its sharding and resume."
)


class Loader:
    """Batches of augmented images from files, epoch after epoch.

    ``root_or_list``: an ImageFolder root (``root/class_name/image.jpg``;
    classes are the sorted folder names; a folder without class folders gives
    unlabelled items), or a list of ``(path, label)`` pairs (or plain paths).
    The dataset index of an item is its position in that (sorted) list, and a
    sample's augmentation is keyed on (seed, epoch, dataset index), so
    shuffling, sharding, batch size, resuming and the backend never change it.

    ``rank`` / ``world_size`` default to the ``RANK`` / ``WORLD_SIZE``
    environment variables (torchrun, Slurm launchers, Kubernetes operators),
    else 0 / 1; sharding is ``DistributedSampler``'s (``shard_tail="pad"``
    wraps round so every rank gets the same count, ``"drop"`` drops the
    tail, ``"uneven"`` gives every item exactly once).

    Iterating gives one epoch of :class:`Batch` es; the epoch advances by
    itself after each full pass (or set it with :meth:`set_epoch`).
    :meth:`state_dict` / :meth:`load_state_dict` resume mid-epoch, byte for
    byte as if uninterrupted. Unreadable or corrupt files are skipped:
    ``Batch.skipped`` and :attr:`skipped` list them with the reason.

    Do not wrap it in a torch ``DataLoader`` with worker processes.
    """

    def __init__(
        self,
        root_or_list: PathLike | Sequence[tuple[PathLike, int]] | Sequence[PathLike],
        pipeline: Pipeline | Mapping[str, Any] | PathLike,
        *,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        shard_tail: str = "pad",
        backend: str = "auto",
        decode_threads: int | None = None,
        prefetch: int = 4,
        devices: int = 1,
        augment_threads: int | None = None,
        num_classes: int | None = None,
        targets: Sequence[Mapping[str, Any]] | None = None,
        target_options: Mapping[str, Any] | None = None,
    ) -> None:
        if _in_dataloader_worker():
            warnings.warn(_WORKER_MSG, DataLoaderWorkerWarning, stacklevel=2)
        self.pipeline: Pipeline = as_pipeline(pipeline)
        if rank is None:
            rank = _env_int("RANK")
        if world_size is None:
            world_size = _env_int("WORLD_SIZE")
        self.rank: int = 0 if rank is None else int(rank)
        self.world_size: int = 1 if world_size is None else int(world_size)
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is not in [0, world_size = {self.world_size})")
        if int(batch_size) < 1:
            raise ValueError("batch_size must be at least 1")
        root = paths = labels = None
        if isinstance(root_or_list, (str, os.PathLike)):
            root = os.fspath(root_or_list)
        else:
            items = list(root_or_list)
            paths, labels = [], []
            for it in items:
                if isinstance(it, (str, os.PathLike)):
                    paths.append(os.fspath(it))
                    labels.append(None)
                else:
                    p, lab = it
                    paths.append(os.fspath(p))
                    labels.append(int(lab))
            if any(lab is None for lab in labels):
                if not all(lab is None for lab in labels):
                    raise ValueError("give every item a label, or none")
                labels = None
        self.batch_size: int = int(batch_size)
        self.seed: int = int(seed)
        self.shuffle: bool = bool(shuffle)
        self._native = _native.Loader(
            root,
            paths,
            labels,
            self.pipeline._native,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            seed=self.seed,
            drop_last=bool(drop_last),
            rank=self.rank,
            world_size=self.world_size,
            shard_tail=shard_tail,
            backend=backend,
            decode_threads=decode_threads,
            augment_threads=augment_threads,
            prefetch=int(prefetch),
            devices=int(devices),
            num_classes=num_classes,
            targets=None if targets is None else _targets_arg(targets, len(targets), masks_as_paths=True),
            target_options=_target_options_arg(target_options),
        )
        self._pid = os.getpid()
        self._epoch = 0
        self._batch = 0

    def __len__(self) -> int:
        """Batches in this rank's epoch (the same on every rank)."""
        return len(self._native)

    def __iter__(self) -> Iterator[Batch]:
        if os.getpid() != self._pid or _in_dataloader_worker():
            warnings.warn(_WORKER_MSG, DataLoaderWorkerWarning, stacklevel=2)
        epoch, start = self._epoch, self._batch
        it = self._native.epoch(epoch, start)
        try:
            for b in it:
                # Before the yield: a state_dict taken while the consumer holds
                # this batch resumes after it.
                self._batch = b.index + 1
                yield b
            self._epoch, self._batch = epoch + 1, 0
        finally:
            it.close()

    @property
    def epoch(self) -> int:
        """The epoch the next iteration runs (or is running)."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch of the next iteration (``DistributedSampler``'s
        convention). Setting the epoch a loaded state is in keeps its
        mid-epoch position."""
        epoch = int(epoch)
        if epoch != self._epoch:
            self._epoch, self._batch = epoch, 0

    def state_dict(self) -> dict[str, Any]:
        """Where the loader is: the epoch and the next batch (torchdata
        ``StatefulDataLoader``'s convention), plus what must match on resume."""
        epoch, batch = self._epoch, self._batch
        if batch >= len(self):
            epoch, batch = epoch + 1, 0
        return {
            "epoch": epoch,
            "batch": batch,
            "seed": self.seed,
            "shuffle": self.shuffle,
            "batch_size": self.batch_size,
            "rank": self.rank,
            "world_size": self.world_size,
            "dataset_len": self._native.dataset_len,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continues from ``state``: the next iteration yields the rest of
        that epoch, byte for byte as an uninterrupted run would. The seed,
        batch size, sharding and dataset must be the same."""
        for k in ("seed", "shuffle", "batch_size", "world_size", "dataset_len"):
            mine = self.state_dict()[k]
            if k in state and state[k] != mine:
                raise ValueError(
                    f"load_state_dict: {k} = {state[k]!r} in the state but {mine!r} here "
                    "(the batches would differ)"
                )
        self._epoch, self._batch = int(state["epoch"]), int(state["batch"])

    def set_overrides(
        self,
        *,
        strength: Sequence[float] | np.ndarray | None = None,
        p_scale: Sequence[float] | np.ndarray | None = None,
        skip: Sequence[bool] | np.ndarray | None = None,
        policy_ops: Sequence[Sequence[str]] | None = None,
        policy_weights: Sequence[Sequence[float]] | np.ndarray | None = None,
    ) -> None:
        """Per-sample overrides for the epochs that start after this call: a
        table with one entry per dataset item (arrays of length
        :attr:`dataset_len`, indexed by dataset index, whatever the shuffle
        and the shard), the same fields as :class:`Augmenter`'s call
        (``strength``, ``p_scale``, ``skip``, ``policy_ops``,
        ``policy_weights``). Each batch takes its items' entries; the records
        hold them, so a record replays exactly. An epoch already being
        iterated keeps the table it started with. No arguments: no overrides
        (the file's ranges). Lengths and values are checked here: a wrong one
        is a ``ValueError`` naming the field, the item and the value."""
        self._native.set_overrides(
            *_overrides_args(self.dataset_len, strength, p_scale, skip, policy_ops, policy_weights)
        )

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """Every file skipped so far (unreadable or corrupt): (path, reason)."""
        return self._native.skipped_files()

    @property
    def classes(self) -> list[str]:
        """Class names (ImageFolder: the sorted folder names)."""
        return self._native.classes

    @property
    def dataset_len(self) -> int:
        """Items in the dataset (all ranks)."""
        return self._native.dataset_len

    @property
    def backend(self) -> str:
        """``"gpu"`` or ``"cpu"``."""
        return self._native.backend

    @property
    def backend_name(self) -> str:
        """The backend in words."""
        return self._native.backend_name

    def plan(self, epoch: int | None = None) -> list[list[int]]:
        """This rank's batches of ``epoch`` (default: the current one) as
        dataset indices, before decoding."""
        return self._native.plan(self._epoch if epoch is None else int(epoch))

    def path(self, index: int) -> str | None:
        """The file of dataset item ``index``."""
        p = self._native.path(int(index))
        return None if p is None else os.fspath(p)

    def stats(self) -> dict[str, float]:
        """Cumulative counters: images decoded, files skipped, busy seconds."""
        return self._native.stats()

    def __getstate__(self) -> Any:
        raise TypeError(
            "gpu_augment.Loader cannot be pickled: it owns decode and augment threads. "
            "Iterate it in the training process instead of passing it to DataLoader workers."
        )

    def __repr__(self) -> str:
        return (
            f"Loader({self.dataset_len} items, batch_size={self.batch_size}, rank={self.rank}/"
            f"{self.world_size}, epoch={self._epoch}, backend={self.backend!r})"
        )
