"""Featurize: physical descriptors computed once per unique composition
(:func:`matshift.featurizers.featurize_materials`), or a domain module's per-sample features
(:func:`matshift.casestudies.stages.featurize_domain`)."""

from __future__ import annotations

from matshift.casestudies.stages import featurize_domain
from matshift.featurizers import featurize_materials

__all__ = ["featurize_domain", "featurize_materials"]
