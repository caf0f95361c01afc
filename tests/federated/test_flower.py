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


def test_deployed_client_apps_read_their_tables_and_train_as_the_simulated_sites(
        tmp_path, monkeypatch):
    """Four deployed ClientApps (each told only its node config) answer real Flower
    messages; the protocol over them gives the weights of the in-process sites."""
    from flwr.app import Context, Message, RecordDict
    from flwr.supercore.task_identity import TaskIdentity

    # a Message is made inside a running Flower task, which sets these; here the test is it
    for key in ("_task_id", "_run_id", "_node_id"):
        monkeypatch.setattr(TaskIdentity, key, 1)

    from medtransfer.data import load_domain
    from medtransfer.datasets import files_path
    from medtransfer.federated.coordinator import run_protocol
    from medtransfer.federated.flower import _content, _read
    from medtransfer.federated.flower_apps import client_app
    from medtransfer.federated.site import Site, two_class

    heart = str(files_path("heart_disease_uci.csv"))
    nodes = {s: {"data": heart, "label-col": "num", "site-col": "dataset", "site": s,
                 "binary": True, "audit": str(tmp_path / f"{s}.jsonl")} for s in SITES}

    def over_flower(kind, request, names):
        replies = {}
        for name in names:
            message = Message(_content("request", {"kind": kind, **request}),
                              dst_node_id=1, message_type="query")
            context = Context(run_id=1, node_id=1, node_config=nodes[name],
                              state=RecordDict(), run_config={})
            replies[name] = _read(client_app(message, context).content, "reply")
        return replies

    sites = {s: Site(two_class(load_domain(heart, label_col="num", site_col="dataset", site=s),
                               True), tmp_path / "in-process" / f"{s}.jsonl") for s in SITES}

    def in_process(kind, request, names):
        return {n: sites[n].answer(kind, request) for n in names}

    config = {"method": "coral", "rounds": 3, "local_epochs": 5, "learning_rate": 0.5,
              "proximal_mu": 0.0}
    deployed = run_protocol(over_flower, list(SITES), "Hungary", config)
    expected = run_protocol(in_process, list(SITES), "Hungary", config)
    assert deployed["weights"] == pytest.approx(expected["weights"], abs=1e-12)
    assert deployed["target_auroc"] == expected["target_auroc"]
    for site in SITES:
        assert (tmp_path / f"{site}.jsonl").read_text().count('"kind"') >= 3


def test_the_example_flower_app_builds_with_the_deployed_apps(tmp_path):
    """``flwr build`` checks that the app folder's components exist; it bundles the FAB."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    app = shutil.copytree(root / "examples" / "flower-app", tmp_path / "app")
    flwr = Path(sys.executable).parent / "flwr"
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    done = subprocess.run([str(flwr), "build", "--app", str(app)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(tmp_path.glob("*.fab"))
