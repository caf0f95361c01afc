"""Fine-tuning a given number of steps at a time, resumable exactly from a state file.

:class:`~medtransfer.finetune.trainer.FineTuner` trains for epochs with early stopping in
one call. A federated site instead trains a few steps per round from weights it is sent,
and must carry its own state (optimiser moments, batch-norm statistics, random state) from
one round to the next, possibly in another process. :class:`StepTuner` is that engine: the
same optimisation step (:func:`~medtransfer.finetune.loop.train_step`), with everything
stochastic drawn from one generator that is saved with the weights, so ``steps(a)`` then
``save``/``load`` then ``steps(b)`` gives the same model as ``steps(a + b)`` on a CPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from medtransfer.data.domain import Domain
from medtransfer.features.backbones import create_backbone
from medtransfer.features.device import resolve_device
from medtransfer.finetune.checkpoint import load_training_state, save_training_state
from medtransfer.finetune.freeze import select_trainable, set_train_mode
from medtransfer.finetune.inputs import image_tensor
from medtransfer.finetune.loop import Training, TrainingData, features_of, train_step

#: What a StepTuner is built from (a JSON-able plan): the backbone and its training recipe.
STEP_DEFAULTS: dict[str, Any] = {
    "backbone": "efficientnet_lite0", "weights": None, "image_size": 64, "batch_size": 16,
    "lr": 1e-3, "head_lr": 1e-3, "weight_decay": 1e-4, "unfreeze": "all", "seed": 0,
    "device": None,
}


class StepTuner:
    """A backbone and a linear head trained ``n`` steps at a time with AdamW.

    The head starts from torch's default initialisation under ``plan["seed"]``, so every
    party building a StepTuner from the same plan holds the same initial model. Each step
    draws ``batch_size`` rows without replacement from the generator (seeded by
    ``plan["seed"]``), which also seeds the global torch random state the step runs in.

    Parameters
    ----------
    plan : Mapping
        Keys of :data:`STEP_DEFAULTS` (missing ones take the default).
    n_classes : int
        Outputs of the head.
    device : str or None
        Overrides ``plan["device"]``; None there too picks CUDA when available.
    """

    def __init__(self, plan: Mapping[str, Any], n_classes: int, device: str | None = None):
        self.plan = {**STEP_DEFAULTS, **plan}
        self.device = resolve_device(device or self.plan["device"])
        self.backbone = create_backbone(self.plan["backbone"], weights=self.plan["weights"],
                                        device=self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.plan["seed"])
            self.head = nn.Linear(self.backbone.config.feature_dim, n_classes).to(self.device)
        self.parts = select_trainable(self.backbone, self.plan["unfreeze"],
                                      self.backbone.config.name)
        self.generator = torch.Generator().manual_seed(self.plan["seed"])
        self.optimizer = torch.optim.AdamW(
            [{"params": [p for p in self.backbone.parameters() if p.requires_grad],
              "lr": self.plan["lr"]},
             {"params": list(self.head.parameters()), "lr": self.plan["head_lr"]}],
            weight_decay=self.plan["weight_decay"])
        self.steps_done = 0

    @property
    def modules(self) -> dict[str, nn.Module]:
        """The trained modules by name (the prefixes of their state-dict keys)."""
        return {"backbone": self.backbone, "head": self.head}

    def images(self, domain: Domain) -> torch.Tensor:
        """The images of ``domain`` prepared for this backbone."""
        return image_tensor(domain, self.backbone.config, self.plan["image_size"])

    def steps(self, images: torch.Tensor, labels: torch.Tensor, n: int) -> float:
        """Train ``n`` steps on ``images``/``labels``; return the mean cross-entropy."""
        batch = min(self.plan["batch_size"], len(images))
        data = TrainingData(images, labels, torch.zeros(len(images), dtype=torch.bool),
                            images[:0])
        training = Training(
            backbone=self.backbone, head=self.head, transfer=None, optimizer=self.optimizer,
            generator=self.generator, augment=None, lambda_=0.0, schedule="constant",
            device=self.device, total_steps=n, checked_gradients=self.steps_done > 0)
        losses = []
        with torch.random.fork_rng(devices=[]):
            set_train_mode(self.backbone, self.parts)
            self.head.train()
            for _ in range(n):
                # dropout and drop-path draw from the global state: seed it from ours, once
                # per step, so the draws do not depend on how the steps are split into calls
                torch.manual_seed(int(torch.randint(2**62, (1,), generator=self.generator)))
                index = torch.randperm(len(images), generator=self.generator)[:batch]
                losses.append(train_step(training, data, index)[0])
        self.backbone.eval()
        self.steps_done += n
        return sum(losses) / max(n, 1)

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits of ``images`` in eval mode, on the CPU."""
        features = features_of(self.backbone, images, self.plan["batch_size"], self.device)
        self.head.eval()
        return self.head(features.to(self.device)).float().cpu()

    def save(self, path: Path) -> None:
        """Write weights, optimiser, generator and step count to ``path`` (.safetensors)."""
        save_training_state(Path(path), modules=self.modules, optimizer=self.optimizer,
                            generator=self.generator, meta={"steps": self.steps_done})

    def load(self, path: Path) -> None:
        """Continue from a state written by :meth:`save` (the global random state is kept)."""
        with torch.random.fork_rng(devices=[]):
            meta = load_training_state(Path(path), modules=self.modules,
                                       optimizer=self.optimizer, generator=self.generator)
        self.steps_done = int(meta["steps"])
