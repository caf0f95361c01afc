"""``select_transfer_loss``: fine-tunes against the frozen backbone, decided honestly."""

import json
from dataclasses import replace

import numpy as np
import pytest
from tests.finetune.test_trainer import SOURCE, square_domain, tuner

from medtransfer.errors import ConfigError
from medtransfer.finetune.selection import FROZEN, fit_candidate, select_transfer_loss
from medtransfer.finetune.source_free import adapt_batch_norm


def partly_labelled(n: int, k_per_class: int, seed: int):
    """A shifted target with the first ``k_per_class`` images of each class labelled."""
    target = square_domain(n, "tgt", seed=seed, offset=40)
    labels = np.full(n, -1)
    for c in (0, 1):
        rows = np.flatnonzero(target.labels == c)[:k_per_class]
        labels[rows] = c
    return replace(target, labels=labels), target.labels


@pytest.mark.slow
def test_few_labels_compares_every_fine_tune_with_the_frozen_backbone_on_held_out_labels():
    target, _ = partly_labelled(24, 6, seed=1)
    result = select_transfer_loss(SOURCE, target, tuner(), candidates=("none", "mcc"))
    assert result["mode"] == "few_labels" and result["candidates"] == [FROZEN, "none", "mcc"]
    assert set(result["scores"]) == {FROZEN, "none", "mcc"}
    assert all(0 <= s <= 1 for s in result["scores"].values())
    comparisons = result["comparisons"]
    assert set(comparisons) == {"none", "mcc"}
    # 12 labelled target images are scored, each once, out of fold
    assert all(c["n"] == 12 for c in comparisons.values())
    for name, c in comparisons.items():
        assert c["mean"] == pytest.approx(result["scores"][name] - result["scores"][FROZEN])
    credible = [n for n, c in comparisons.items() if c["lower"] > 0]
    assert (result["choice"] in credible) if credible else result["choice"] == FROZEN
    json.dumps(result)  # stored in the run's manifest as it is
    again = select_transfer_loss(SOURCE, target, tuner(), candidates=("none", "mcc"))
    assert again["scores"] == result["scores"] and again["choice"] == result["choice"]


def test_fine_tunes_that_fail_are_recorded_and_the_frozen_backbone_is_kept(tmp_path):
    target, _ = partly_labelled(24, 6, seed=2)
    # a checkpoint folder that is a file: every fine-tune fails when it saves its first
    # epoch, the frozen backbone (no epoch) does not
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file")
    result = select_transfer_loss(SOURCE, target, tuner(checkpoint_dir=blocked),
                                  candidates=("none", "mmd"))
    assert set(result["scores"]) == {FROZEN} and result["choice"] == FROZEN
    assert set(result["errors"]) == {"none", "mmd"}
    assert all("not-a-folder" in e for e in result["errors"].values())


@pytest.mark.slow
def test_without_target_labels_the_unsupervised_scorers_must_all_agree():
    target = square_domain(12, "tgt", seed=1, labelled=False, offset=40)
    result = select_transfer_loss(SOURCE, target, tuner(), candidates=("none", "entropy"))
    assert result["mode"] == "unsupervised" and set(result["scores"]) == {FROZEN, "none",
                                                                          "entropy"}
    votes = result["votes"]
    unanimous = [n for n, v in votes.items() if v and all(v.values())]
    assert (result["choice"] in unanimous) if unanimous else result["choice"] == FROZEN


def test_too_few_labels_keep_the_frozen_backbone_and_unknown_losses_fail_first():
    target, _ = partly_labelled(24, 2, seed=1)
    result = select_transfer_loss(SOURCE, target, tuner(), candidates=("none",))
    assert result["choice"] == FROZEN and result["mode"] == "too_few_labels"
    assert "min_class_size=5" in result["reason"]
    with pytest.raises(ConfigError, match="tent"):
        select_transfer_loss(SOURCE, target, tuner(), candidates=("none", "tent"))


@pytest.mark.slow
def test_source_free_candidates_adapt_the_plain_fine_tune_and_compete():
    target = square_domain(12, "tgt", seed=1, labelled=False, offset=40)
    plain = fit_candidate("none", tuner(), SOURCE, target)
    adabn = fit_candidate("adabn", tuner(), SOURCE, target, plain)
    assert np.allclose(adabn.transform(target),
                       adapt_batch_norm(plain, target, progress=False).transform(target))
    assert not np.allclose(adabn.transform(target), plain.transform(target))
    # fitted here when not given: the same seed gives the same plain fine-tune
    again = fit_candidate("adabn", tuner(), SOURCE, target)
    assert np.allclose(again.transform(target), adabn.transform(target))
    labelled, _ = partly_labelled(24, 6, seed=1)
    result = select_transfer_loss(SOURCE, labelled, tuner(), candidates=("shot", "adabn"))
    assert set(result["scores"]) == {FROZEN, "shot", "adabn"} and not result["errors"]
