"""Which inference engine runs a frozen backbone: ONNX Runtime on the CPU, else eager torch.

Eager PyTorch stays the engine of fine-tuning and of CUDA; for frozen features on the CPU the
backbone exported once to ONNX runs several times faster with the same features (checked
against eager at export). ``engine="auto"`` picks ONNX when the ``onnx`` extra is installed
and the device is the CPU. Commands set the engine for everything they extract with
:func:`engine_scope` (``--engine``), so the choice needs no new argument on every pipeline.
``medtransfer extract`` also takes :data:`RAY`: Ray Data actors across a cluster, each running
one of the in-process engines (:mod:`medtransfer.features.ray_engine`).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from medtransfer.params import Options, ParameterError, check_value

ENGINES = ("auto", "onnx", "torch")
ENGINE = Options(*ENGINES)
RAY = "ray"
# what extract_to_store takes: an in-process engine, or Ray actors that each run one
EXTRACT_ENGINE = Options(*ENGINES, RAY)
_SCOPE: ContextVar[str | None] = ContextVar("medtransfer_engine", default=None)


def onnx_available() -> bool:
    """Whether ONNX export and ONNX Runtime are installed (``pip install 'medtransfer[onnx]'``)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))


def check_engine(engine: str, owner: str = "resolve_engine", engines: Options = ENGINE) -> str:
    """Refuse an engine name that is not one of ``engines`` (default :data:`ENGINES`)."""
    check_value(owner, "engine", engine, engines)
    return engine


@contextmanager
def engine_scope(engine: str) -> Iterator[None]:
    """Extract with ``engine`` inside the block (what ``--engine`` sets for a command)."""
    token = _SCOPE.set(check_engine(engine, "engine_scope"))
    try:
        yield
    finally:
        _SCOPE.reset(token)


def resolve_engine(engine: str | None, device_type: str) -> str:
    """The concrete engine, ``"onnx"`` or ``"torch"``, for a device type such as ``"cpu"``.

    Parameters
    ----------
    engine : str or None
        ``auto``, ``onnx`` or ``torch``; None for the enclosing :func:`engine_scope`, else
        ``$MEDTRANSFER_ENGINE``, else ``auto``.
    device_type : str
        ``torch.device.type`` of the device the features are computed on.

    Raises
    ------
    ConfigError
        If ONNX is asked for but not installed, or asked for on an accelerator.
    """
    engine = engine or _SCOPE.get()
    if engine is None:
        engine = check_engine(os.environ.get("MEDTRANSFER_ENGINE", "auto"), "$MEDTRANSFER_ENGINE")
    check_engine(engine)
    if engine == "auto":
        return "onnx" if device_type == "cpu" and onnx_available() else "torch"
    if engine == "onnx" and not onnx_available():
        raise ParameterError("resolve_engine", "engine", engine, lambda style: (
            "needs ONNX Runtime; run `pip install 'medtransfer[onnx]'` or use "
            f"{style.setting('engine', 'torch')}"))
    if engine == "onnx" and device_type != "cpu":
        raise ParameterError("resolve_engine", "engine", engine, lambda style: (
            f"runs on the CPU, but the device is {device_type!r}; use "
            f"{style.setting('engine', 'torch')} on accelerators or "
            f"{style.setting('device', 'cpu')}"))
    return engine


def available_cpus() -> int:
    """CPU cores this process may run on (its affinity, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
