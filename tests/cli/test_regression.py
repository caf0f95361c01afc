import json

import pandas as pd
import pytest

from medtransfer.cli import app
from medtransfer.datasets import files_path

WARFARIN = files_path("iwpc_warfarin.csv")
OPTIONS = [
    "--task", "regression", "--label-col", "Therapeutic Dose of Warfarin",
    "--id-col", "PharmGKB Subject ID", "--site-col", "Project Site",
]  # fmt: skip


def test_dose_model_transfers_from_the_raw_iwpc_file_and_predicts(runner, tmp_path):
    run, out = tmp_path / "run", tmp_path / "doses.csv"
    args = ["fit", str(WARFARIN), str(WARFARIN), *OPTIONS, "--source-site", "1"]
    args += ["--target-site", "3", "--target-transform", "sqrt", "--method", "transfer_ridge"]
    result = runner.invoke(app, [*args, "--target-labels", "20", "--quiet", "-o", str(run)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["task"] == "regression" and manifest["class_names"] is None
    mae = {model: m["mae"]["value"] for model, m in manifest["metrics"].items()}
    assert 3 < mae["transfer_ridge"] < 12 and mae["transfer_ridge"] <= mae["target_only"]
    site = ["--site-col", "Project Site", "--site", "4", "--id-col", "PharmGKB Subject ID"]
    result = runner.invoke(app, ["predict", str(run), str(WARFARIN), *site, "-o", str(out)])
    assert result.exit_code == 0, result.output
    doses = pd.read_csv(out)
    assert list(doses.columns) == ["id", "prediction"]
    assert doses["id"].str.startswith("PA").all() and doses["prediction"].between(3, 150).all()



@pytest.mark.slow
def test_treatment_effect_run_from_the_raw_iwpc_file(runner, tmp_path):
    run, out = tmp_path / "effect", tmp_path / "effects.csv"
    args = ["fit", str(WARFARIN), str(WARFARIN), *OPTIONS, "--source-site", "1",
            "--target-site", "4", "--treatment-col", "Amiodarone (Cordarone)",
            "--target-transform", "sqrt", "--method", "pooled", "--classifier", "logreg",
            "--target-labels", "60"]
    result = runner.invoke(app, [*args, "--quiet", "-o", str(run)])
    assert result.exit_code == 0, result.output
    assert "mean effect of Amiodarone (Cordarone) = 1 vs 0" in result.output
    manifest = json.loads((run / "manifest.json").read_text())
    effect = manifest["metrics"]["mean_effect"]
    assert effect["low"] <= effect["value"] <= effect["high"] < 0  # amiodarone: less warfarin
    factual = manifest["metrics"]["factual"]
    assert 3 < factual["mae"]["value"] < 10 and factual["pw20"]["value"] > 0.3
    # the interval comes from refitting both arms, which share the one method
    assert effect["n_refits"] == 200 and "refits" in effect["interval"]
    assert manifest["chosen_method"] == "pooled"
    assert {a["chosen_method"] for a in manifest["components"].values()} == {"pooled"}
    ids = manifest["labelled_target_ids"]
    assert len(ids) == 60 and sorted(ids) == sorted(
        i for a in manifest["components"].values() for i in a["labelled_target_ids"])
    assert min(a["n_rows"]["target"] for a in manifest["components"].values()) >= 1
    held = pd.read_csv(run / "predictions.csv")
    assert list(held.columns) == ["id", "treatment", "label", "outcome_control",
                                  "outcome_treated", "effect", "effect_low", "effect_high"]
    assert (held["effect_low"] <= held["effect"]).mean() > 0.9
    assert (held["effect"] <= held["effect_high"]).mean() > 0.9
    assert len(held) == effect["n"] and held["label"].notna().all()
    site = ["--site-col", "Project Site", "--site", "4", "--id-col", "PharmGKB Subject ID"]
    result = runner.invoke(app, ["predict", str(run), str(WARFARIN), *site, "-o", str(out)])
    assert result.exit_code == 0, result.output
    predicted = pd.read_csv(out)
    # the saved refits give a loaded run the same intervals as the fit's held-out rows
    assert list(predicted.columns) == ["id", "outcome_control", "outcome_treated", "effect",
                                       "effect_low", "effect_high"]
    both = held.merge(predicted, on="id")
    assert len(both) > 0
    for column in ("effect", "effect_low", "effect_high"):
        assert (both[f"{column}_x"] - both[f"{column}_y"]).abs().max() < 1e-9
    refused = runner.invoke(app, ["predict", str(run), str(WARFARIN), *site, "--model",
                                  "pooled", "-o", str(tmp_path / "no.csv")])
    assert refused.exit_code == 2 and "treatment-effect run" in refused.output
    scored = runner.invoke(app, ["evaluate", str(run), str(WARFARIN), *site,
                                 "--label-col", "Therapeutic Dose of Warfarin", "--quiet"])
    assert scored.exit_code == 0, scored.output
    assert "mean effect of Amiodarone (Cordarone) = 1 vs 0 on 190 rows" in scored.output
    reported = runner.invoke(app, ["report", str(run)])
    assert reported.exit_code == 0, reported.output
    page = (run / "report.html").read_text()
    # fitted without --better: the policy value section says how to get one
    assert "Treatment-effect report" in page and "Fit with <code>--better" in page
