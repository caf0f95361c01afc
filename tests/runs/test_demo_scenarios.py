"""The demo's declared candidate lists name methods that run for the scenario's task and k."""

import pytest

from medtransfer.adapt.base import METHODS
from medtransfer.runs.demo import SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_declared_candidates_are_registered_methods_for_the_task(scenario):
    candidates = scenario.pipeline["method_params"]["candidates"]
    task = scenario.pipeline.get("task", "classification")
    assert candidates and len(set(candidates)) == len(candidates)
    for name in candidates:
        method = METHODS.get(name)  # an unknown name raises with suggestions
        assert task in method.tasks, name
        assert not (method.needs_target_labels and scenario.target_labels == 0), name
