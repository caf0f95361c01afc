"""``fit --protect``: the named columns and their encoded features are never aligned."""

import numpy as np

from medtransfer.cli import app
from medtransfer.data import load_table
from medtransfer.runs.pipeline import TransferPipeline


def test_fit_protect_keeps_the_columns_through_the_saved_run(runner, heart_csv, tmp_path):
    out = tmp_path / "run"
    args = ["fit", str(heart_csv), str(heart_csv), "--label-col", "diagnosis", "--method",
            "combat", "--protect", "age,sex", "--target-labels", "10", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    run = TransferPipeline.load(out)
    names = run.feature_spec_["feature_names"]
    protected = [names[i] for i in run.models_["combat"].protect]
    assert protected == ["age", "sex_Female", "sex_Male"] and run.protect == ["age", "sex"]
    X = run.features(load_table(heart_csv, label_col="diagnosis"))
    mapped = run.models_["combat"].transform_target(X)
    kept = run.models_["combat"].protect
    np.testing.assert_array_equal(mapped[:, kept], X[:, kept])
    assert not np.allclose(np.delete(mapped, kept, axis=1), np.delete(X, kept, axis=1))
