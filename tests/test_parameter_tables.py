"""Every class with a constraints table refuses a bad value, naming class, parameter and value."""

import pytest

from medtransfer.adapt.label_shift import LabelShiftCorrector
from medtransfer.adapt.parameter_transfer import SourceRegularizedTransfer
from medtransfer.adapt.pseudo_label import SelfTraining, TargetLabelSpreading
from medtransfer.evaluate.calibration import Recalibrator
from medtransfer.features.tabular import TabularEncoder
from medtransfer.models.classifiers import make_classifier
from medtransfer.models.effects import TLearner
from medtransfer.models.tolerance import PW20Decision
from medtransfer.models.transfer_regression import TrAdaBoostR2
from medtransfer.params import ParameterError, check_params
from medtransfer.select.auto import AutoTransfer


def _finetuner(**params):
    from medtransfer.finetune.trainer import FineTuner

    return FineTuner(**params)


def _with_estimator(cls):
    return lambda **params: cls(make_classifier("logreg"), **params)


CASES = [
    (AutoTransfer, "baseline_rule", "best"),
    (AutoTransfer, "target_transform", "cube"),
    (TabularEncoder, "mostly_missing", "ignore"),
    (TabularEncoder, "missing_threshold", 0),
    (PW20Decision, "tolerance", 1.5),
    (PW20Decision, "bandwidth", -1),
    (TLearner, "response", "probability"),
    (LabelShiftCorrector, "method", "ml"),
    (SourceRegularizedTransfer, "model", "tree"),
    (SelfTraining, "target_share", 1.0),
    (TargetLabelSpreading, "target_share", 0),
    (TrAdaBoostR2, "n_folds", 1),
    (Recalibrator, "method", "beta"),
    (_finetuner, "epochs", -1),
    (_finetuner, "schedule", "linear"),
    (_finetuner, "transfer_loss", "mdd"),
]
NEEDS_ESTIMATOR = {TLearner, LabelShiftCorrector, SelfTraining, TargetLabelSpreading}


def _build(factory, **params):
    if factory in NEEDS_ESTIMATOR:
        factory = _with_estimator(factory)
    return factory(**params)


@pytest.mark.parametrize(("factory", "param", "value"), CASES)
def test_a_bad_value_is_refused_naming_the_parameter(factory, param, value):
    model = _build(factory, **{param: value})
    check_params(_build(factory))
    with pytest.raises(ParameterError) as info:
        check_params(model)
    name = type(model).__name__
    assert str(info.value).startswith(f"{name}({param}={value!r}): expected ")
    assert (info.value.owner, info.value.param, info.value.value) == (name, param, value)


@pytest.mark.parametrize("factory", sorted({c[0] for c in CASES}, key=repr))
def test_every_table_entry_is_a_parameter_of_its_class(factory):
    model = _build(factory)
    names = set(model.get_params(deep=False))
    assert set(type(model)._parameter_constraints) <= names
    for rule in getattr(type(model), "_parameter_rules", ()):
        assert {rule.param, *rule.needs} <= names
