"""Decision-boundary grids (nets.boundary): checked against the model evaluated point by point."""

from __future__ import annotations

import numpy as np

import nets


def test_feature_view_grid_equals_the_model_at_each_raw_point():
    """Reference: predict_proba on the raw point (chosen features at the grid value, others at the training
    mean) pushed through the problem's own standardization."""
    prob = nets.problem("iris", hidden=(4,), activation="tanh", standardize=True, seed=0)
    theta = prob.init(2, seed=1)
    g = nets.boundary_grid(prob, theta, (2, 3), resolution=7)
    raw_mean = prob.split.inverse_transform(prob.X_train).mean(axis=0)
    for iy, ix in [(0, 0), (3, 5), (6, 6)]:
        raw = raw_mean.copy()
        raw[2], raw[3] = g.xs[ix], g.ys[iy]
        want = prob.predict_proba(theta, prob.transform(raw[None]))[:, 0]
        np.testing.assert_allclose(g.probs[:, iy, ix], want, rtol=1e-12, atol=1e-15)
    assert g.probs.shape == (2, 7, 7, 3) and g.points.shape == (prob.X_train.shape[0], 2)


def test_pca_view_spans_the_top_two_principal_directions():
    """Reference: numpy's SVD of the centred inputs; the training points' PC scores reconstruct their
    projection onto the plane, and the grid's corners lie on that plane."""
    prob = nets.problem("iris", hidden=(), standardize=True, seed=0)
    theta = prob.init(1, seed=0)
    g = nets.boundary_grid(prob, theta, None, resolution=5)
    X = prob.X_train - prob.X_train.mean(axis=0)
    _, _, vt = np.linalg.svd(X, full_matrices=False)
    np.testing.assert_allclose(np.abs(g.points), np.abs(X @ vt[:2].T), rtol=1e-10, atol=1e-12)
    assert g.xlabel.startswith("PC 1") and g.ylabel.startswith("PC 2")
