"""Audits of a trained pipeline: leakage by splitting, shortcuts, selection bias, a latent space.

- ``near_duplicates``: test compositions with a near-duplicate (same elements, close fractions) in training;
- ``shortcuts``: whether metadata columns (lab, source paper, year, batch) carry the prediction;
- ``selection_bias``: failed experiments, censored targets, a feasibility classifier, inverse-propensity
  weights;
- ``latent``: a variational autoencoder on the descriptors (latent features and an OOD score).
"""
