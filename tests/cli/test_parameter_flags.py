"""A library parameter error reaches the user as one line naming the command's flag."""

import pytest

from medtransfer.cli import app
from medtransfer.cli.options import FlagStyle, flag_of, parameter_message
from medtransfer.params import Interval, Options, ParameterError, Requires, check_params


def _one_clean_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


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
    assert _one_clean_line(runner.invoke(app, args)).startswith(expected)
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
