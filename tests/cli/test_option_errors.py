"""Out-of-range options and overflowing values are one line and exit code 2, checked early."""

import pandas as pd
import pytest
from tests.cli_output import one_clean_line

from medtransfer.cli import app


def _fit(heart_csv, tmp_path, *extra):
    return ["fit", str(heart_csv), str(heart_csv), "--label-col", "diagnosis", "--method",
            "source_only", "-o", str(tmp_path / "r"), *extra]


@pytest.mark.parametrize("seed", ["-1", "99999999999999999999"])
def test_seed_out_of_range(runner, heart_csv, tmp_path, seed):
    line = one_clean_line(runner.invoke(app, _fit(heart_csv, tmp_path, "--seed", seed)))
    assert f"--seed {seed} is out of range" in line and "0 to 4294967295" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("size", ["0", "100000"])
def test_image_size_out_of_range(runner, image_folders, tmp_path, size):
    source, target = image_folders
    args = ["shift", str(source), str(target), "--image-size", size, "-o", str(tmp_path / "s")]
    line = one_clean_line(runner.invoke(app, args))
    assert f"--image-size {size}: expected an integer from 16 to 1024" in line


@pytest.mark.parametrize("labels", ["-5", "1e3"])
def test_target_labels_neither_count_nor_file(runner, heart_csv, tmp_path, labels):
    args = _fit(heart_csv, tmp_path, "--target-labels", labels)
    line = one_clean_line(runner.invoke(app, args))
    assert f"--target-labels {labels!r} is neither a non-negative integer" in line


@pytest.mark.parametrize("command", ["fit", "shift", "rank"])
def test_values_near_the_float64_limit_are_refused(runner, heart_csv, tmp_path, command):
    frame = pd.read_csv(heart_csv)
    frame.loc[3, "chol"] = 1e308
    table = tmp_path / "big.csv"
    frame.to_csv(table, index=False)
    out = ["-o", str(tmp_path / "out"), "--label-col", "diagnosis"]
    args = {
        "fit": ["fit", str(table), str(table), "--method", "source_only", *out],
        "shift": ["shift", str(table), str(table), *out],
        "rank": ["rank", str(table), "--source", str(table), *out],
    }[command]
    line = one_clean_line(runner.invoke(app, args))
    assert "column 'chol' has 1 values beyond +-1e+150 (first 1e+308 at row 3)" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("images", "labels", "expected"),
    [
        ((20, 8, 8), [0, 1] * 9 + [0, 2**40], "class label 1099511627776 is not a class code"),
        ((0, 8, 8), [], "train_images has shape (0, 8, 8); expected at least one image"),
        ((20, 1, 1), [0, 1] * 10, "train_images has shape (20, 1, 1); expected at least one"),
    ],
)
def test_unusable_npz_archives(runner, tmp_path, images, labels, expected):
    import numpy as np

    archive = tmp_path / "bad.npz"
    np.savez(archive, train_images=np.zeros(images, np.uint8), train_labels=np.array(labels))
    args = ["fit", str(archive), str(archive), "--method", "source_only", "-o", str(tmp_path / "r")]
    assert expected in one_clean_line(runner.invoke(app, args))


@pytest.mark.slow
def test_report_refuses_a_broken_shift_json_and_keeps_an_existing_report(
    runner, heart_csv, tmp_path
):
    assert runner.invoke(app, _fit(heart_csv, tmp_path)).exit_code == 0
    run = tmp_path / "r"
    (run / "report.html").write_text("old")
    (run / "shift.json").write_text("{bad")
    line = one_clean_line(runner.invoke(app, ["report", str(run)]))
    assert "shift.json is not valid JSON" in line
    (run / "shift.json").write_text("[1, 2]")
    line = one_clean_line(runner.invoke(app, ["report", str(run)]))
    assert "shift.json holds a JSON list" in line
    (run / "shift.json").unlink()
    (run / "report.html").unlink()
    assert runner.invoke(app, ["report", str(run)]).exit_code == 0
    line = one_clean_line(runner.invoke(app, ["report", str(run)]))
    assert "report.html already exists" in line and "--force" in line
    assert runner.invoke(app, ["report", str(run), "--force"]).exit_code == 0


def test_repeated_column_names_are_refused(runner, tmp_path):
    table = tmp_path / "dup.csv"
    table.write_text("age,age,label\n" + "\n".join(f"{i},{2 * i},{i % 2}" for i in range(40)))
    args = ["fit", str(table), str(table), "--label-col", "label", "-o", str(tmp_path / "r")]
    line = one_clean_line(runner.invoke(app, args))
    assert "the header repeats column(s) ['age']" in line


@pytest.mark.slow
@pytest.mark.parametrize(
    "values", [lambda n: pd.date_range("2020-01-01", periods=n, freq="D").astype(str),
               lambda n: pd.to_timedelta(range(n), unit="h").astype(str)]
)
def test_date_and_duration_columns_are_dropped_with_a_warning(runner, heart_csv, tmp_path, values):
    frame = pd.read_csv(heart_csv)
    frame["visit"] = values(len(frame))
    table = tmp_path / "dated.csv"
    frame.to_csv(table, index=False)
    args = ["fit", str(table), str(table), "--label-col", "diagnosis", "--method",
            "source_only", "-o", str(tmp_path / "r")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "column(s) ['visit'] hold dates or durations and are not used" in result.output
    assert "visit" not in (tmp_path / "r" / "manifest.json").read_text()


def test_an_unknown_classifier_is_one_line(runner, heart_csv, tmp_path):
    line = one_clean_line(runner.invoke(app, _fit(heart_csv, tmp_path, "--classifier", "svn")))
    assert "--classifier 'svn': expected one of auto, boosting" in line
    assert "did you mean svm?" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("protect", "method", "needle"), [
    ("age,agee", "combat", "--protect: column(s) ['agee'] not in the table; its feature "
     "columns are ['age',"),
    ("age", "source_only", "--protect applies to methods that move features"),
])
def test_protect_names_a_table_column_for_a_method_that_aligns(runner, heart_csv, tmp_path,
                                                               protect, method, needle):
    args = ["fit", str(heart_csv), str(heart_csv), "--label-col", "diagnosis", "--method",
            method, "--protect", protect, "-o", str(tmp_path / "r")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and needle in one_clean_line(result)
    assert not (tmp_path / "r").exists()
