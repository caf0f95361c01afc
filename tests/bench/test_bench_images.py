import json

import numpy as np
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from medtransfer.bench.core import Unit, run_suite
from medtransfer.bench.images import class_scores
from medtransfer.bench.pneumonia import SOURCE, PneumoniaShiftSuite, shifted_test
from medtransfer.bench.results import update_readme
from medtransfer.bench.wbc import WbcSuite
from medtransfer.cli import app
from medtransfer.datasets.pneumonia import pneumonia
from medtransfer.errors import ConfigError, DataError

CLASSES = ("eosinophil", "lymphocyte", "neutrophil")


def _write_cells(folder, names, n, size, suffix, seed):
    rng = np.random.default_rng(seed)
    for c, name in enumerate(names):
        (folder / name).mkdir(parents=True)
        for i in range(n):
            # class-dependent colour plus noise, so a linear model has something to learn
            pixels = rng.normal(60 + 70 * c, 25, (size, size, 3)).clip(0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / name / f"cell{i}{suffix}")


@pytest.fixture(scope="module")
def wbc_data(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    _write_cells(data / "wbc" / "pbc", CLASSES, 6, 24, ".jpg", 0)
    _write_cells(data / "wbc" / "bccd", [c.upper() for c in CLASSES], 4, 32, ".png", 1)
    return data


@pytest.mark.slow
def test_wbc_suite_runs_on_a_tiny_folder_with_differently_cased_classes(wbc_data, tmp_path):
    suite = WbcSuite(wbc_data, image_size=32, source_per_class=4)
    assert suite.class_names == CLASSES
    split = suite.split(Unit("pbc", "bccd", 1, 0))
    assert split.X.shape == (12 + 12, 1280) and np.all(split.y[split.test] == -1)
    labelled = np.flatnonzero((split.sample_domain < 0) & (split.y >= 0))
    assert sorted(split.y[labelled]) == [0, 1, 2]  # one per class
    methods = ["source_only", "target_only", "auto", "skada_coral"]
    records = run_suite(suite, tmp_path, seeds=1, ks=[1], only=methods, log=lambda _: None)
    assert {r["method"] for r in records} == set(methods)
    assert {r["metric"] for r in records} == {"balanced_accuracy", "auroc"}
    assert all(r["value"] is not None and 0 <= r["value"] <= 1 for r in records), records
    assert "### balanced_accuracy" in (tmp_path / "wbc.md").read_text()


def test_wbc_without_data_says_which_layout_and_flag(tmp_path):
    with pytest.raises(ConfigError, match=r"--data DATA with DATA/wbc/pbc.*--data \.\./shared"):
        WbcSuite(None)
    with pytest.raises(DataError, match=r"no folder .*wbc/pbc.*laid out as DATA/wbc/pbc/<class>"):
        WbcSuite(tmp_path)
    result = CliRunner().invoke(app, ["bench", "--suite", "wbc", "--data", str(tmp_path),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "DATA/wbc/bccd/<CLASS>" in result.output


def test_pneumonia_split_masks_test_labels_and_shifts_the_target():
    suite = PneumoniaShiftSuite(image_size=32, source_n=40)
    assert len(suite.pairs()) == 6 and (SOURCE, "gaussian_blur-4") in suite.pairs()
    split = suite.split(Unit(SOURCE, "gaussian_noise-4", 10, 0))
    clean = pneumonia("test")
    assert split.X.shape == (40 + len(clean), 1280)
    assert np.all(split.y[split.test] == -1) and len(split.test) == len(clean) - 10
    labelled = np.flatnonzero((split.sample_domain < 0) & (split.y >= 0))
    assert len(labelled) == 10 and np.bincount(split.y[labelled]).tolist() == [5, 5]
    assert np.array_equal(split.y_test, clean.labels[split.test - 40])
    shifted = shifted_test("gaussian_noise-4")
    assert shifted.inputs.shape == clean.inputs.shape
    assert np.abs(shifted.inputs.astype(int) - clean.inputs).mean() > 2
    assert np.array_equal(shifted.labels, clean.labels)


def test_probabilities_line_up_with_class_codes_when_a_class_is_missing():
    suite = PneumoniaShiftSuite()
    suite.class_names = ("a", "b", "c")
    X = np.r_[np.zeros((5, 2)), np.ones((5, 2))]
    model = LogisticRegression().fit(X, [0] * 5 + [2] * 5)
    proba = suite.predict(model, X)
    assert proba.shape == (10, 3) and np.all(proba[:, 1] == 0)
    assert proba[:5, 0].min() > 0.5 and proba[5:, 2].min() > 0.5
    scores = class_scores(np.array([0] * 5 + [2] * 5), proba)
    assert scores == {"balanced_accuracy": 1.0, "auroc": 1.0}


def test_harmonised_wbc_units_use_other_features_and_say_so(wbc_data, tmp_path):
    plain = WbcSuite(wbc_data, image_size=32, source_per_class=4)
    harmonised = WbcSuite(wbc_data, image_size=32, source_per_class=4, harmonize=" Reinhard")
    unit = Unit("pbc", "bccd", 1, 0)
    a, b = plain.split(unit), harmonised.split(unit)
    assert a.X.shape == b.X.shape and np.array_equal(a.y, b.y)
    assert not np.allclose(a.X, b.X)
    assert b.context["record"] == {"harmonizer": "reinhard"}
    methods = ["source_only", "skada_coral"]
    for suite in (plain, harmonised):
        run_suite(suite, tmp_path, seeds=1, ks=[1], only=methods, log=lambda _: None)
    # separate unit folders and tables: the plain run keeps the files it always had
    assert harmonised.label == "wbc.harmonize-reinhard"
    for label, spec in (("wbc", "none"), ("wbc.harmonize-reinhard", "reinhard")):
        records = json.loads((tmp_path / f"{label}.json").read_text())
        assert {r["method"] for r in records} == set(methods)
        assert {(r["harmonize"], r["harmonizer"]) for r in records} == {(spec, spec)}
        assert (tmp_path / label / "units" / "pbc__bccd__k1__s0.json").is_file()
    assert "## wbc --harmonize reinhard:" in (tmp_path / "wbc.harmonize-reinhard.md").read_text()
    assert "## wbc:" in (tmp_path / "wbc.md").read_text()
    readme = tmp_path / "README.md"
    readme.write_text("# x\n")
    update_readme(readme, tmp_path)
    text = readme.read_text()
    assert text.index("### wbc\n") < text.index("### wbc --harmonize reinhard\n")


def test_harmonize_is_checked_before_any_work(wbc_data, tmp_path):
    with pytest.raises(ConfigError, match="reinhart"):
        WbcSuite(wbc_data, harmonize="reinhart")
    result = CliRunner().invoke(app, ["bench", "--suite", "heart", "--harmonize", "auto",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 2 and "changes image pixels" in result.output
