"""Tests of nets/slices.py: 2-D loss slices and 1-D interpolations of networks."""

from __future__ import annotations

import numpy as np
import pytest

import nets
import optimizers


@pytest.fixture(scope="module")
def trained():
    prob = nets.problem("iris", hidden=(8,), activation="tanh", test_fraction=0)
    traj = nets.train(prob, optimizers.get("adam", lr=0.02), epochs=60, k=2, record_every_epochs=5)
    return prob, traj


def test_slice_centre_is_the_loss_at_the_given_parameters(trained):
    """Reference: the objective evaluated directly at the centre parameters."""
    prob, traj = trained
    centre = traj.final_params[0]
    s = nets.slice_2d(prob, centre, resolution=9, seed=1)
    assert s.Z.shape == (9, 9) and s.alphas[4] == 0.0 and s.betas[4] == 0.0
    assert s.center_value == pytest.approx(prob.value(centre[None])[0], rel=1e-12)


def test_batched_grid_equals_a_per_point_loop(trained):
    """Reference: the plane's points evaluated one network at a time."""
    prob, traj = trained
    centre = traj.final_params[1]
    s = nets.slice_2d(prob, centre, resolution=5, span=0.5, seed=2)
    for i, b in enumerate(s.betas):
        for j, a in enumerate(s.alphas):
            point = centre + a * s.d1 + b * s.d2
            assert s.Z[i, j] == pytest.approx(prob.value(point[None])[0], rel=1e-12)


def test_random_directions_are_filter_normalised(trained):
    """Reference: Li et al. 2018 -- each unit's slice of the direction has the norm of that unit's weights;
    biases are zero (the default) or normalised along with their unit."""
    prob, traj = trained
    centre = traj.final_params[0]
    s = nets.slice_2d(prob, centre, resolution=3)
    for ls in prob.layer_slices:
        W = centre[ls.weights].reshape(ls.n_in, ls.n_out)
        D = s.d1[ls.weights].reshape(ls.n_in, ls.n_out)
        np.testing.assert_allclose(np.linalg.norm(D, axis=0), np.linalg.norm(W, axis=0), rtol=1e-12)
        assert not s.d1[ls.bias].any()
    keep = nets.slice_2d(prob, centre, resolution=3, biases="keep")
    ls = prob.layer_slices[0]
    Wb = np.vstack([centre[ls.weights].reshape(ls.n_in, ls.n_out), centre[ls.bias]])
    Db = np.vstack([keep.d2[ls.weights].reshape(ls.n_in, ls.n_out), keep.d2[ls.bias]])
    np.testing.assert_allclose(np.linalg.norm(Db, axis=0), np.linalg.norm(Wb, axis=0), rtol=1e-12)


def test_pca_slice_projects_paths_and_the_centre_maps_to_the_origin(trained):
    """Reference: Li et al. 2018 sec. 7 -- PCA of θ_i − θ_final; the final point projects to (0, 0) and the
    path lies close to the top-2 plane (explained share from the singular values)."""
    prob, traj = trained
    path = traj.params[:, 0, :]
    s = nets.slice_2d(prob, path[-1], directions="pca", paths=[path], resolution=7)
    np.testing.assert_allclose(s.paths[0][-1], [0.0, 0.0], atol=1e-12)
    assert s.explained[0] >= s.explained[1] > 0
    assert abs(s.d1 @ s.d2) < 1e-12
    np.testing.assert_allclose(s.path_values[0], traj.values[:, 0], rtol=1e-10)
    rel = path - path[-1]
    coords = rel @ np.stack([s.d1, s.d2], axis=1)
    np.testing.assert_allclose(s.paths[0], coords, atol=1e-9)
    # the grid covers every projected point
    assert np.abs(s.paths[0][:, 0]).max() <= s.alphas.max() and np.abs(s.paths[0][:, 1]).max() <= s.betas.max()


def test_interpolation_endpoints_are_the_losses_at_init_and_final(trained):
    """Reference: Goodfellow et al. 2015 -- the line θ(α) = (1−α)θ₀ + αθ₁ passes through both ends."""
    prob, traj = trained
    alphas, values = nets.interpolate_1d(prob, traj.params[0], traj.final_params, num=11)
    assert values.shape == (2, alphas.size)
    np.testing.assert_allclose(values[:, alphas == 0.0][:, 0], traj.values[0], rtol=1e-12)
    np.testing.assert_allclose(values[:, alphas == 1.0][:, 0], traj.final_values, rtol=1e-12)
    mid = np.argmin(np.abs(alphas - 0.5))
    manual = prob.value(0.5 * traj.params[0] + 0.5 * traj.final_params)
    np.testing.assert_allclose(values[:, mid], manual, rtol=1e-12)


def test_slice_rejects_bad_settings(trained):
    """Reference: the documented ranges (odd resolution, known direction kind, PCA needs paths)."""
    prob, traj = trained
    with pytest.raises(ValueError, match="odd"):
        nets.slice_2d(prob, traj.final_params[0], resolution=40)
    with pytest.raises(ValueError, match="random' or 'pca"):
        nets.slice_2d(prob, traj.final_params[0], directions="hessian")
    with pytest.raises(ValueError, match="needs the recorded paths"):
        nets.slice_2d(prob, traj.final_params[0], directions="pca")
    with pytest.raises(ValueError, match="all-zero weights"):
        nets.slice_2d(prob, np.zeros(prob.n_params))
