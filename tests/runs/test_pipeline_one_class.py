"""Labelled target samples of a single class: what the pipeline fits and what it refuses."""

from __future__ import annotations

import numpy as np
import pytest

from medtransfer.datasets import heart_disease
from medtransfer.errors import DataError
from medtransfer.runs.pipeline import TransferPipeline


def test_target_only_needs_two_labelled_classes():
    source, target = heart_disease("Cleveland"), heart_disease("Hungary")
    healthy = [str(i) for i in target.ids[target.labels == 0][:6]]
    pipeline = TransferPipeline(method="pooled", classifier="logreg", progress=False)
    pipeline.fit(source, target, target_labels=healthy)
    # the target-only baseline cannot learn from one class and is left out; the rest fit
    assert pipeline.model_names == ["pooled", "source_only"]
    assert set(np.unique(pipeline.predict(target))) <= {0, 1}
    with pytest.raises(DataError, match=r"6 labelled target samples are all of one class"):
        TransferPipeline(method="target_only", progress=False).fit(
            source, target, target_labels=healthy)
