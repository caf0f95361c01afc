"""Which torch device feature extraction runs on."""

from __future__ import annotations

import torch

from medtransfer.errors import ConfigError


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Turn a device name into a ``torch.device``, checking that it exists here.

    Parameters
    ----------
    device : str, torch.device or None
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``, or None for CUDA when available and
        the CPU otherwise.

    Returns
    -------
    torch.device

    Raises
    ------
    ConfigError
        If the name is not a torch device, or names an accelerator this machine lacks.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(
            f"device {device!r} is not a torch device; use 'cpu', 'cuda', 'cuda:N' or 'mps', "
            "or leave --device out to use CUDA when available"
        ) from None
    _check_available(resolved)
    return resolved


def _check_available(device: torch.device) -> None:
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = device.index or 0
        if index >= count:
            raise ConfigError(
                f"device {str(device)!r} requested but this machine has {count} CUDA device(s) "
                "(torch.cuda.is_available() is False or the index is too high); "
                "use --device cpu or leave --device out"
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(
            "device 'mps' requested but Apple MPS is not available on this machine; "
            "use --device cpu or leave --device out"
        )
