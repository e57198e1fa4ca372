"""Models, found by name in a registry; every one follows scikit-learn's estimator contract."""

from matshift.models.registry import MODEL_REGISTRY, build_estimator, build_model

__all__ = ["MODEL_REGISTRY", "build_estimator", "build_model"]
