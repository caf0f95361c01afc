from medtransfer.cli import app


def _one_clean_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_missing_label_column_is_one_line_and_exit_code_2(runner, heart_csv, tmp_path):
    args = ["fit", str(heart_csv), str(heart_csv), "--label-col", "nope", "-o", str(tmp_path / "r")]
    line = _one_clean_line(runner.invoke(app, args))
    assert "'nope'" in line and "diagnosis" in line


def test_existing_run_is_not_overwritten_without_force(runner, heart_csv, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "keep.txt").write_text("precious")
    args = ["fit", str(heart_csv), str(heart_csv), "--label-col", "diagnosis", "-o", str(run)]
    line = _one_clean_line(runner.invoke(app, [*args, "--method", "source_only"]))
    assert "already exists" in line and "--force" in line
    assert (run / "keep.txt").read_text() == "precious"


def test_unknown_method_gets_a_suggestion(runner, heart_csv, tmp_path):
    args = ["fit", str(heart_csv), str(heart_csv), "--label-col", "diagnosis", "--method", "corall"]
    line = _one_clean_line(runner.invoke(app, [*args, "-o", str(tmp_path / "r")]))
    assert "Did you mean 'coral'" in line and "medtransfer methods" in line


def test_a_tampered_run_is_refused(runner, heart_csv, tmp_path):
    run = tmp_path / "run"
    args = ["fit", str(heart_csv), str(heart_csv), "--label-col", "diagnosis", "-o", str(run)]
    assert runner.invoke(app, [*args, "--method", "source_only"]).exit_code == 0
    model = run / "model" / "source_only.skops"
    model.write_bytes(model.read_bytes()[:-10] + b"0123456789")
    predict = ["predict", str(run), str(heart_csv), "-o", str(tmp_path / "p.csv")]
    line = _one_clean_line(runner.invoke(app, predict))
    assert "does not match its sha256" in line
    assert not (tmp_path / "p.csv").exists()


def test_regression_with_sqrt_refuses_non_positive_targets(runner, tmp_path):
    table = tmp_path / "dose.csv"
    table.write_text("x,dose\n" + "\n".join(f"{i},{i % 7}" for i in range(40)))
    args = ["fit", str(table), str(table), "--label-col", "dose", "--task", "regression"]
    args += ["--target-transform", "sqrt", "--method", "source_only", "-o", str(tmp_path / "r")]
    line = _one_clean_line(runner.invoke(app, args))
    assert "needs positive targets" in line


def test_pw20_point_outside_regression_auto_is_refused(runner, tmp_path, heart_csv):
    args = ["fit", str(heart_csv), str(heart_csv), "--point", "pw20", "-o", str(tmp_path / "r")]
    line = _one_clean_line(runner.invoke(app, args))
    assert "--point 'pw20': applies only with --task regression and --method auto" in line
    assert not (tmp_path / "r").exists()


def test_treatment_effect_with_finetune_is_refused(runner, heart_csv, tmp_path):
    args = ["fit", str(heart_csv), str(heart_csv), "--label-col", "diagnosis", "--site-col",
            "dataset", "--source-site", "Cleveland", "--target-site", "Hungary",
            "--treatment-col", "exang", "--finetune", "mmd", "-o", str(tmp_path / "r")]
    line = _one_clean_line(runner.invoke(app, args))
    assert "--treatment-col fits tables" in line and not (tmp_path / "r").exists()
