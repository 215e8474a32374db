"""Each algorithm written once: the derived numpy path and the generated kernel against the code they replaced.

References:

- the pre-refactor optimizers, kept verbatim in ``tests/legacy`` (a numpy ``direction`` and a hand-written
  numba twin each): the derived ``direction`` and the generated kernel must equal both, to the bit and
  signed zeros included, over every branch (:func:`tests.test_fused.hparam_variants`) with gradients that
  hold zeros, 1e200, inf and NaN;
- the pre-refactor surfaces, likewise kept in ``tests/legacy``: the derived ``value_and_grad`` equals the old
  numpy code and the generated kernel the old kernel, to the bit, on a grid around the window and at
  0, inf and NaN; the Hessians are compared the same way;
- numpy's own ``maximum``, ``minimum``, ``sign`` and ``where`` for the scalar forms of :mod:`common.ops`.
"""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest

import landscapes
import optimizers
from common import jit, ops
from optimizers import fused
from tests.test_fused import assert_bits, hparam_variants

pytestmark = pytest.mark.skipif(os.environ.get("DESCENT_LAB_NO_JIT", "") not in ("", "0"),
                                reason="compiled kernels switched off by DESCENT_LAB_NO_JIT")

SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 1e-300, -1e-300, 1e300, np.inf, -np.inf, np.nan])


def derived() -> list[str]:
    """Registered optimizers whose update is a :attr:`~optimizers.base.Optimizer.rule` and that had earlier code
    (the ones written once from the start are held by tests/test_fused.py: kernel against numpy)."""
    return [n for n in optimizers.names() if type(optimizers.get(n)).rule is not None and legacy_class(n) is not None]


def legacy_class(name: str) -> type | None:
    """The pre-refactor class of the same name in the same module, if the module was kept."""
    cls = type(optimizers.get(name))
    module_name = "tests.legacy." + cls.__module__.rsplit(".", 1)[-1]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:  # the legacy module exists but its own import broke: a failure, not a skip
            raise
        return None
    return getattr(module, cls.__name__, None)


@pytest.mark.parametrize("fn", ["maximum", "minimum"])
def test_scalar_binary_ops_equal_numpy(fn):
    """:func:`common.ops.maximum` / ``minimum`` compiled for scalars against numpy's ufunc on every pair of specials."""
    import numba

    jit._register_helpers()
    op = getattr(ops, fn)
    scalar = numba.njit(lambda a, b: op(a, b))
    a, b = np.meshgrid(SPECIAL, SPECIAL)
    want = getattr(np, fn)(a.ravel(), b.ravel())
    got = np.array([scalar(x, y) for x, y in zip(a.ravel(), b.ravel(), strict=True)])
    assert_bits(got, want, fn)


def test_scalar_sign_and_where_equal_numpy():
    """:func:`common.ops.sign` and ``where`` compiled for scalars against ``np.sign`` / ``np.where``."""
    import numba

    jit._register_helpers()
    sign = numba.njit(lambda x: ops.sign(x))
    where = numba.njit(lambda c, a, b: ops.where(c, a, b))
    assert_bits(np.array([sign(x) for x in SPECIAL]), np.sign(SPECIAL), "sign")
    assert_bits(np.array([where(x > 0.0, x, -x) for x in SPECIAL]), np.where(SPECIAL > 0.0, SPECIAL, -SPECIAL), "where")


def test_scalar_lerp_equals_numpy():
    """:func:`common.ops.lerp` compiled for scalars against its numpy form on specials, with weights either side of ½."""
    import numba

    jit._register_helpers()
    lerp = numba.njit(lambda a, b, w: ops.lerp(a, b, w))
    weights = np.array([0.0, -0.0, 0.1, 0.4999999999999999, 0.5, 0.9, 1.0, -0.7, np.inf, np.nan])
    a, b, w = (x.ravel() for x in np.meshgrid(SPECIAL, SPECIAL, weights))
    with np.errstate(all="ignore"):
        want = ops.lerp(a, b, w)
    assert_bits(np.array([lerp(x, y, z) for x, y, z in zip(a, b, w, strict=True)]), want, "lerp")


@pytest.mark.parametrize("name", derived())
def test_derived_update_equals_the_code_it_replaced(name, rng):
    """Derived ``direction`` and generated kernel against the legacy numpy ``direction`` and legacy kernel, 12 steps."""
    legacy = legacy_class(name)
    k, d = 7, 2
    for hp in hparam_variants(name):
        new, old = optimizers.get(name, **hp), legacy(**hp)
        p = rng.normal(size=(k, d))
        s_new, s_old = new.init(p), old.init(p)
        S_new = np.ascontiguousarray(new.kernel_state(k * d), dtype=np.float64)
        S_old = np.ascontiguousarray(old.kernel_state(k * d), dtype=np.float64)
        for t in range(1, 13):
            g = rng.normal(scale=3.0, size=(k, d))
            g[0, 0] = 0.0
            g[3, 1] = -0.0
            if t == 5:
                g[1, 1] = 1e200
            if t >= 10:
                g[2, 0] = np.inf if t == 10 else np.nan
            with np.errstate(all="ignore"):
                want, s_old = old.direction(g, {key: v for key, v in s_old.items() if key != "t"}, p, t)
                got, s_new = new.direction(g, {key: v for key, v in s_new.items() if key != "t"}, p, t)
            msg = f"{name} {hp} step {t}"
            assert_bits(got, want, "numpy " + msg)
            assert s_new.keys() == s_old.keys(), msg
            for key in s_old:
                assert_bits(np.asarray(s_new[key]), np.asarray(s_old[key]), f"state {key} {msg}")
            outs = []
            for opt, S in ((new, S_new), (old, S_old)):
                out = np.empty(k * d)
                type(opt).kernel(np.ascontiguousarray(g.ravel()), np.ascontiguousarray(p.ravel()), S,
                                 np.asarray(opt.kernel_coefs(t), dtype=np.float64), out)
                outs.append(out.reshape(k, d))
            assert_bits(outs[0], outs[1], "kernel " + msg)
            assert_bits(outs[0], want, "kernel vs numpy " + msg)
            p = p - 0.01 * np.nan_to_num(want)


def test_every_elementwise_optimizer_is_written_once():
    """No registered optimizer keeps a hand-written twin: each kernel is the one generated from its rule, elementwise,
    in phases over a run (a run rule), or per run on a 2-D point. A run rule serves every d, so a class with one has
    no numpy form of its own for other d (``direction_any_d``)."""
    twins = [n for n in optimizers.names()
             if fused._owns(optimizers.get(n), "direction") and type(optimizers.get(n)).rule is None
             and type(optimizers.get(n)).point_rule is None and type(optimizers.get(n)).run_rule is None]
    assert twins == []
    run_rules = [n for n in optimizers.names() if type(optimizers.get(n)).run_rule is not None]
    assert {"adafactor", "prodigy", "muon"} <= set(run_rules)
    for name in optimizers.names():  # no second numpy form of any algorithm for other d
        assert not hasattr(type(optimizers.get(name)), "direction_any_d"), name
    for name in optimizers.names():
        kernel = type(optimizers.get(name)).kernel
        if kernel is not None:
            assert isinstance(kernel, jit.DerivedKernel), name


def surfaces() -> list[str]:
    """Registered surfaces written as a :attr:`~landscapes.base.Landscape.formula` that had earlier code."""
    return [n for n in landscapes.names() if type(landscapes.get(n)).formula is not None and legacy_surface(n) is not None]


def legacy_surface(name: str) -> type | None:
    cls = type(landscapes.get(name))
    module_name = "tests.legacy." + cls.__module__.rsplit(".", 1)[-1]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        return None
    return getattr(module, cls.__name__, None)


def probe_points(f) -> np.ndarray:
    """``(n, 2)``: a 31×31 grid over the window grown by half its size, and points at 0, ±inf and NaN."""
    (x0, x1), (y0, y1) = f.bounds
    wx, wy = x1 - x0, y1 - y0
    X, Y = np.meshgrid(np.linspace(x0 - wx / 2, x1 + wx / 2, 31), np.linspace(y0 - wy / 2, y1 + wy / 2, 31))
    odd = np.array([[0.0, 0.0], [-0.0, 1.0], [np.inf, 0.5], [0.5, -np.inf], [np.nan, 1.0], [1e200, -1e200]])
    return np.concatenate([np.stack([X.ravel(), Y.ravel()], 1), odd])


@pytest.mark.parametrize("name", surfaces())
def test_derived_surface_equals_the_code_it_replaced(name):
    """Derived value, gradient, Hessian and kernel of each surface (at non-default parameters too) against the
    legacy numpy code and legacy kernel, to the bit."""
    legacy = legacy_surface(name)
    variants = [{}] + [{s.name: s.high if s.high is not None and s.high < 1e6 else s.default * 0.5}
                       for s in type(landscapes.get(name)).specs]
    for params in variants:
        new, old = landscapes.get(name, **params), legacy(**params)
        pts = probe_points(new)
        with np.errstate(all="ignore"):
            (fv, gv), (fo, go) = new.value_and_grad(pts), old.value_and_grad(pts)
            assert_bits(fv, fo, f"{name} {params} value")
            assert_bits(gv, go, f"{name} {params} gradient")
            assert_bits(new.hessian(pts), old.hessian(pts), f"{name} {params} hessian")
        outs = []
        for f in (new, old):
            fk, Gk = np.empty(len(pts)), np.empty((2, len(pts)))
            type(f).kernel(np.ascontiguousarray(pts.T), f.kernel_params(), fk, Gk)
            outs.append((fk, Gk))
        assert_bits(outs[0][0], outs[1][0], f"{name} {params} kernel value")
        assert_bits(outs[0][1], outs[1][1], f"{name} {params} kernel gradient")


def test_every_surface_with_a_kernel_is_written_once():
    """No registered surface keeps a hand-written twin of its formula."""
    twins = [n for n in landscapes.names()
             if fused._owns(landscapes.get(n), "value_and_grad") and type(landscapes.get(n)).formula is None]
    assert twins == []


def test_a_kernel_forgets_its_disk_cache_when_code_it_calls_changes(tmp_path, monkeypatch):
    """Reference: the stamp rule rebuilt by hand: a kernel compiled against other sources of the code it calls
    (common.ops, the stop rules) empties its cache index once, and keeps it while the sources stay the same."""
    monkeypatch.setattr(jit, "_KERNEL_DIR", str(tmp_path))
    flushed: list[int] = []

    class FakeCache:
        def flush(self) -> None:
            flushed.append(1)

    class FakeCompiled:
        _cache = FakeCache()

    k = jit.Kernel(fused._commit.py_func)
    monkeypatch.setattr(jit, "_DIGEST", "sources-a")
    k._forget_stale(FakeCompiled())  # no stamp yet: flushed, stamp written
    k._forget_stale(FakeCompiled())  # same sources: kept
    assert flushed == [1]
    monkeypatch.setattr(jit, "_DIGEST", "sources-b")  # ops or the stop rules edited
    k._forget_stale(FakeCompiled())
    assert flushed == [1, 1]
    (stamp,) = (tmp_path / "stamps").glob(f"{fused._commit.py_func.__module__}.{fused._commit.py_func.__qualname__}.*")
    assert stamp.read_text() == "sources-b"


def test_generated_kernels_live_in_a_private_folder():
    """Reference: the folder's owner and mode as os.stat reports them (it is put on sys.path and imported from)."""
    import stat

    info = os.stat(jit.kernel_dir())
    assert info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
