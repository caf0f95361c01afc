"""The same protocols over Flower (local simulation): four hospitals as four SuperNodes
training the head, and two image sites fine-tuning a backbone by FedBN."""

from __future__ import annotations

import json

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


@pytest.mark.slow  # ~25 s on two cores, most of it starting Ray
def test_fedbn_over_flower_equals_the_in_process_rounds(tmp_path):
    import torch
    from safetensors.torch import load_file

    from medtransfer.federated.fedbn import local_keys, run_fedbn
    from medtransfer.federated.flower import simulate_fedbn
    from tests.federated.test_fedbn import PLAN, _sites, in_process

    domains = [s.domain for s in _sites(tmp_path / "alike").values()]
    result = simulate_fedbn(domains, tmp_path / "flower", PLAN)
    alike = _sites(tmp_path / "in-process")
    expected = run_fedbn(in_process(alike), sorted(alike), PLAN)
    assert result["validation"] == expected["validation"]
    assert result["history"] == expected["history"]
    for name, site in alike.items():
        state = tmp_path / "flower" / "state" / f"{name}.safetensors"
        # the same model, optimiser and generator (the process's global random state aside)
        ours, theirs = load_file(state), load_file(site.state_path)
        assert set(ours) == set(theirs)
        assert all(torch.equal(ours[k], theirs[k]) for k in ours if k != "rng.torch")
        logged = (tmp_path / "flower" / "audit" / f"{name}.jsonl").read_text()
        assert logged.count('"fedbn_train"') == PLAN["rounds"]
    bn = local_keys(site.model(result["plan"]).modules)
    assert bn and not bn & set(json.loads(logged.splitlines()[0])["payload"]["tensors"]["shapes"])


@pytest.mark.slow  # ~25 s, most of it starting Ray
def test_medtransfer_federated_fedbn_runs_on_an_image_manifest(tmp_path):
    from typer.testing import CliRunner

    from medtransfer.cli import app
    from tests.tiny_images import two_class_images, write_manifest

    domains = [two_class_images(40, seed=i, offset=60 * i, name=f"h{i}") for i in (0, 1)]
    manifest = write_manifest(tmp_path / "sites", domains)
    out = tmp_path / "fedbn"
    result = CliRunner().invoke(app, [
        "federated", str(manifest), "--site-col", "site", "--fedbn", "--backbone",
        "timm:test_efficientnet", "--weights", "random", "--image-size", "32",
        "--rounds", "2", "--local-steps", "2", "--test-fraction", "0.5", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "flower-supernode --insecure --superlink COORDINATOR:8000" in result.output
    written = json.loads((out / "result.json").read_text())
    assert written["aggregation"] == "fedbn" and len(written["history"]) == 2
    assert set(written["validation"]["sites"]) == {"h0", "h1"}
    assert {p.name for p in (out / "state").iterdir()} == {"h0.safetensors", "h1.safetensors"}
