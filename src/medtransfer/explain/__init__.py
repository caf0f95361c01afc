"""Explanations: Grad-CAM heat maps for images, permutation importance for tables."""

from medtransfer.explain.gradcam import default_layer, explain_images, grad_cam, save_overlay
from medtransfer.explain.importance import FeatureImportance, rank_features
from medtransfer.explain.scores import NumericalScoreHead, log_proba_scores, score_jacobian
from medtransfer.finetune.logits import linear_model_of, logit_function

__all__ = [
    "FeatureImportance",
    "NumericalScoreHead",
    "default_layer",
    "explain_images",
    "grad_cam",
    "linear_model_of",
    "log_proba_scores",
    "logit_function",
    "rank_features",
    "save_overlay",
    "score_jacobian",
]
