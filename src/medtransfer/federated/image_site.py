"""One site of a FedBN federation: its images stay, its model state stays, tensors leave.

Between rounds the site keeps its whole model (its own batch norm included), its optimiser
and its random state in a state file, since a Flower ClientApp may run each round in a
fresh process. Every reply is logged to the site's audit log before it leaves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from medtransfer.data import Domain
from medtransfer.errors import ConfigError, DataError
from medtransfer.federated.audit import AuditLog
from medtransfer.federated.fedbn import load_shared, shared_state
from medtransfer.federated.validation import site_auroc_pieces
from medtransfer.finetune.steps import StepTuner


class ImageSite:
    """A site holding labelled images for FedBN fine-tuning.

    Parameters
    ----------
    domain : Domain
        The site's labelled two-class images (they never leave).
    audit_path : Path
        Where every outgoing message is logged (tensors in files beside it).
    state_path : Path
        The site's model state between rounds (.safetensors); after the last round it holds
        the shared weights plus the site's own batch norm.
    min_cell : int, default=10
        A class with fewer held-out images than this withholds the site's AUROC.
    """

    def __init__(self, domain: Domain, audit_path: Path, state_path: Path,
                 min_cell: int = 10) -> None:
        self.domain, self.min_cell = domain, min_cell
        self.audit = AuditLog(audit_path)
        self.state_path = Path(state_path)

    @property
    def name(self) -> str:
        """The site's name."""
        return self.domain.name

    def split(self, plan: dict) -> tuple[np.ndarray, np.ndarray]:
        """Training and held-out test rows, stratified by class, seeded by the plan."""
        rows = np.arange(len(self.domain))
        try:
            train, test = train_test_split(rows, test_size=plan["test_fraction"],
                                           stratify=self.domain.labels,
                                           random_state=plan["seed"])
        except ValueError as err:
            raise DataError(f"{self.name}: cannot hold out {plan['test_fraction']} of its "
                            f"{len(rows)} images stratified by class ({err}); give the site "
                            "more images or another test fraction") from None
        return np.sort(train), np.sort(test)

    def model(self, plan: dict, fresh: bool = False) -> StepTuner:
        """The site's model: from its state file when it has one (and not ``fresh``), else
        as the plan starts."""
        tuner = StepTuner(plan, len(plan["class_names"]))
        if self.state_path.exists() and not fresh:
            tuner.load(self.state_path)
        return tuner

    def train(self, request: dict) -> dict:
        """One round: the sent weights (own batch norm kept), local steps, tensors back.
        Round 1 starts afresh, whatever state an earlier federation left."""
        plan, local = request["plan"], request["plan"]["keep_batch_norm_local"]
        tuner = self.model(plan, fresh=request["round"] == 1)
        load_shared(tuner.modules, request["tensors"], local)
        images, labels = self._rows(tuner, self.split(plan)[0])
        loss = tuner.steps(images, labels, plan["local_steps"])
        tuner.save(self.state_path)
        return self._send("fedbn_train", {"site": self.name, "n": len(labels),
                                          "train_ce": loss,
                                          "tensors": shared_state(tuner.modules, local)})

    def evaluate(self, request: dict) -> dict:
        """Keep the final shared weights with this site's batch norm; release the AUROC
        pieces of that model on the held-out images."""
        plan = request["plan"]
        tuner = self.model(plan)
        load_shared(tuner.modules, request["tensors"], plan["keep_batch_norm_local"])
        tuner.save(self.state_path)
        images, labels = self._rows(tuner, self.split(plan)[1])
        logits = tuner.logits(images)
        score = (logits[:, 1] - logits[:, 0]).numpy().astype(float)
        pieces = site_auroc_pieces(labels.numpy(), score, self.min_cell)
        return self._send("fedbn_evaluate", {"site": self.name, **pieces})

    def answer(self, kind: str, request: dict) -> dict:
        """The reply to one coordinator request of ``kind`` (logged before it leaves)."""
        calls = {"fedbn_train": self.train, "fedbn_evaluate": self.evaluate}
        if kind not in calls:
            raise ConfigError(f"an image site got a request {kind!r}; it answers "
                              f"{sorted(calls)}")
        return calls[kind](request)

    def _rows(self, tuner: StepTuner, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        images = tuner.images(self.domain.subset(index))
        return images, torch.from_numpy(self.domain.labels[index].astype(np.int64))

    def _send(self, kind: str, payload: dict) -> dict:
        self.audit.record(kind, payload)
        return payload
