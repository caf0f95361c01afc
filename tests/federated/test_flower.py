"""The same protocol over Flower: four hospitals as four SuperNodes (local simulation)."""

from __future__ import annotations

import pytest

pytest.importorskip("flwr")

from medtransfer.datasets import heart_disease
from medtransfer.federated.flower import simulate

SITES = ("Cleveland", "Hungary", "VA Long Beach", "Switzerland")


def test_flower_simulation_trains_validates_and_audits(tmp_path):
    config = {"method": "site_standardize", "rounds": 3, "local_epochs": 5,
              "learning_rate": 0.5, "proximal_mu": 0.1}
    result = simulate([heart_disease(s) for s in SITES], "Cleveland", tmp_path, config)
    assert result["sources"] == ["Hungary", "Switzerland", "VA Long Beach"]
    assert 0.6 < result["target_auroc"]["auroc"] <= 1.0
    for site in SITES:
        assert (tmp_path / f"{site}.jsonl").read_text().count('"kind"') >= 3
