"""Featurize: physical descriptors computed once per unique composition
(:func:`matshift.featurizers.featurize_materials`)."""

from __future__ import annotations

from matshift.featurizers import featurize_materials

__all__ = ["featurize_materials"]
