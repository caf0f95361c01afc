"""Choosing honestly: `auto`, few-label validation, unsupervised scorers, transferability."""

from medtransfer.select.auto import AutoTransfer
from medtransfer.select.ranking import plot_ranking, rank_candidates, validate_ranking
from medtransfer.select.transferability import (
    TRANSFERABILITY,
    get_score,
    h_score,
    leep,
    logme,
    nce,
    regularized_h_score,
)
from medtransfer.select.unsupervised import agreement_choice, score_without_labels
from medtransfer.select.validation import paired_bootstrap, target_folds, validate_methods

__all__ = [
    "TRANSFERABILITY",
    "AutoTransfer",
    "agreement_choice",
    "get_score",
    "h_score",
    "leep",
    "logme",
    "nce",
    "paired_bootstrap",
    "plot_ranking",
    "rank_candidates",
    "regularized_h_score",
    "score_without_labels",
    "target_folds",
    "validate_methods",
    "validate_ranking",
]
