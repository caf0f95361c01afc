"""``medtransfer fit SOURCE TARGET --finetune LOSS``: a fine-tuned backbone as a normal run."""

import json

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from medtransfer.cli import app
from medtransfer.features.backbones import create_backbone

TINY = ["--backbone", "timm:test_efficientnet", "--weights", "random", "--image-size", "32"]


@pytest.mark.slow
def test_finetuned_backbone_is_stored_in_the_run_and_used_by_predict(
    runner, image_folders, tmp_path
):
    source, target = image_folders
    run = tmp_path / "run"
    args = ["fit", str(source), str(target), *TINY, "--finetune", "mmd", "--epochs", "1",
            "--batch-size", "8", "--target-labels", "4", "--method", "source_only",
            "--classifier", "logreg", "--quiet", "--format", "json", "-o", str(run)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((run / "manifest.json").read_text())
    finetune = manifest["finetune"]
    assert finetune["transfer_loss"] == "mmd" and finetune["epochs"] == 1
    # epoch 0 is the head trained on frozen features, epoch 1 the fine-tune with MMD
    assert [h["epoch"] for h in finetune["history"]] == [0, 1]
    assert finetune["history"][1]["train_transfer"] > 0 and finetune["best_epoch"] == 1
    assert "model/backbone.safetensors" in manifest["files"]
    assert manifest["target"]["n_labelled"] == 4
    # training moved the weights away from the backbone it started from (same seed)
    tuned = load_file(run / "model" / "backbone.safetensors")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        start = create_backbone("timm:test_efficientnet", weights="random").state_dict()
    assert tuned.keys() == start.keys()
    moved = [k for k in tuned if not torch.equal(tuned[k], start[k])]
    assert moved and len(moved) < len(tuned)  # BatchNorm counters aside, weights changed
    # predict reloads the fine-tuned backbone: the run's own held-out predictions come back
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", str(run), str(target), "--quiet", "-o", str(out)])
    assert result.exit_code == 0, result.output
    fitted = pd.read_csv(run / "predictions.csv").query("model == 'source_only'")
    again = pd.read_csv(out).set_index("id").loc[fitted["id"]]
    assert (again["prediction"].to_numpy() == fitted["prediction"].to_numpy()).all()


def test_bad_finetune_requests_fail_cleanly(runner, image_folders, heart_csv, tmp_path):
    source, target = image_folders
    run = tmp_path / "run"
    cases = [
        (["fit", str(source), str(target), *TINY, "--finetune", "tent"],
         "--finetune 'tent': expected one of none, cdan"),
        (["fit", str(heart_csv), str(heart_csv), "--finetune", "mmd"],
         "FineTunedPipeline (--finetune) trains an image backbone for classification; got table"),
    ]
    for args, message in cases:
        result = runner.invoke(app, [*args, "--quiet", "-o", str(run)])
        assert result.exit_code != 0 and "Traceback" not in result.output
        assert message in result.output, result.output
        assert not run.exists()


@pytest.mark.slow
def test_finetune_auto_records_its_choice_and_the_run_uses_it(runner, image_folders, tmp_path):
    source, target = image_folders
    run = tmp_path / "run"
    args = ["fit", str(source), str(target), *TINY, "--finetune", "auto", "--epochs", "1",
            "--batch-size", "8", "--method", "source_only", "--classifier", "logreg",
            "--quiet", "--format", "json", "-o", str(run)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    finetune = json.loads((run / "manifest.json").read_text())["finetune"]
    selection = finetune["selection"]
    assert finetune["transfer_loss"] == "auto" and finetune["choice"] == selection["choice"]
    # no target labels: skada's scorers vote, a fine-tune must win every one of them
    assert selection["mode"] == "unsupervised"
    assert set(selection["candidates"]) == {"frozen", "none", "mcc", "mmd", "entropy", "shot",
                                            "adabn"}
    stored = "model/backbone.safetensors" in json.loads((run / "manifest.json").read_text())[
        "files"]
    if selection["choice"] == "frozen":
        assert not stored and "history" not in finetune
    else:
        assert all(selection["votes"][selection["choice"]].values())
        assert stored and finetune["history"][0]["epoch"] == 0
