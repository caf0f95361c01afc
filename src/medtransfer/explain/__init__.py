"""Explanations: Grad-CAM heat maps for images, permutation importance for tables."""

from medtransfer.explain.gradcam import default_layer, explain_images, grad_cam, save_overlay
from medtransfer.explain.importance import FeatureImportance, rank_features

__all__ = [
    "FeatureImportance",
    "default_layer",
    "explain_images",
    "grad_cam",
    "rank_features",
    "save_overlay",
]
