"""Ranking candidates by transferability and checking the ranking with Kendall's tau."""

import numpy as np
import pytest

from medtransfer.errors import ConfigError, DataError
from medtransfer.select.ranking import plot_ranking, rank_candidates, validate_ranking


def candidates(seed=0, n=60):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return {
        "noise": (rng.normal(size=(n, 4)), y),
        "weak": (rng.normal(size=(n, 4)) + 0.5 * y[:, None], y),
        "strong": (rng.normal(size=(n, 4)) + 3.0 * y[:, None], y),
    }


@pytest.mark.parametrize("score", ["logme", "hscore"])
def test_informative_features_rank_first(score):
    ranking = rank_candidates(candidates(), score=score)
    assert [r["name"] for r in ranking] == ["strong", "weak", "noise"]
    assert [r["rank"] for r in ranking] == [1, 2, 3]
    assert ranking[0]["score"] > ranking[1]["score"] > ranking[2]["score"]
    assert ranking[0]["n_samples"] == 60 and ranking[0]["n_features"] == 4


def test_shrinkage_h_score_ranks_with_more_features_than_samples():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 20)
    features = {"noise": rng.normal(size=(20, 40)), "signal": rng.normal(size=(20, 40))}
    features["signal"][:, :5] += 2.0 * y[:, None]
    ranking = rank_candidates({k: (v, y) for k, v in features.items()}, "hscore_shrinkage")
    assert [r["name"] for r in ranking] == ["signal", "noise"]


def test_leep_ranks_source_models_by_their_probabilities():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 50)
    sharp = np.clip(0.9 * np.eye(2)[y] + 0.05, 0, 1)
    blind = np.full((50, 2), 0.5)
    ranking = rank_candidates({"blind": (blind, y), "sharp": (sharp, y)}, score="leep")
    assert ranking[0]["name"] == "sharp" and ranking[0]["score_name"] == "leep"


def test_validate_ranking_is_kendalls_tau():
    scores = {"a": 3.0, "b": 2.0, "c": 1.0, "d": 0.0}
    assert validate_ranking(scores, {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6})[
        "kendall_tau"] == pytest.approx(1.0)
    assert validate_ranking(scores, {"a": 0.6, "b": 0.7, "c": 0.8, "d": 0.9})[
        "kendall_tau"] == pytest.approx(-1.0)
    # one discordant pair (c, d) of six: tau = (5 - 1) / 6
    result = validate_ranking(scores, {"a": 0.9, "b": 0.8, "c": 0.6, "d": 0.7})
    assert result["kendall_tau"] == pytest.approx(4 / 6) and result["n_candidates"] == 4


def test_validate_ranking_accepts_the_ranking_list():
    ranking = rank_candidates(candidates())
    perf = {"strong": 0.95, "weak": 0.7, "noise": 0.5}
    assert validate_ranking(ranking, perf)["kendall_tau"] == pytest.approx(1.0)


def test_plot_ranking_writes_a_png(tmp_path):
    path = plot_ranking(rank_candidates(candidates()), tmp_path / "rank.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_bad_rankings_are_explained():
    with pytest.raises(DataError, match=r"scored only: \['c'\], fitted only: \['d'\]"):
        validate_ranking({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2, "d": 3})
    with pytest.raises(DataError, match="2 candidates; Kendall's tau needs at least 3"):
        validate_ranking({"a": 1, "b": 2}, {"a": 1, "b": 2})
    with pytest.raises(ConfigError, match="no candidates given"):
        rank_candidates({})
    with pytest.raises(ConfigError, match=r"candidate 'x' must be a \(features, labels\) pair"):
        rank_candidates({"x": np.zeros((3, 2))})
    with pytest.raises(ConfigError, match="unknown transferability score 'leap'"):
        rank_candidates(candidates(), score="leap")
    with pytest.raises(ConfigError, match="the ranking is empty"):
        plot_ranking([], "x.png")
