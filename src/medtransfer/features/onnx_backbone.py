"""A frozen backbone exported once to ONNX and run with ONNX Runtime on the CPU.

The export is cached in the user cache under a key of (backbone, weights sha256, torch
version, opset), so each weights file is exported once per machine; at export its output on
a seeded batch must equal eager PyTorch's within :data:`TOLERANCE` (relative to the
features' scale when it exceeds one), or nothing is cached.

Full batches run on a second export with every axis fixed to their shape (batch, channels,
side, side), also cached: ONNX Runtime plans a static graph's memory and kernels once, which
measured 1.35x the dynamic graph's images/s at 64 px and 1.3x at 128 px (batch 64, one
thread; fixing the spatial axes alone gave nothing). The last, shorter batch runs on the
dynamic export.
"""

from __future__ import annotations

import functools
import hashlib
import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medtransfer.artifacts import write_bytes
from medtransfer.errors import ArtifactError
from medtransfer.features.backbones import Backbone, BackboneConfig
from medtransfer.features.cache import user_cache_dir

OPSET = 17
TOLERANCE = 1e-4
CHECK_SIZE = 64


Shape = tuple[int, int, int, int]


def onnx_path(config: BackboneConfig, weights_sha256: str, root: Path | None = None,
              shape: Shape | None = None) -> Path:
    """Where the ONNX export of a backbone's weights lives in the cache (it may not exist):
    the dynamic export, or with ``shape`` the one fixed to that (batch, C, H, W)."""
    payload = f"{config.name}:{weights_sha256}:{torch.__version__}:{OPSET}"
    if shape is not None:
        payload += ":" + "x".join(map(str, shape))
    key = hashlib.sha256(payload.encode()).hexdigest()[:24]
    safe_name = config.name.replace(":", "-").replace("/", "-")
    return (root or user_cache_dir()) / "onnx" / f"{safe_name}-{key}.onnx"


def export_onnx(backbone: Backbone, path: Path, shape: Shape | None = None) -> Path:
    """Export ``backbone`` to ``path``, checked against eager on a seeded batch.

    Without ``shape`` the batch and image sides are dynamic (checked at 2 x
    :data:`CHECK_SIZE` px); with it every axis is fixed to ``shape`` (checked on it).

    Raises
    ------
    ArtifactError
        If ONNX Runtime's features differ from eager PyTorch's by more than ``TOLERANCE``.
    """
    model = backbone.cpu().eval()
    generator = torch.Generator().manual_seed(0)
    size = shape or (2, backbone.config.in_chans, CHECK_SIZE, CHECK_SIZE)
    sample = torch.randn(*size, generator=generator)
    dynamic = None if shape else {"pixels": {0: "batch", 2: "height", 3: "width"},
                                  "features": {0: "batch"}}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes
        torch.onnx.export(
            model, (sample,), buffer, input_names=["pixels"], output_names=["features"],
            dynamic_axes=dynamic, opset_version=OPSET, dynamo=False,
        )
    data = buffer.getvalue()
    with torch.inference_mode():
        expected = model(sample).numpy()
    found = _session(data, threads=1).run(None, {"pixels": sample.numpy()})[0]
    # 1e-4 absolute on features of order one; relative to their scale when they are larger
    error = float(np.abs(found - expected).max()) / max(1.0, float(np.abs(expected).max()))
    if not error <= TOLERANCE:
        raise ArtifactError(
            f"the ONNX export of {backbone.config.name!r} differs from eager PyTorch by "
            f"{error:.2e} (> {TOLERANCE:g}); use --engine torch for this backbone"
        )
    write_bytes(path, data)
    return path


class OnnxBackbone:
    """Features of a normalised NCHW float32 batch, computed by ONNX Runtime.

    Parameters
    ----------
    config : BackboneConfig
    weights_sha256 : str
        The weights' fingerprint, which names the cached export.
    build : callable
        ``build() -> Backbone``: the eager backbone, built only when an export is missing.
    threads : int
        Intra-op threads of the session (``torch.get_num_threads()`` keeps both engines equal).
    batch_size : int, optional
        Batches of exactly this many images run on an export fixed to their shape (exported
        at the first such batch); other batches, and all of them without it, on the dynamic
        export.
    """

    def __init__(
        self,
        config: BackboneConfig,
        weights_sha256: str,
        build: Callable[[], Backbone],
        threads: int,
        batch_size: int | None = None,
    ) -> None:
        self.config = config
        self.batch_size = batch_size
        self._key = (weights_sha256, build, threads)
        self._built: Backbone | None = None
        self.session = self._session(None)
        self._static: dict[Shape, Any] = {}

    def _session(self, shape: Shape | None):
        sha, build, threads = self._key
        path = onnx_path(self.config, sha, shape=shape)
        if not path.is_file():
            self._built = self._built or build()
            export_onnx(self._built, path, shape)
        return _cached_session(str(path), path.stat().st_mtime_ns, threads)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """(batch, feature_dim) float32 features of (batch, C, H, W) float32 pixels."""
        shape = tuple(pixels.shape)
        session = self.session
        if shape[0] == self.batch_size:
            if shape not in self._static:
                try:
                    self._static[shape] = self._session(shape)
                except ArtifactError as error:  # the dynamic export passed its own check
                    warnings.warn(f"{error}; full batches run on the dynamic export",
                                  stacklevel=2)
                    self._static[shape] = self.session
            session = self._static[shape]
        return session.run(None, {"pixels": np.ascontiguousarray(pixels, np.float32)})[0]


@functools.lru_cache(maxsize=8)
def _cached_session(path: str, mtime_ns: int, threads: int):
    return _session(Path(path).read_bytes(), threads)


def _session(model: bytes, threads: int):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
