"""The declarative parameter constraints: each kind, the rules, and the messages."""

from typing import ClassVar

import numpy as np
import pytest

from medtransfer.errors import ConfigError
from medtransfer.params import (
    AnyOf,
    Constraints,
    Given,
    InstanceOf,
    Interval,
    Names,
    Options,
    Param,
    ParameterError,
    Requires,
    check_params,
    check_value,
)
from medtransfer.registry import Registry


class Model:
    _parameter_constraints: ClassVar[Constraints] = {
        "task": Options("classification", "regression"),
        "transform": Options("none", "sqrt", "log"),
        "tolerance": Interval(float, 0, 1, closed="neither"),
        "margin": Interval(float, 0, Param("tolerance"), closed="left"),
        "copies": Interval(int, 0, None),
        "bandwidth": AnyOf(Options("cv"), Interval(float, 0, None)),
        "checkpoint": AnyOf(None, InstanceOf(str, what="a folder name")),
    }
    _parameter_rules = (
        Requires("transform", unless="none", needs={"task": "regression"}),
        Requires("resume", unless=False, needs={"checkpoint": Given()},
                 why="it reads the checkpoint"),
    )

    def __init__(self, task="classification", transform="none", tolerance=0.2, margin=0.0,
                 copies=0, bandwidth="cv", checkpoint=None, resume=False):
        self.task, self.transform, self.tolerance, self.margin = task, transform, tolerance, margin
        self.copies, self.bandwidth, self.checkpoint, self.resume = (copies, bandwidth,
                                                                     checkpoint, resume)


def _error(**params) -> ParameterError:
    with pytest.raises(ParameterError) as info:
        check_params(Model(**params))
    return info.value


def test_defaults_and_every_kind_of_valid_value_pass():
    check_params(Model())
    check_params(Model(task="regression", transform="log", tolerance=0.5, margin=0.4,
                       copies=np.int64(3), bandwidth=2, checkpoint="ckpt", resume=True))


def test_options_message_names_the_class_parameter_and_choices():
    err = _error(task="regresion")
    assert str(err) == ("Model(task='regresion'): expected one of 'classification', "
                        "'regression'")
    assert (err.owner, err.param, err.value) == ("Model", "task", "regresion")
    assert err.expected == "expected one of 'classification', 'regression'"
    assert isinstance(err, ConfigError) and isinstance(err, ValueError)


@pytest.mark.parametrize("value", [True, 1, None, ["classification"], np.array([1, 2])])
def test_options_compare_by_value_and_kind(value):
    assert not Options("classification", 0).accepts(value, {})


def test_a_flag_is_not_the_number_one():
    flags = Options("auto", True, False)
    assert flags.accepts(True, {}) and not flags.accepts(1, {}) and not flags.accepts(0.0, {})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"tolerance": 1.0}, "Model(tolerance=1.0): expected a number in (0, 1)"),
        ({"tolerance": True}, "Model(tolerance=True): expected a number in (0, 1)"),
        ({"tolerance": float("nan")}, "Model(tolerance=nan): expected a number in (0, 1)"),
        ({"margin": 0.3}, "Model(margin=0.3): expected a number in [0, tolerance)"),
        ({"copies": -1}, "Model(copies=-1): expected an integer >= 0"),
        ({"copies": 1.5}, "Model(copies=1.5): expected an integer >= 0"),
        ({"bandwidth": "wide"}, "Model(bandwidth='wide'): expected 'cv' or a number >= 0"),
        ({"checkpoint": 3}, "Model(checkpoint=3): expected None or a folder name"),
    ],
)
def test_each_constraint_kind_refuses_with_its_description(params, message):
    assert str(_error(**params)) == message


def test_interval_words_for_closed_and_open_ended_ranges():
    check = Interval(int, 16, 1024, hint="64 is quick on a CPU")
    with pytest.raises(ParameterError, match=r"^f\(size=8\): expected an integer from 16 to "
                                             r"1024; 64 is quick on a CPU$"):
        check_value("f", "size", 8, check)
    assert Interval(float, None, 5, closed="neither").accepts(-1e9, {})
    with pytest.raises(TypeError):
        Interval(str, 0, 1)


def test_a_rule_names_the_parameter_and_what_it_needs():
    err = _error(transform="sqrt")
    assert str(err) == "Model(transform='sqrt'): applies only with task='regression'"
    assert err.param == "transform" and err.value == "sqrt"
    err = _error(resume=True)
    assert str(err) == ("Model(resume=True): applies only with checkpoint set "
                        "(it reads the checkpoint)")


def test_constraints_are_checked_before_rules_and_values_can_be_resolved():
    assert _error(task="x", transform="sqrt").param == "task"
    model = Model(task="classification", transform="log")
    check_params(model, task="regression")
    with pytest.raises(ParameterError, match="applies only with task='regression'"):
        check_params(model)


def test_registered_names_are_read_when_checked():
    registry = Registry("loss", "medtransfer methods")
    names = Names(registry, "none")
    assert names.accepts("none", {}) and not names.accepts("mmd", {})
    registry.add("mmd", object())
    assert names.accepts("mmd", {})
    with pytest.raises(ParameterError, match=r"expected one of 'none', 'mmd' \(`medtransfer "
                                             r"methods` lists them\)"):
        check_value("FineTuner", "transfer_loss", "lossy", names)
    with pytest.raises(ParameterError, match=r"lists them\); did you mean 'mmd'\?$"):
        check_value("FineTuner", "transfer_loss", "mdm", names)


def test_a_plain_value_is_the_one_option():
    check_value("f", "mode", "keep", "keep")
    with pytest.raises(ParameterError, match=r"^f\(mode='drop'\): expected 'keep'$"):
        check_value("f", "mode", "drop", "keep")
