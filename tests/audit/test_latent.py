import numpy as np
import pandas as pd
from sklearn.base import clone

from matshift.audit.latent import DescriptorVAE


def test_vae_latent_features_and_ood_score():
    rng = np.random.default_rng(0)
    # in-distribution rows lie near a 2-d plane in 10-d; shifted rows are far off it
    basis = rng.normal(size=(2, 10))
    inside = pd.DataFrame(rng.normal(size=(800, 2)) @ basis + rng.normal(0, 0.05, (800, 10)))
    shifted = pd.DataFrame(rng.normal(0, 3, size=(100, 10)))
    vae = DescriptorVAE(n_latent=2, hidden=16, epochs=40, random_state=0).fit(inside)
    assert vae.transform(inside).shape == (800, 2)
    assert list(vae.latent_frame(inside.iloc[:3]).columns) == ["vae_0", "vae_1"]
    score_inside, score_shifted = vae.ood_score(inside), vae.ood_score(shifted)
    assert 0 <= score_inside.min() and score_shifted.max() <= 1
    assert score_shifted.mean() > score_inside.mean() + 0.3
    np.testing.assert_allclose(vae.score_samples(shifted), -score_shifted)


def test_vae_is_deterministic_and_clonable():
    X = np.random.default_rng(1).normal(size=(200, 5))
    X[::7, 2] = np.nan  # missing descriptors are imputed
    first = DescriptorVAE(n_latent=2, hidden=8, epochs=3).fit(X).transform(X)
    second = clone(DescriptorVAE(n_latent=2, hidden=8, epochs=3)).fit(X).transform(X)
    np.testing.assert_allclose(first, second)
    assert np.isfinite(first).all()
