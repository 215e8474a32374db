"""2 × 2 matrix formulas for the full-matrix preconditioners (Shampoo, SOAP), written once.

Shampoo and SOAP run on 2-D points, one 2 × 2 matrix per run. The ``*_formula`` functions and
:func:`qr2_q_float32` are scalar arithmetic marked :func:`common.jit.shared`: the optimizers' point
rules call them (numpy on columns of runs, the compiled loop one run at a time). They are LAPACK's own
2 × 2 arithmetic (``dlaev2``, ``slarfg``), so they agree with the reference's torch.linalg results to
rounding or to the bit. The stacked ``(k, 2, 2)`` functions below apply them to whole batches (the
X-ray's eigenvalues and angle, and the tests against torch.linalg); for other ``d`` they fall back to
numpy's LAPACK.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from common import jit, ops
from common.jit import kernel

#: What the reference adds to the diagonal before ``eigh`` (SOAP's ``get_orthogonal_matrix``).
EIGH_JITTER = 1e-30
#: LAPACK's dlamch("E"): the unit roundoff dsteqr splits a tridiagonal matrix with.
_EPS_LAPACK = 2.0**-53
_SQRT2 = math.sqrt(2.0)
#: Matrices per call from which :func:`sym2_eig` takes its compiled twin (below, numba's call costs more than it saves).
COMPILED_FROM = 512


def sym2_eig(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, ...]:
    """Eigen-decomposition of the symmetric 2 × 2 matrices ``[[a, b], [b, c]]`` (see :func:`sym2_eig_numpy`).

    From :data:`COMPILED_FROM` matrices on, and with numba, its compiled twin :func:`_sym2_eig_kernel`
    (one pass instead of some forty); the same bits either way.
    """
    a, b, c = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in (a, b, c)))
    if a.size < COMPILED_FROM or not jit.available():
        return sym2_eig_numpy(a, b, c)
    out = np.empty((4, a.size))
    _sym2_eig_kernel(np.ascontiguousarray(a).reshape(-1), np.ascontiguousarray(b).reshape(-1),
                     np.ascontiguousarray(c).reshape(-1), out)
    return tuple(row.reshape(a.shape) for row in out)


def sym2_eig_numpy(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, ...]:
    """:func:`sym2_eig_formula` on whole arrays, under ``np.errstate`` (a degenerate branch may divide by 0)."""
    with np.errstate(all="ignore"):
        return tuple(np.asarray(x, dtype=np.float64) for x in sym2_eig_formula(a, b, c))


@jit.shared
def sym2_eig_formula(a: Any, b: Any, c: Any) -> tuple[Any, Any, Any, Any]:
    """Eigen-decomposition of the symmetric 2 × 2 matrices ``[[a, b], [b, c]]``, as LAPACK's ``dsyevd`` gives it.

    Written once, with :mod:`common.ops`: numpy runs it on arrays (every branch computed, then chosen),
    the compiled loop :func:`_sym2_eig_kernel` on one matrix at a time. For n = 2 ``dsyevd`` reaches
    ``dsteqr``, which splits off a negligible ``b`` and otherwise calls ``dlaev2``; its arithmetic is
    written out here, one rounding each, then the ascending sort. On torch 2.13's MKL
    ``torch.linalg.eigh`` gives the same bits (eigenvalues, and eigenvectors up to sign; checked on
    5,000 random matrices while writing this). ``dlaev2`` gets the smaller eigenvalue as ``det / rt1``
    rather than by cancellation.

    Parameters
    ----------
    a, b, c : float or ndarray, shape (k,)

    Returns
    -------
    hi, lo, cos, sin : float or ndarray, shape (k,)
        The eigenvalues ``hi ≥ lo`` and the unit eigenvector ``(cos, sin)`` of ``hi``;
        ``(−sin, cos)`` is one of ``lo``.
    """
    sm, df, tb = a + c, a - c, b + b
    adf, ab = abs(df), abs(tb)
    a_big = abs(a) > abs(c)
    acmx, acmn = ops.where(a_big, a, c), ops.where(a_big, c, a)
    r1, r2 = ab / adf, adf / ab
    rt = ops.where(adf > ab, adf * ops.sqrt(1.0 + r1 * r1),
                   ops.where(adf < ab, ab * ops.sqrt(1.0 + r2 * r2), ab * _SQRT2))
    rt1 = ops.where(sm < 0, 0.5 * (sm - rt), ops.where(sm > 0, 0.5 * (sm + rt), 0.5 * rt))
    rt2 = ops.where(sm != 0, (acmx / rt1) * acmn - (b / rt1) * b, -0.5 * rt)
    cs = ops.where(df >= 0, df + rt, df - rt)
    ct = -tb / cs
    sn_a = 1.0 / ops.sqrt(1.0 + ct * ct)
    tn = -cs / tb
    cs_b = 1.0 / ops.sqrt(1.0 + tn * tn)
    by_ct = abs(cs) > ab
    cs1 = ops.where(by_ct, ct * sn_a, ops.where(ab == 0, 1.0, cs_b))
    sn1 = ops.where(by_ct, sn_a, ops.where(ab == 0, 0.0, tn * cs_b))
    swap = (sm < 0) == (df < 0)  # dlaev2's sgn1 == sgn2: (cs1, sn1) belongs to the other eigenvalue
    cs1, sn1 = ops.where(swap, -sn1, cs1), ops.where(swap, cs1, sn1)
    # dsteqr: a negligible off-diagonal splits the matrix, the diagonal is the answer.
    split = abs(b) <= ops.sqrt(abs(a)) * ops.sqrt(abs(c)) * _EPS_LAPACK
    rt1, rt2 = ops.where(split, a, rt1), ops.where(split, c, rt2)
    cs1, sn1 = ops.where(split, 1.0, cs1), ops.where(split, 0.0, sn1)
    # The ascending sort swaps only on a strict order; flipped, the first column is the top eigenvector.
    ordered = rt2 < rt1
    return (ops.where(ordered, rt1, rt2), ops.where(ordered, rt2, rt1),
            ops.where(ordered, cs1, -sn1), ops.where(ordered, sn1, cs1))


@kernel
def _sym2_eig_kernel(a: np.ndarray, b: np.ndarray, c: np.ndarray, out: np.ndarray) -> None:
    """:func:`sym2_eig_formula` one matrix at a time: ``out = (hi, lo, cos, sin)`` ``(4, n)``."""
    for i in range(a.shape[0]):
        out[0, i], out[1, i], out[2, i], out[3, i] = sym2_eig_formula(a[i], b[i], c[i])


def from_eig(cos: np.ndarray, sin: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """``R diag(hi, lo) Rᵀ`` with ``R = [[cos, −sin], [sin, cos]]``, shape ``(k, 2, 2)``."""
    out = np.empty((*cos.shape, 2, 2))
    out[..., 0, 0], out[..., 0, 1], out[..., 1, 1] = from_eig_formula(cos, sin, hi, lo)
    out[..., 1, 0] = out[..., 0, 1]
    return out


@jit.shared
def from_eig_formula(cos: Any, sin: Any, hi: Any, lo: Any) -> tuple[Any, Any, Any]:
    """The entries ``(m00, m01, m11)`` of ``R diag(hi, lo) Rᵀ``, ``R = [[cos, −sin], [sin, cos]]`` (``m10 = m01``)."""
    return cos * cos * hi + sin * sin * lo, cos * sin * (hi - lo), sin * sin * hi + cos * cos * lo


@jit.shared
def inverse_sqrt_formula(a: Any, b: Any, c: Any) -> tuple[Any, Any, Any]:
    """``M^(−1/2)`` of the symmetric 2 × 2 matrices ``[[a, b], [b, c]]`` as :func:`inverse_root` gives it for
    ``power = 2``: the entries ``(m00, m01, m11)``, each eigenvalue λ replaced by ``sign(λ)/√|λ|``."""
    hi, lo, cos, sin = sym2_eig_formula(a, b, c)
    return from_eig_formula(cos, sin, signed_inverse_sqrt(hi), signed_inverse_sqrt(lo))


@jit.shared
def signed_inverse_sqrt(lam: Any) -> Any:
    """``sign(λ)/√|λ|`` (±inf at ±0): what ``u s^(−1/2) vᵀ`` of the SVD gives for an eigenvalue λ (u = ±v)."""
    return np.copysign(1.0 / np.sqrt(np.abs(lam)), lam)


@jit.shared
def mat2_vec(m00: Any, m01: Any, m10: Any, m11: Any, v0: Any, v1: Any) -> tuple[Any, Any]:
    """``M v`` for ``M = [[m00, m01], [m10, m11]]``, written out (see :func:`matvec`)."""
    return m00 * v0 + m01 * v1, m10 * v0 + m11 * v1


def inverse_root(mat: np.ndarray, power: float) -> np.ndarray:
    """``mat^(−1/power)`` of symmetric positive definite matrices, as pytorch_optimizer's ``compute_power_svd``.

    The reference takes ``u, s, vh = svd(mat)`` and returns ``u · s^(−1/power) · vh``; for a
    symmetric positive definite matrix that is the eigen-decomposition.

    Parameters
    ----------
    mat : ndarray, shape (k, d, d)
    power : float

    Returns
    -------
    ndarray, shape (k, d, d)
    """
    if mat.shape[-1] == 2 and power == 2.0:
        with np.errstate(all="ignore"):
            out = np.empty(mat.shape)
            out[..., 0, 0], out[..., 0, 1], out[..., 1, 1] = inverse_sqrt_formula(
                mat[..., 0, 0], mat[..., 1, 0], mat[..., 1, 1])
        out[..., 1, 0] = out[..., 0, 1]
        return out
    if mat.shape[-1] == 2:
        hi, lo, cos, sin = sym2_eig(mat[..., 0, 0], mat[..., 1, 0], mat[..., 1, 1])
        return from_eig(cos, sin, _signed_root(hi, power), _signed_root(lo, power))
    u, s, vh = np.linalg.svd(mat)
    return (u * (s ** (-1.0 / power))[..., None, :]) @ vh


def _signed_root(lam: np.ndarray, power: float) -> np.ndarray:
    """``sign(λ)·|λ|^(−1/power)``: what ``u s^(−1/p) vᵀ`` of the SVD gives for an eigenvalue λ (u = ±v)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        root = 1.0 / np.sqrt(np.abs(lam)) if power == 2.0 else np.abs(lam) ** (-1.0 / power)
        return np.copysign(root, lam)


def eigenbasis(mat: np.ndarray) -> np.ndarray:
    """Orthonormal eigenvectors as columns, largest eigenvalue first, as SOAP's ``get_orthogonal_matrix``.

    The reference calls ``eigh(mat + 1e-30 I)`` and flips the columns. Signs of the columns
    differ between implementations; SOAP's update does not depend on them (each column enters
    twice, projected in and back out).

    Parameters
    ----------
    mat : ndarray, shape (k, d, d)
        Symmetric.

    Returns
    -------
    ndarray, shape (k, d, d)
    """
    jittered = mat + EIGH_JITTER * np.eye(mat.shape[-1])
    if mat.shape[-1] == 2:
        # torch.linalg.eigh reads the lower triangle.
        _, _, cos, sin = sym2_eig(jittered[..., 0, 0], jittered[..., 1, 0], jittered[..., 1, 1])
        return np.stack([np.stack([cos, -sin], axis=-1), np.stack([sin, cos], axis=-1)], axis=-2)
    return np.linalg.eigh(jittered)[1][..., ::-1]


def qr_q_float32(mat: np.ndarray) -> np.ndarray:
    """The ``Q`` of a QR decomposition computed in float32, back in float64, as SOAP's power-iteration step.

    The reference casts to float32 before ``torch.linalg.qr`` (LAPACK ``geqrf``/``orgqr``,
    Householder reflections). For 2 × 2 this is one reflection ``Q = I − τ v vᵀ``, ``v = (1, v₂)``,
    written out with LAPACK's ``slarfg`` and ``sorg2r`` operations, one float32 rounding each; on
    torch 2.13's MKL it gives the same bits (checked on 5,000 random matrices while writing this).

    Parameters
    ----------
    mat : ndarray, shape (k, d, d)

    Returns
    -------
    ndarray, shape (k, d, d)
        Orthogonal to float32 rounding.
    """
    if mat.shape[-1] != 2:
        return np.linalg.qr(mat.astype(np.float32))[0].astype(np.float64)
    q = np.empty(mat.shape)
    with np.errstate(all="ignore"):
        q[..., 0, 0], q[..., 0, 1], q[..., 1, 0], q[..., 1, 1] = qr2_q_float32(mat[..., 0, 0], mat[..., 1, 0])
    return q


@jit.shared
def qr2_q_float32(a00: Any, a10: Any) -> tuple[Any, Any, Any, Any]:
    """The entries ``(q00, q01, q10, q11)`` of :func:`qr_q_float32` for a 2 × 2 matrix whose first column is
    ``(a00, a10)`` (the second does not change Q): float32 arithmetic, returned as float64."""
    one, zero = np.float32(1.0), np.float32(0.0)
    alpha, x = np.float32(a00), np.float32(a10)
    xnorm = np.abs(x)
    # slapy2: √(α² + x²) scaled by the larger magnitude, so it neither overflows nor underflows.
    w = ops.maximum(np.abs(alpha), xnorm)
    z = ops.minimum(np.abs(alpha), xnorm)
    safe_w = ops.where(w > zero, w, one)
    ratio = z / safe_w
    norm = w * np.sqrt(one + ratio * ratio)
    beta = -np.copysign(norm, alpha)
    reflect = xnorm > zero  # x = 0: already triangular, LAPACK takes τ = 0 (Q = I)
    safe_beta = ops.where(reflect, beta, one)
    tau = ops.where(reflect, (safe_beta - alpha) / safe_beta, zero)
    v2 = ops.where(reflect, x / ops.where(reflect, alpha - safe_beta, one), zero)
    off = -tau * v2
    return np.float64(one - tau), np.float64(off), np.float64(off), np.float64(one + v2 * off)


def matvec(mat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """``mat @ vec`` per run: ``(k, d, d)`` times ``(k, d)`` gives ``(k, d)``.

    For d = 2 written out elementwise, so a row's result never depends on how many rows
    there are (a BLAS call may block k rows differently from one).
    """
    if mat.shape[-1] == 2:
        return np.stack(mat2_vec(mat[..., 0, 0], mat[..., 0, 1], mat[..., 1, 0], mat[..., 1, 1], vec[..., 0],
                                 vec[..., 1]), axis=-1)
    return (mat @ vec[..., None])[..., 0]


def outer(vec: np.ndarray) -> np.ndarray:
    """``v vᵀ`` per run, shape ``(k, d, d)``."""
    return vec[..., :, None] * vec[..., None, :]


def eigvals_desc(mat: np.ndarray) -> np.ndarray:
    """Eigenvalues of symmetric matrices ``(k, d, d)``, largest first, shape ``(k, d)``."""
    if mat.shape[-1] == 2:
        hi, lo, _, _ = sym2_eig(mat[..., 0, 0], mat[..., 0, 1], mat[..., 1, 1])
        return np.stack([hi, lo], axis=-1)
    return np.linalg.eigvalsh(mat)[..., ::-1]


def leading_angle(mat: np.ndarray) -> np.ndarray:
    """Angle in degrees (−90, 90] of the leading eigenvector of symmetric 2 × 2 matrices; NaN for d ≠ 2.

    Returns
    -------
    ndarray, shape (k,)
    """
    if mat.shape[-1] != 2:
        return np.full(mat.shape[:-2], np.nan)
    return np.degrees(0.5 * np.arctan2(mat[..., 0, 1], 0.5 * (mat[..., 0, 0] - mat[..., 1, 1])))
