"""gpu_augment for JAX: :class:`Loader` yields ``(images, targets)`` as JAX
arrays, ``jax.device_put`` of the engine's numpy buffers (on the CPU backend
of JAX this can share the buffer; on an accelerator it is the host-to-device
copy). Everything else is :class:`gpu_augment.Loader`'s: sharding by
``RANK`` / ``WORLD_SIZE`` (or pass ``rank=jax.process_index()``,
``world_size=jax.process_count()``), ``state_dict``, skipped files.

Targets: soft N x C rows when the pipeline mixes, else the int32 class of
each sample (the dataset indices without labels).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from . import Loader as _Loader, PathLike, Pipeline

__all__ = ["Loader"]


class Loader:
    """:class:`gpu_augment.Loader` yielding JAX arrays, put on ``device``
    (default: JAX's default device)."""

    def __init__(
        self,
        root_or_list: PathLike | Sequence[Any],
        pipeline: Pipeline | Mapping[str, Any] | PathLike,
        *,
        batch_size: int,
        device: Any = None,
        **kwargs: Any,
    ) -> None:
        self.loader = _Loader(root_or_list, pipeline, batch_size=batch_size, **kwargs)
        self.device = device

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[jax.Array, jax.Array]]:
        mixes = self.loader.pipeline.mix_classes is not None
        for b in self.loader:
            if mixes and b.labels is not None:
                t = b.labels
            elif b.classes is not None:
                t = b.classes.astype(np.int32)
            else:
                t = np.repeat(b.indices.astype(np.int32), b.views)
            yield jax.device_put(b.images, self.device), jax.device_put(t, self.device)

    def set_epoch(self, epoch: int) -> None:
        self.loader.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        return self.loader.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.loader.load_state_dict(state)
