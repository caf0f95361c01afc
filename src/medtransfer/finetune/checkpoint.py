"""Training checkpoints as safetensors: weights, optimiser, epoch and random state.

Tensors go into the safetensors body; everything else (epoch, history, the optimiser's
hyper-parameters) is JSON in the file's string metadata. Nothing is pickled, so a
checkpoint from anywhere can be opened safely.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from torch import nn

from medtransfer.artifacts import write_bytes
from medtransfer.errors import ArtifactError

LAST = "last.safetensors"
BEST_BACKBONE = "best_backbone.safetensors"
BEST_HEAD = "best_head.safetensors"
_META = "medtransfer"


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A module's state dict as contiguous CPU copies (safe to keep and to save)."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}


def save_weights(path: Path, state: dict[str, torch.Tensor]) -> None:
    """Write a state dict to a safetensors file atomically."""
    write_bytes(Path(path), save({k: v.contiguous() for k, v in state.items()}))


def save_training_state(
    path: Path,
    *,
    modules: dict[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    meta: dict[str, Any],
) -> None:
    """Save everything needed to continue training exactly where it stopped.

    Parameters
    ----------
    path : Path
        The ``.safetensors`` file to (over)write atomically.
    modules : dict of str to Module
        Named modules whose state dicts are saved (backbone, head, transfer loss).
    optimizer : Optimizer
    generator : torch.Generator
        The generator drawing batches and augmentations.
    meta : dict
        JSON-serialisable facts (epoch, history, configuration).
    """
    tensors = {
        f"{name}.{key}": value
        for name, module in modules.items()
        for key, value in cpu_state(module).items()
    }
    optim_meta = _split_optimizer(optimizer.state_dict(), tensors)
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.generator"] = generator.get_state()
    payload = {**meta, "optimizer": optim_meta}
    write_bytes(Path(path), save(tensors, metadata={_META: json.dumps(payload)}))


def load_training_state(
    path: Path,
    *,
    modules: dict[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Restore a checkpoint written by :func:`save_training_state`; return its meta.

    Raises
    ------
    ArtifactError
        If the file is not a readable checkpoint or does not fit the modules.
    """
    tensors, payload = _read(Path(path))
    for name, module in modules.items():
        prefix = f"{name}."
        state = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            module.load_state_dict(state)
        except RuntimeError as error:
            raise ArtifactError(
                f"checkpoint {str(path)!r} does not fit the {name} being trained ({error}); "
                "delete it or set resume=False to start again"
            ) from None
    optimizer.load_state_dict(_join_optimizer(payload.pop("optimizer"), tensors))
    torch.set_rng_state(tensors["rng.torch"])
    generator.set_state(tensors["rng.generator"])
    return payload


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    try:
        with safe_open(path, framework="pt") as handle:
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
            payload = json.loads((handle.metadata() or {})[_META])
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as error:
        raise ArtifactError(
            f"checkpoint {str(path)!r} is not a medtransfer training checkpoint ({error!r}); "
            "delete it or set resume=False to start again"
        ) from None
    return tensors, payload


def _split_optimizer(state: dict, tensors: dict[str, torch.Tensor]) -> dict:
    """Move the optimiser's tensors into ``tensors``; return the rest as JSON-able data."""
    per_param: dict[str, dict[str, Any]] = {}
    for index, entries in state["state"].items():
        per_param[str(index)] = {}
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous().clone()
            else:
                per_param[str(index)][key] = value
    return {"state": per_param, "param_groups": state["param_groups"]}


def _join_optimizer(meta: dict, tensors: dict[str, torch.Tensor]) -> dict:
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in meta["state"].items()}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": meta["param_groups"]}
