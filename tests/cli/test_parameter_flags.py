"""A library parameter error reaches the user as one line naming the command's flag."""

import sys

import pytest
from tests.cli_output import one_clean_line

from medtransfer.cli import app
from medtransfer.cli.options import FlagStyle, flag_of, parameter_message
from medtransfer.params import Interval, Options, ParameterError, Requires, check_params


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--engine", "cuda", "error: --engine 'cuda': expected one of auto, onnx, torch"),
        ("--format", "xml", "error: --format 'xml': expected one of human, json"),
        ("--image-size", "8", "error: --image-size 8: expected an integer from 16 to 1024"),
    ],
)
def test_a_bad_flag_value_is_one_line_naming_the_flag(
    runner, heart_csv, tmp_path, flag, value, expected
):
    args = ["shift", str(heart_csv), str(heart_csv), "--label-col", "diagnosis",
            flag, value, "-o", str(tmp_path / "s")]
    assert one_clean_line(runner.invoke(app, args)).startswith(expected)
    assert not (tmp_path / "s").exists()


def test_flags_default_to_the_parameter_name_and_the_table_holds_the_exceptions():
    assert flag_of("image_size") == "--image-size"
    assert flag_of("random_state") == "--seed"


class _Pipeline:
    _parameter_constraints = {"task": Options("classification", "regression"),  # noqa: RUF012
                              "max_fits": Interval(int, 0, None)}
    _parameter_rules = (Requires("target_transform", unless="none",
                                 needs={"task": "regression"}),)

    def __init__(self, task="classification", max_fits=0, target_transform="none"):
        self.task, self.max_fits, self.target_transform = task, max_fits, target_transform


def _error(**params) -> ParameterError:
    with pytest.raises(ParameterError) as info:
        check_params(_Pipeline(**params))
    return info.value


def test_rules_name_every_parameter_by_its_flag():
    flags = {"--task", "--target-transform"}
    assert parameter_message(_error(task="regresion"), flags) == (
        "--task 'regresion': expected one of classification, regression")
    assert parameter_message(_error(target_transform="log"), flags) == (
        "--target-transform 'log': applies only with --task regression")


def test_a_parameter_the_command_has_no_flag_for_keeps_the_library_words():
    err = _error(max_fits=-1)
    assert parameter_message(err, {"--task"}) == "_Pipeline(max_fits=-1): expected an integer >= 0"
    assert err.render(FlagStyle({"--max-fits"})) == "--max-fits -1: expected an integer >= 0"


HEART = ["--label-col", "diagnosis", "--site-col", "dataset", "--source-site", "Cleveland",
         "--target-site", "Hungary"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--harmonize", "reinhard"], "error: --harmonize 'reinhard': changes image pixels, but "
         "source 'Cleveland' is a table; use --harmonize none"),
        (["--augment", "2"], "error: --augment 2: changes image pixels, but the data are tables; "
         "use --augment 0"),
        (["--label-map", "0=no,sick"], "error: --label-map '0=no,sick': entry 'sick' is not "
         "RAW=CLASS; write e.g. '0=no disease,1-4=disease'"),
        (["--target-labels", "500"], "error: --target-labels 500: is larger than the 293 "
         "labelled samples of target 'Hungary'; pass at most 293"),
    ],
)
def test_a_library_refusal_in_fit_names_the_flag(runner, heart_csv, tmp_path, args, expected):
    result = runner.invoke(app, ["fit", str(heart_csv), str(heart_csv), *HEART, "--method",
                                 "source_only", *args, "-o", str(tmp_path / "run")])
    assert one_clean_line(result) == expected
    assert not (tmp_path / "run").exists()


def test_rank_names_target_labels_for_a_negative_k(runner, heart_csv, tmp_path):
    result = runner.invoke(app, ["rank", str(heart_csv), "--source", str(heart_csv),
                                 "--label-col", "diagnosis", "--target-labels", "-1",
                                 "-o", str(tmp_path / "r")])
    assert one_clean_line(result) == (
        "error: --target-labels -1: expected an integer >= 0; the number of labelled target "
        "samples, e.g. 20")


def test_extract_names_shard_and_engine(runner, image_folders, tmp_path, monkeypatch):
    source, _ = image_folders
    args = ["extract", str(source), "-o", str(tmp_path / "store"), "--quiet"]
    assert one_clean_line(runner.invoke(app, [*args, "--shard", "4/4"])) == (
        "error: --shard '4/4': expected i/N with 0 <= i < N, e.g. 0/4")
    from medtransfer.features import engine

    monkeypatch.setattr(engine, "onnx_available", lambda: False)
    assert one_clean_line(runner.invoke(app, [*args, "--engine", "onnx"])) == (
        "error: --engine 'onnx': needs ONNX Runtime; run `pip install 'medtransfer[onnx]'` or "
        "use --engine torch")
    assert one_clean_line(runner.invoke(app, [*args, "--engine", "cuda"])) == (
        "error: --engine 'cuda': expected one of auto, onnx, torch, ray")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the ray extra were not installed
    no_ray = ["extract", str(source), "-o", str(tmp_path / "by_ray"), "--engine", "ray"]
    assert one_clean_line(runner.invoke(app, no_ray)) == (
        "error: --engine 'ray': needs Ray Data; run `pip install 'medtransfer[ray]'` or use "
        "--engine auto")
    assert not (tmp_path / "by_ray").exists()


def test_label_map_and_drop_cols_name_their_flags_in_fit(runner, heart_csv, image_folders,
                                                          tmp_path):
    source, target = image_folders
    result = runner.invoke(app, ["fit", str(source), str(target), "--drop-cols", "age",
                                 "-o", str(tmp_path / "run")])
    line = one_clean_line(result)
    assert line.startswith("error: --drop-cols ['age']: applies to tables; ") and line.endswith(
        "holds images"), line
    result = runner.invoke(app, ["fit", str(heart_csv), str(heart_csv), *HEART, "--label-col",
                                 "age", "--task", "regression", "--label-map", "0=a",
                                 "-o", str(tmp_path / "run")])
    line = one_clean_line(result)
    assert line.startswith("error: --label-map '0=a': maps classes, but ") and line.endswith(
        "has continuous labels; leave it out"), line
    assert not (tmp_path / "run").exists()
