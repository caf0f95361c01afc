"""A frozen backbone exported once to ONNX and run with ONNX Runtime on the CPU.

The export is cached in the user cache under a key of (backbone, weights sha256, torch
version, opset), so each weights file is exported once per machine; at export its output on
a seeded batch must equal eager PyTorch's within :data:`TOLERANCE` (relative to the
features' scale when it exceeds one), or nothing is cached.
"""

from __future__ import annotations

import functools
import hashlib
import io
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from medtransfer.artifacts import write_bytes
from medtransfer.errors import ArtifactError
from medtransfer.features.backbones import Backbone, BackboneConfig
from medtransfer.features.cache import user_cache_dir

OPSET = 17
TOLERANCE = 1e-4
CHECK_SIZE = 64


def onnx_path(config: BackboneConfig, weights_sha256: str, root: Path | None = None) -> Path:
    """Where the ONNX export of a backbone's weights lives in the cache (it may not exist)."""
    payload = f"{config.name}:{weights_sha256}:{torch.__version__}:{OPSET}"
    key = hashlib.sha256(payload.encode()).hexdigest()[:24]
    safe_name = config.name.replace(":", "-").replace("/", "-")
    return (root or user_cache_dir()) / "onnx" / f"{safe_name}-{key}.onnx"


def export_onnx(backbone: Backbone, path: Path) -> Path:
    """Export ``backbone`` (batch and image side dynamic) to ``path``, checked against eager.

    Raises
    ------
    ArtifactError
        If ONNX Runtime's features differ from eager PyTorch's by more than ``TOLERANCE``.
    """
    model = backbone.cpu().eval()
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(2, backbone.config.in_chans, CHECK_SIZE, CHECK_SIZE, generator=generator)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes
        torch.onnx.export(
            model, (sample,), buffer, input_names=["pixels"], output_names=["features"],
            dynamic_axes={"pixels": {0: "batch", 2: "height", 3: "width"},
                          "features": {0: "batch"}},
            opset_version=OPSET, dynamo=False,
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
        ``build() -> Backbone``: the eager backbone, built only when no export is cached.
    threads : int
        Intra-op threads of the session (``torch.get_num_threads()`` keeps both engines equal).
    """

    def __init__(
        self,
        config: BackboneConfig,
        weights_sha256: str,
        build: Callable[[], Backbone],
        threads: int,
    ) -> None:
        path = onnx_path(config, weights_sha256)
        if not path.is_file():
            export_onnx(build(), path)
        self.config = config
        self.session = _cached_session(str(path), path.stat().st_mtime_ns, threads)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """(batch, feature_dim) float32 features of (batch, C, H, W) float32 pixels."""
        return self.session.run(None, {"pixels": np.ascontiguousarray(pixels, np.float32)})[0]


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
