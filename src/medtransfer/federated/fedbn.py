"""FedBN: sites fine-tune one backbone together, each keeping its own batch norm.

FedBN (Li et al., ICLR 2021): every round each site trains the global model a few local
steps on its own images, and the coordinator averages every tensor the sites send,
weighted by their image counts. Batch-norm layers (weight, bias, running mean and
variance) never leave a site: they stay tuned to the site's scanner and population, which
is the shift FedBN is for. After R rounds each site holds the shared weights plus its own
batch norm. With ``keep_batch_norm_local=False`` the same rounds are plain FedAvg.

The backbone's ImageNet classifier is not sent either: the features skip it, so it gets no
gradient and is the same everywhere. Each site's optimiser moments stay local too (in its
state file), so one site alone trains exactly as local fine-tuning would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from medtransfer.errors import ConfigError
from medtransfer.federated.coordinator import Ask
from medtransfer.federated.validation import combine_auroc
from medtransfer.finetune.source_free import BATCH_NORMS
from medtransfer.finetune.steps import STEP_DEFAULTS, StepTuner

FEDBN_DEFAULTS: dict[str, Any] = {
    **STEP_DEFAULTS, "rounds": 5, "local_steps": 5, "test_fraction": 0.3,
    "keep_batch_norm_local": True, "class_names": None,
}


def check_fedbn_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The FedBN plan: ``config`` over :data:`FEDBN_DEFAULTS`, checked.

    Raises
    ------
    ConfigError
        On an unknown key, a count under its minimum, or a test fraction outside (0, 1).
    """
    unknown = sorted(set(config) - set(FEDBN_DEFAULTS))
    if unknown:
        raise ConfigError(f"FedBN does not know the setting(s) {unknown}; it takes "
                          f"{sorted(FEDBN_DEFAULTS)}")
    plan = {**FEDBN_DEFAULTS, **config}
    for key, least, why in (("rounds", 1, ""), ("local_steps", 1, ""),
                            ("batch_size", 2, " (batch norm cannot train on one image)")):
        if not isinstance(plan[key], int) or plan[key] < least:
            raise ConfigError(f"FedBN {key} must be an integer of at least {least}{why}, "
                              f"got {plan[key]!r}")
    if not 0 < plan["test_fraction"] < 1:
        raise ConfigError(f"FedBN test_fraction must lie strictly between 0 and 1 (each site "
                          f"tests on that share of its images), got {plan['test_fraction']!r}")
    if plan["class_names"] is None or len(plan["class_names"]) != 2:
        raise ConfigError("FedBN trains a two-class head; give class_names with two names, got "
                          f"{plan['class_names']!r}")
    return plan


def _local_modules(module: nn.Module, keep_batch_norm_local: bool) -> list[tuple[str, nn.Module]]:
    """The named submodules whose state stays at the site."""
    classifier = getattr(module, "classifier_head", None)
    return [(name, sub) for name, sub in module.named_modules()
            if sub is classifier or (keep_batch_norm_local and isinstance(sub, BATCH_NORMS))]


def local_keys(modules: Mapping[str, nn.Module], keep_batch_norm_local: bool = True
               ) -> frozenset[str]:
    """State-dict keys (``"backbone.model.bn1.running_mean"``) that never leave a site:
    every batch-norm tensor (when kept local) and the backbone's unused classifier."""
    return frozenset(
        ".".join(filter(None, (prefix, name, key)))
        for prefix, module in modules.items()
        for name, sub in _local_modules(module, keep_batch_norm_local)
        for key in sub.state_dict())


def shared_state(modules: Mapping[str, nn.Module], keep_batch_norm_local: bool = True
                 ) -> dict[str, torch.Tensor]:
    """What a site sends: CPU copies of every tensor not in :func:`local_keys`."""
    local = local_keys(modules, keep_batch_norm_local)
    return {f"{prefix}.{k}": v.detach().cpu().clone()
            for prefix, module in modules.items() for k, v in module.state_dict().items()
            if f"{prefix}.{k}" not in local}


def load_shared(modules: Mapping[str, nn.Module], tensors: Mapping[str, torch.Tensor],
                keep_batch_norm_local: bool = True) -> None:
    """Overwrite the shared tensors of ``modules`` with ``tensors``, keeping the local ones.

    Raises
    ------
    ConfigError
        If ``tensors`` does not hold exactly the shared keys of these modules.
    """
    expected = set(shared_state(modules, keep_batch_norm_local))
    if set(tensors) != expected:
        extra, missing = sorted(set(tensors) - expected), sorted(expected - set(tensors))
        raise ConfigError(f"the model sent does not fit this site's model: {len(extra)} "
                          f"unexpected tensor(s) {extra[:3]}, {len(missing)} missing "
                          f"{missing[:3]}; both sides must use the same backbone and plan")
    for prefix, module in modules.items():
        state = module.state_dict()
        state.update({k.removeprefix(f"{prefix}."): v for k, v in tensors.items()
                      if k.startswith(f"{prefix}.")})
        module.load_state_dict(state)


def fedbn_average(updates: Sequence[tuple[Mapping[str, torch.Tensor], float]]
                  ) -> dict[str, torch.Tensor]:
    """The sample-weighted mean of the sites' tensors (float64 sums, each tensor's dtype
    kept; integer buffers such as a batch-norm's step count are rounded).

    Parameters
    ----------
    updates : sequence of (tensors, n)
        Each site's shared tensors and its number of training images.
    """
    if not updates or {frozenset(t) for t, _ in updates} != {frozenset(updates[0][0])}:
        raise ConfigError("FedBN averages the same tensors from every site; the sites sent "
                          "none or different sets (are they training the same backbone?)")
    total = float(sum(n for _, n in updates))
    average = {}
    for key, first in updates[0][0].items():
        mean = sum(t[key].double() * (n / total) for t, n in updates)
        average[key] = (mean if first.is_floating_point() else mean.round()).to(first.dtype)
    return average


def run_fedbn(ask: Ask, sites: list[str], config: Mapping[str, Any]) -> dict:
    """The coordinator's FedBN rounds over ``sites``, then each site's validation.

    ``ask(kind, request, sites)`` sends one request to the named sites (requests and
    replies may carry a ``"tensors"`` dict, sent as arrays). Returns the per-round mean
    training losses by site and the sites' AUROCs (each on its held-out images, with its
    own batch norm) with DeLong intervals and their inverse-variance mean.
    """
    plan = check_fedbn_config(config)
    local = plan["keep_batch_norm_local"]
    server = StepTuner(plan, len(plan["class_names"]), device="cpu")
    tensors = shared_state(server.modules, local)
    history = []
    for round_ in range(1, plan["rounds"] + 1):
        replies = ask("fedbn_train", {"plan": plan, "tensors": tensors, "round": round_},
                      sites)
        tensors = fedbn_average([(r["tensors"], r["n"]) for r in replies.values()])
        history.append({"round": round_,
                        "train_ce": {s: replies[s]["train_ce"] for s in sites}})
    pieces = ask("fedbn_evaluate", {"plan": plan, "tensors": tensors}, sites)
    return {"aggregation": "fedbn" if local else "fedavg", "sites": sites,
            "history": history, "validation": combine_auroc({s: pieces[s] for s in sites}),
            "plan": plan, "shared_tensors": len(tensors)}
