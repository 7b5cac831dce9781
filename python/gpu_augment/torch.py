"""gpu_augment for PyTorch: :class:`Loader` yields ``(images, targets)``
torch tensors.

``images`` is ``torch.from_numpy`` of the engine's buffer (no copy): uint8
N x H x W x 3 (``u8_hwc``), float32 N x 3 x H x W (``f32_chw``), uint8
N x 3 x H x W (``u8_chw``) or float16 N x 3 x H x W (``f16_chw``: half the
bytes of float32 over the bus, for training in half precision), as the
pipeline's format says. With
``device`` the batch is copied to it (``non_blocking``, from pinned memory
with ``pin_memory=True``); with ``normalize`` a u8 pipeline's batch goes over
as uint8 (a quarter of the bytes of float32) and becomes normalised float32
N x 3 x H x W on the device.

``targets``: ``"auto"`` gives N x C float soft labels when the pipeline mixes
(mixup, cutmix: use a soft-label cross-entropy) and int64 class indices
otherwise; ``"soft"`` always the soft rows; ``"index"`` always the classes.
Without labels in the dataset, targets are the int64 dataset indices.

Iterate it directly in the training process: it decodes and augments on
its own threads, so it needs no ``DataLoader`` worker processes (and warns
when it finds itself inside one).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from . import Batch, Loader as _Loader, Pipeline, PathLike

__all__ = ["Loader", "normalize", "soft_cross_entropy", "targets_to_torch", "to_tensors"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize(
    images: Any,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
) -> torch.Tensor:
    """A uint8 batch (``u8_chw``: N x C x H x W; ``channels_last=True``:
    ``u8_hwc``'s N x H x W x C) as normalised N x C x H x W floats on
    ``device``: ``(x / 255 - mean) / std``, computed there in float32 after
    the uint8 copy (a quarter of float32's bytes over the bus), then cast to
    ``dtype`` (float32 or float16). ``images``: a numpy array or a tensor.
    ``mean`` / ``std``: one value per channel, e.g. a u8_chw pipeline's
    ``pipeline.normalization()`` (its deferred ``normalize``).

    Against the same pipeline's ``f32_chw`` output the result differs only
    by the u8 rounding: at most ``0.5 / 255 / std`` per value (half an LSB,
    plus float32 rounding)."""
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(images))
    if x.dtype != torch.uint8 or x.dim() != 4:
        raise ValueError(f"normalize: expected a 4-d uint8 batch, got {x.dtype} of shape {tuple(x.shape)}")
    if channels_last:
        x = x.permute(0, 3, 1, 2)
    c = x.shape[1]
    if len(mean) != c or len(std) != c:
        raise ValueError(f"normalize: the batch has {c} channel(s) but mean has {len(mean)} and std {len(std)}")
    dev = x.device if device is None else torch.device(device)
    x = x.to(dev, non_blocking=True)
    m = torch.tensor(list(mean), dtype=torch.float32, device=dev).view(1, c, 1, 1)
    s = torch.tensor(list(std), dtype=torch.float32, device=dev).view(1, c, 1, 1)
    return x.float().div_(255.0).sub_(m).div_(s).to(dtype)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against soft targets (N x C rows summing to 1), or class
    indices (int64): what mixup / cutmix pipelines need."""
    if targets.dtype in (torch.int64, torch.int32):
        return torch.nn.functional.cross_entropy(logits, targets.long())
    return torch.sum(-targets * torch.log_softmax(logits, dim=-1), dim=-1).mean()


def to_tensors(
    batch: Batch, targets: str = "auto", mixes: bool | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A :class:`gpu_augment.Batch` as (images, targets) torch tensors, no
    copy. ``mixes``: whether the pipeline mixes (None: read the records)."""
    images = torch.from_numpy(batch.images)
    return images, _targets(batch, targets, mixes)


def _targets(batch: Batch, mode: str, mixes: bool | None) -> torch.Tensor:
    soft = batch.labels
    classes = batch.classes
    if mode == "soft" or (mode == "auto" and soft is not None and classes is None):
        if soft is None:
            raise ValueError("targets='soft' but the batch has no labels")
        return torch.from_numpy(soft)
    if mode == "auto":
        if classes is not None and soft is not None:
            # Mixed labels are soft; unmixed ones are their class.
            if mixes is None:
                mixes = bool(batch.records) and "mix" in batch.records[0]
            return torch.from_numpy(soft) if mixes else torch.from_numpy(classes)
        return torch.from_numpy(np.repeat(batch.indices.astype(np.int64), batch.views))
    if mode == "index":
        if classes is None:
            raise ValueError("targets='index' but the dataset has no labels")
        return torch.from_numpy(classes)
    raise ValueError(f"targets must be 'auto', 'soft' or 'index', got {mode!r}")


def targets_to_torch(batch: Batch, device: torch.device | str | None = None) -> list[dict[str, Any]]:
    """A batch's transformed targets (``Batch.targets``) as torch tensors,
    one dict per output sample in torchvision's detection style: ``masks``
    (M x H x W, uint8 or int32 for 16-bit maps: torch has no uint16 ops),
    ``boxes`` (N x 4 float32, in the input's format), ``labels`` (N int64),
    ``keypoints`` (K x 3 float32), ``weight``; empty list without targets."""
    out: list[dict[str, Any]] = []
    for t in batch.targets or []:
        d: dict[str, Any] = {"weight": float(t["weight"])}
        if t["masks"]:
            m = np.stack(t["masks"])
            d["masks"] = torch.from_numpy(m if m.dtype == np.uint8 else m.astype(np.int32))
        if t["boxes"] is not None:
            d["boxes"] = torch.from_numpy(t["boxes"].astype(np.float32))
            d["labels"] = torch.from_numpy(t["box_labels"])
        if t["keypoints"] is not None:
            d["keypoints"] = torch.from_numpy(t["keypoints"].astype(np.float32))
        if device is not None:
            d = {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in d.items()}
        out.append(d)
    return out


class Loader:
    """:class:`gpu_augment.Loader` yielding ``(images, targets)`` torch tensors.

    Takes every argument of :class:`gpu_augment.Loader`, plus:

    - ``pin_memory``: copy each batch into page-locked memory (only where
      CUDA is available; a warning otherwise), so that ``device`` copies
      are asynchronous.
    - ``device``: move each batch there (``non_blocking=True``).
    - ``normalize``: for ``u8_hwc`` and ``u8_chw`` pipelines, ``True`` (ImageNet's mean
      and std) or ``(mean, std)``, one value per output channel: images
      become float32 N x C x H x W,
      ``(x / 255 - mean) / std``, computed on ``device`` after the uint8 copy.
    - ``targets``: ``"auto"``, ``"soft"`` or ``"index"`` (see the module docs).
    - ``item_targets`` (with ``target_options``): per dataset item, its
      masks (label-map file paths), boxes and keypoints, as
      :class:`gpu_augment.Loader`'s ``targets``; each batch is then
      ``(images, targets, sample_targets)``, ``sample_targets`` one dict per
      output sample in torchvision's detection style (see
      :func:`targets_to_torch`), on ``device``.
    """

    def __init__(
        self,
        root_or_list: PathLike | Sequence[Any],
        pipeline: Pipeline | Mapping[str, Any] | PathLike,
        *,
        batch_size: int,
        pin_memory: bool = False,
        device: torch.device | str | None = None,
        normalize: bool | tuple[Sequence[float], Sequence[float]] | None = None,
        targets: str = "auto",
        item_targets: Sequence[Mapping[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        self.loader = _Loader(root_or_list, pipeline, batch_size=batch_size, targets=item_targets, **kwargs)
        self.has_item_targets = item_targets is not None
        if targets not in ("auto", "soft", "index"):
            raise ValueError(f"targets must be 'auto', 'soft' or 'index', got {targets!r}")
        self.targets = targets
        self.device = None if device is None else torch.device(device)
        self.pin_memory = bool(pin_memory)
        if self.pin_memory and not torch.cuda.is_available():
            warnings.warn(
                "pin_memory=True but no CUDA device is available: batches are not pinned",
                stacklevel=2,
            )
            self.pin_memory = False
        self._norm: tuple[list[float], list[float]] | None = None
        self._hwc = self.loader.pipeline.format == "u8_hwc"
        if normalize:
            if self.loader.pipeline.format not in ("u8_hwc", "u8_chw"):
                raise ValueError(
                    "normalize= is for u8_hwc and u8_chw pipelines (hand over uint8, normalise "
                    f"on the device); this pipeline already outputs {self.loader.pipeline.format}"
                )
            mean, std = (IMAGENET_MEAN, IMAGENET_STD) if normalize is True else normalize
            c = self.loader.pipeline.channels
            for name, v in (("mean", mean), ("std", std)):
                if len(v) != c:
                    raise ValueError(
                        f"normalize=: the pipeline's outputs have {c} channel(s) but {name} has "
                        f"{len(v)} values, got {list(v)!r}"
                        + (" (normalize=True is ImageNet's RGB mean and std: give (mean, std) "
                           "with one value each)" if c == 1 else "")
                    )
            self._norm = (list(map(float, mean)), list(map(float, std)))

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        mixes = self.loader.pipeline.mix_classes is not None
        for b in self.loader:
            images, targets = to_tensors(b, self.targets, mixes)
            if self.pin_memory:
                images, targets = images.pin_memory(), targets.pin_memory()
            if self.device is not None:
                images = images.to(self.device, non_blocking=True)
                targets = targets.to(self.device, non_blocking=True)
            if self._norm is not None:
                images = normalize(images, *self._norm, channels_last=self._hwc)
            if self.has_item_targets:
                yield images, targets, targets_to_torch(b, self.device)
            else:
                yield images, targets

    def set_epoch(self, epoch: int) -> None:
        """See :meth:`gpu_augment.Loader.set_epoch`."""
        self.loader.set_epoch(epoch)

    def set_overrides(self, **overrides: Any) -> None:
        """See :meth:`gpu_augment.Loader.set_overrides`."""
        self.loader.set_overrides(**overrides)

    def state_dict(self) -> dict[str, Any]:
        """See :meth:`gpu_augment.Loader.state_dict`."""
        return self.loader.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """See :meth:`gpu_augment.Loader.load_state_dict`."""
        self.loader.load_state_dict(state)

    @property
    def epoch(self) -> int:
        """The epoch the next iteration runs."""
        return self.loader.epoch

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """Every file skipped so far: (path, reason)."""
        return self.loader.skipped

    @property
    def classes(self) -> list[str]:
        """Class names."""
        return self.loader.classes

    def __getstate__(self) -> Any:
        return self.loader.__getstate__()

    def __repr__(self) -> str:
        return f"gpu_augment.torch.Loader({self.loader!r}, device={self.device})"
