"""Type stubs of the compiled module ``gpu_augment._native`` (python/src/lib.rs).

Use the wrappers in ``gpu_augment`` rather than these classes directly;
:class:`Batch` is the one type both share.
"""

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

class Pipeline:
    @staticmethod
    def from_file(path: str) -> Pipeline: ...
    @staticmethod
    def from_toml(text: str) -> Pipeline: ...
    @staticmethod
    def from_json(text: str) -> Pipeline: ...
    @property
    def size(self) -> tuple[int, int]: ...
    @property
    def format(self) -> str: ...
    @property
    def views(self) -> int: ...
    @property
    def channels(self) -> int: ...
    @property
    def mix_classes(self) -> int | None: ...
    @property
    def num_ops(self) -> int: ...
    @property
    def target_options(self) -> str: ...
    def normalization(self) -> tuple[list[float], list[float]]: ...

class Batch:
    """One augmented batch. Every array owns the engine's buffer (no copy)."""

    @property
    def images(self) -> npt.NDArray[np.uint8] | npt.NDArray[np.float32] | npt.NDArray[np.float16]:
        """uint8 [N, H, W, 3] (``u8_hwc``), float32 [N, 3, H, W] (``f32_chw``),
        uint8 [N, 3, H, W] (``u8_chw``) or float16 [N, 3, H, W] (``f16_chw``);
        N = sources x views."""
    @property
    def labels(self) -> npt.NDArray[np.float32] | None:
        """float32 [N, C] soft labels (rows sum to 1, mixed like the images), or None."""
    @property
    def indices(self) -> npt.NDArray[np.uint64]:
        """Per source image: its global sample index (Augmenter) or dataset index (Loader)."""
    @property
    def classes(self) -> npt.NDArray[np.int64] | None:
        """Loader batches of a labelled dataset: each output sample's class."""
    @property
    def records(self) -> list[dict[str, Any]]:
        """Per output sample, what it drew (params.jsonl's content without the file)."""
    @property
    def gpu_stats(self) -> dict[str, int] | None:
        """GPU counters (dispatches, submits, chunks, bytes_up, bytes_down, *_ns); None on the CPU."""
    @property
    def buffer_address(self) -> int:
        """Address of the engine's output buffer (equals ``images.ctypes.data``)."""
    @property
    def epoch(self) -> int | None:
        """The loader's epoch (None from an Augmenter)."""
    @property
    def index(self) -> int | None:
        """The batch's position in this rank's epoch (None from an Augmenter)."""
    @property
    def skipped(self) -> list[tuple[str, str]]:
        """Files of this batch that could not be decoded: (path, reason)."""
    @property
    def views(self) -> int: ...
    @property
    def targets(self) -> list[dict[str, Any]] | None:
        """Per output sample, its transformed targets when targets were given:
        ``masks`` (list of H x W arrays), ``boxes`` (N x 4 float64, the input's
        format) with ``box_labels``, ``box_origin`` (N x 2: output sample,
        input box), ``box_format`` and ``normalized``; ``keypoints`` (K x 3
        float64); ``forward_error`` (pixels); ``weight`` (mixup)."""
    def __len__(self) -> int: ...

class Augmenter:
    def __init__(self, pipeline: Pipeline, backend: str = "auto") -> None: ...
    @property
    def backend(self) -> str: ...
    @property
    def backend_name(self) -> str: ...
    def run(
        self,
        images: Sequence[Any],
        indices: Sequence[int],
        seed: int,
        epoch: int,
        classes: Sequence[int] | None = None,
        soft: npt.NDArray[np.float32] | None = None,
        num_classes: int | None = None,
        targets: Sequence[dict[str, Any]] | None = None,
        target_options: str | None = None,
        strength: Sequence[float] | None = None,
        p_scale: Sequence[float] | None = None,
        skip: Sequence[bool] | None = None,
        policy_ops: Sequence[Sequence[str]] | None = None,
        policy_weights: Sequence[Sequence[float]] | None = None,
    ) -> Batch: ...

class ViewAugmenter:
    def __init__(self, text: str, backend: str = "auto") -> None: ...
    @property
    def backend(self) -> str: ...
    @property
    def views(self) -> list[tuple[str, int, tuple[int, int], str]]: ...
    def run(
        self,
        images: Sequence[Any],
        indices: Sequence[int],
        seed: int,
        epoch: int,
        classes: Sequence[int] | None = None,
        num_classes: int | None = None,
    ) -> list[tuple[str, Batch]]: ...

class EpochIter(Iterator[Batch]):
    def __iter__(self) -> EpochIter: ...
    def __next__(self) -> Batch: ...
    def remaining(self) -> int: ...
    def close(self) -> None: ...

class Loader:
    def __init__(
        self,
        root: str | None,
        paths: Sequence[str] | None,
        labels: Sequence[int] | None,
        pipeline: Pipeline,
        *,
        batch_size: int,
        shuffle: bool,
        seed: int,
        drop_last: bool,
        rank: int,
        world_size: int,
        shard_tail: str,
        backend: str,
        decode_threads: int | None,
        augment_threads: int | None,
        prefetch: int,
        devices: int,
        num_classes: int | None,
        targets: Sequence[dict[str, Any]] | None = None,
        target_options: str | None = None,
        ) -> None: ...
    def set_overrides(
        self,
        strength: Sequence[float] | None,
        p_scale: Sequence[float] | None,
        skip: Sequence[bool] | None,
        policy_ops: Sequence[Sequence[str]] | None,
        policy_weights: Sequence[Sequence[float]] | None,
    ) -> None: ...
    def __len__(self) -> int: ...
    def epoch(self, epoch: int, start: int = 0) -> EpochIter: ...
    def plan(self, epoch: int) -> list[list[int]]: ...
    @property
    def dataset_len(self) -> int: ...
    def path(self, i: int) -> str | None: ...
    @property
    def classes(self) -> list[str]: ...
    @property
    def backend(self) -> str: ...
    @property
    def backend_name(self) -> str: ...
    def skipped_files(self) -> list[tuple[str, str]]: ...
    def stats(self) -> dict[str, float]: ...
