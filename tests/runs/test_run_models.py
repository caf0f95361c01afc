"""Every run model follows sklearn's estimator contract and the run protocol."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from medtransfer.datasets import heart_disease
from medtransfer.runs import (
    EffectPipeline,
    FineTunedPipeline,
    RunModel,
    SourceFreePipeline,
    TransferPipeline,
    fit_run,
)


def models():
    return [
        TransferPipeline(method="coral", classifier="logreg", random_state=3),
        FineTunedPipeline(TransferPipeline(image_size=None), transfer_loss="mmd",
                          finetune_options={"epochs": 1}),
        EffectPipeline("exang", TransferPipeline(classifier="logreg"), n_refits=5),
        SourceFreePipeline("runs/some-run", adaptation="adabn", epochs=1),
    ]


@pytest.mark.parametrize("model", models(), ids=lambda m: type(m).__name__)
def test_clone_gives_an_unfitted_copy_with_equal_parameters(model):
    copy = clone(model)
    assert type(copy) is type(model) and copy is not model
    params, copied = model.get_params(deep=False), copy.get_params(deep=False)
    assert params.keys() == copied.keys()
    for key, value in params.items():
        if hasattr(value, "get_params"):  # a nested estimator is cloned too
            assert value.get_params() == copied[key].get_params() and value is not copied[key]
        else:
            assert copied[key] == value
    assert isinstance(copy, RunModel)


@pytest.mark.parametrize("model", models(), ids=lambda m: type(m).__name__)
def test_an_unfitted_model_says_so(model):
    with pytest.raises(NotFittedError):
        model.write_to(None)


def test_set_params_reaches_the_arm_template_and_fit_leaves_parameters_alone(tmp_path):
    effect = EffectPipeline("exang", TransferPipeline(method="source_only"), n_refits=3)
    effect.set_params(pipeline__classifier="logreg")
    assert effect.pipeline.classifier == "logreg"
    source, target = heart_disease("Cleveland"), heart_disease("Hungary")
    pipeline = TransferPipeline(method="auto", method_params={"candidates": ["coral"]},
                                classifier="logreg", progress=False)
    before = pipeline.get_params(deep=False)
    result = fit_run(pipeline, source, target, tmp_path / "run", target_labels=10,
                     n_resamples=20)
    assert pipeline.get_params(deep=False) == before
    assert result.manifest["method"] == "auto" and result.manifest["chosen_method"]
    assert result.manifest["target"]["n_labelled"] == len(pipeline.labelled_target_ids_) == 10
    # the held-out target is every target sample whose label the fit did not use
    ids = set(result.predictions["id"])
    assert not ids & set(pipeline.labelled_target_ids_)
    assert len(ids) == len(target) - 10
    loaded = TransferPipeline.load(tmp_path / "run")
    np.testing.assert_allclose(loaded.predict_proba(target), pipeline.predict_proba(target))


def test_a_run_written_before_store_weights_existed_still_loads(tmp_path):
    from medtransfer import artifacts

    source, target = heart_disease("Cleveland"), heart_disease("Hungary")
    pipeline = TransferPipeline(method="source_only", classifier="logreg", progress=False)
    run = pipeline.fit(source, target).save(tmp_path / "run")
    manifest = artifacts.read_manifest(run)
    del manifest["pipeline"]["store_weights"]
    (run / artifacts.MANIFEST).unlink()
    artifacts.write_manifest(run, {k: v for k, v in manifest.items()
                                   if k not in ("files", "integrity")})
    loaded = TransferPipeline.load(run)
    assert loaded.store_weights is False
    np.testing.assert_allclose(loaded.predict_proba(target), pipeline.predict_proba(target))
