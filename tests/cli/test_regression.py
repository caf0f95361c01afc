import json

import pandas as pd

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

