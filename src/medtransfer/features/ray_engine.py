"""``medtransfer extract --engine ray``: features computed by a pool of Ray Data actors.

The rows still missing from the feature store go through ``Dataset.map_batches`` to a fixed
pool of :class:`BatchFeaturizer` actors (``ActorPoolStrategy(size=n)``, one CPU each; by
default one actor per CPU of the cluster). Each actor builds its model once, after checking
that its weights file has the sha256 the driver found, and runs the in-process engine
``auto`` (ONNX Runtime when the worker has it, else eager torch) on one intra-op thread. The
driver writes the features that stream back, batch by batch, into the same
:class:`~medtransfer.features.store.FeatureStore` every engine writes, so its format, index
and resumption are unchanged. Image paths must be readable under the same name on every node
(a shared file system); image arrays travel through Ray's object store. The driver joins the
cluster this process already initialised or the one at ``$RAY_ADDRESS``, else it starts a
local one for the run and shuts it down after.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from medtransfer.errors import ArtifactError, MedTransferError
from medtransfer.features.backbones import backbone_config, weights_fingerprint
from medtransfer.features.engine import RAY, available_cpus
from medtransfer.features.extract import ImageDataset, ImageItem, feature_function, tracked
from medtransfer.params import ParameterError

WORKER_NICENESS = "RAY_worker_niceness"  # Ray's setting of its workers' niceness (default 15)


def require_ray() -> ModuleType:
    """The ``ray`` module with Ray Data loaded; a ParameterError naming the extra if absent."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ParameterError("extract_to_store", "engine", RAY, lambda style: (
            "needs Ray Data; run `pip install 'medtransfer[ray]'` or use "
            f"{style.setting('engine', 'auto')}")) from None
    return ray


class BatchFeaturizer:
    """One actor's model: built once, then applied to every batch Ray Data sends the actor.

    Parameters
    ----------
    backbone : str
        Registered backbone name or ``timm:<architecture>``.
    weights : str or None
        Default weights (None), a ``.safetensors`` file, or ``"random"``.
    weights_sha : str
        The sha256 the driver found for ``weights``; an actor whose file differs refuses.
    size : int
        Side the images are resized to.

    Raises
    ------
    ArtifactError
        From the first batch, if the worker's weights are not the driver's (and so any
        MedTransferError of the setup).
    """

    def __init__(self, backbone: str, weights: str | None, weights_sha: str, size: int) -> None:
        torch.set_num_threads(1)  # one actor per CPU: more threads per actor only contend
        self.size = size
        self.setup_error: MedTransferError | None = None
        try:
            self.config = backbone_config(backbone)
            path, found = weights_fingerprint(self.config, weights)
            if found != weights_sha:
                raise ArtifactError(
                    f"weights {str(path or weights)!r} on {socket.gethostname()} have sha256 "
                    f"{found[:16]}..., the driver's {weights_sha[:16]}...; every node must hold "
                    "the same file")
            self.features = feature_function(backbone, self.config, weights, weights_sha,
                                             torch.device("cpu"), "auto")
        except MedTransferError as error:
            # Ray keeps the exception a batch raises (RayTaskError.cause) but only the text of
            # one raised here, so the first batch raises it
            self.setup_error = error

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``{"digest", "features"}`` of a batch of ``{"digest", "item"}`` rows."""
        if self.setup_error is not None:
            raise self.setup_error
        dataset = ImageDataset(list(batch["item"]), self.config, self.size)
        pixels = torch.stack([dataset[i] for i in range(len(dataset))])
        rows = self.features(pixels).astype(np.float32, copy=False)
        return {"digest": batch["digest"], "features": rows}


def ray_feature_rows(
    pending: Sequence[tuple[str, ImageItem]],
    backbone: str,
    *,
    weights: str | Path | None,
    weights_sha: str,
    size: int,
    batch_size: int,
    workers: int | None,
    progress: bool,
    label: str,
) -> Iterator[tuple[list[str], np.ndarray]]:
    """Yield ``(digests, float32 features)`` of ``pending`` (digest, image) pairs per batch.

    Batches come in the order the actors finish them, not the order of ``pending``.

    Parameters
    ----------
    workers : int or None
        Actors in the pool; None for one per CPU of the cluster.

    Raises
    ------
    MedTransferError
        What an actor raised on its input (an unreadable image, other weights), re-raised
        here with Ray's retry advice taken off its message.
    """
    ray = require_ray()
    with ray_cluster(ray), _ray_data_settings(ray):
        pool = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        dataset = ray.data.from_items(
            [{"digest": digest, "item": _portable(item)} for digest, item in pending])
        computed = dataset.map_batches(
            BatchFeaturizer,
            fn_constructor_args=(backbone, None if weights is None else str(weights),
                                 weights_sha, size),
            batch_size=batch_size, batch_format="numpy", num_cpus=1,
            compute=ray.data.ActorPoolStrategy(size=pool),
        )
        batches = computed.iter_batches(batch_size=batch_size, batch_format="numpy")
        try:
            for batch in tracked(batches, total=len(pending), label=label, progress=progress,
                                 rows=lambda b: len(b["digest"])):
                yield [str(d) for d in batch["digest"]], batch["features"]
        except ray.exceptions.RayTaskError as error:
            raise _user_error(error) from None


def _portable(item: ImageItem) -> str | np.ndarray:
    # a path as text: Arrow stores it as a string column, where a Path would be pickled
    return item if isinstance(item, np.ndarray) else str(item)


def _user_error(error: Exception) -> Exception:
    """The MedTransferError an actor raised, else ``error`` itself (a bug, with its trace)."""
    cause = getattr(error, "cause", None)
    if not isinstance(cause, MedTransferError):
        return error
    # Ray Data appends its retry advice to the first argument; our messages are one line
    cause.args = (str(cause.args[0]).split("\n", 1)[0], *cause.args[1:])
    return cause


@contextmanager
def ray_cluster(ray: ModuleType) -> Iterator[None]:
    """Inside the block, this process's Ray cluster, ``$RAY_ADDRESS``'s, or a local one.

    A local cluster's workers run at the driver's priority (unless ``$RAY_worker_niceness``
    says otherwise): Ray's default lowers them by 15 nice levels, which on a busy machine
    leaves the actors a fraction of the CPU the in-process engine gets for the same work.
    """
    if ray.is_initialized():
        yield
        return
    if os.environ.get("RAY_ADDRESS"):  # joining a cluster must not pass its size
        ray.init(logging_level=logging.ERROR, log_to_driver=False)
    else:
        ours = WORKER_NICENESS not in os.environ  # a user's own setting wins
        os.environ.setdefault(WORKER_NICENESS, "0")  # read by the raylet ray.init starts
        try:
            ray.init(logging_level=logging.ERROR, log_to_driver=False,
                     num_cpus=available_cpus(), include_dashboard=False)
        finally:
            if ours:
                del os.environ[WORKER_NICENESS]
    try:
        yield
    finally:
        ray.shutdown()


@contextmanager
def _ray_data_settings(ray: ModuleType) -> Iterator[None]:
    """Our progress bar, not Ray's; actors' errors as raised; no Ray Data log lines on stderr."""
    context = ray.data.DataContext.get_current()
    logger = logging.getLogger("ray.data")
    saved = context.enable_progress_bars, context.raise_original_map_exception, logger.level
    context.enable_progress_bars = False
    context.raise_original_map_exception = True
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        context.enable_progress_bars, context.raise_original_map_exception = saved[:2]
        logger.setLevel(saved[2])
