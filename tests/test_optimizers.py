"""Every registered optimizer against its documented update rule, and the step contract.

References, per test: an update rebuilt by hand from the documented formula
(torch.optim's pseudocode, or Chen et al. 2023 for Lion), written here
independently of ``optimizers/``; two computations that must agree (k runs at
once vs one at a time; the same call twice); a theoretical rate (gradient
descent and heavy ball on a quadratic).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import optimizers
from landscapes.narrow_trough import NarrowTrough

NAMES = optimizers.names()
STEPS = 8  # covers step 1, step 3 and RAdam's switch to the rectified branch (beta2=0.9: t >= 8)


# -- the documented formulas, one run (a 1-D θ) at a time --------------------------------------
def ref_gd(h, theta, grad_fn, steps):
    out = []
    for _ in range(steps):
        g = grad_fn(theta) + h.get("weight_decay", 0.0) * theta
        theta = theta - h.get("lr", 1e-3) * g
        out.append(theta)
    return out


def _sgd_momentum(h, theta, grad_fn, steps, nesterov):
    lr, mu, tau, wd = h.get("lr", 1e-3), h.get("momentum", 0.9), h.get("dampening", 0.0), h.get("weight_decay", 0.0)
    ema = h.get("form", "torch") == "ema"
    out, b = [], None
    for _ in range(steps):
        g = grad_fn(theta) + wd * theta
        if ema:
            b = (1 - mu) * g if b is None else mu * b + (1 - mu) * g
        else:
            b = g.copy() if b is None else mu * b + (1 - tau) * g
        theta = theta - lr * (g + mu * b if nesterov else b)
        out.append(theta)
    return out


def ref_momentum(h, theta, grad_fn, steps):
    return _sgd_momentum(h, theta, grad_fn, steps, nesterov=False)


def ref_nesterov(h, theta, grad_fn, steps):
    return _sgd_momentum(h, theta, grad_fn, steps, nesterov=True)


def ref_adagrad(h, theta, grad_fn, steps):
    lr, lr_decay, wd = h.get("lr", 1e-2), h.get("lr_decay", 0.0), h.get("weight_decay", 0.0)
    acc, eps = np.full_like(theta, h.get("initial_accumulator_value", 0.0)), h.get("eps", 1e-10)
    out = []
    for t in range(1, steps + 1):
        g = grad_fn(theta) + wd * theta
        clr = lr / (1 + (t - 1) * lr_decay)
        acc = acc + g**2
        theta = theta - clr * g / (np.sqrt(acc) + eps)
        out.append(theta)
    return out


def ref_rmsprop(h, theta, grad_fn, steps):
    lr, alpha, eps = h.get("lr", 1e-2), h.get("alpha", 0.99), h.get("eps", 1e-8)
    wd, mu, centered = h.get("weight_decay", 0.0), h.get("momentum", 0.0), h.get("centered", False)
    v, g_avg, buf = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    out = []
    for _ in range(steps):
        g = grad_fn(theta) + wd * theta
        v = alpha * v + (1 - alpha) * g**2
        v_tilde = v
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            v_tilde = v - g_avg**2
        if mu > 0:
            buf = mu * buf + g / (np.sqrt(v_tilde) + eps)
            theta = theta - lr * buf
        else:
            theta = theta - lr * g / (np.sqrt(v_tilde) + eps)
        out.append(theta)
    return out


def ref_adadelta(h, theta, grad_fn, steps):
    lr, rho, eps, wd = h.get("lr", 1.0), h.get("rho", 0.9), h.get("eps", 1e-6), h.get("weight_decay", 0.0)
    v, u = np.zeros_like(theta), np.zeros_like(theta)
    out = []
    for _ in range(steps):
        g = grad_fn(theta) + wd * theta
        v = rho * v + (1 - rho) * g**2
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta**2
        theta = theta - lr * delta
        out.append(theta)
    return out


def _adam(h, theta, grad_fn, steps, *, decoupled, amsgrad, wd_default=0.0):
    lr, b1, b2, eps = h.get("lr", 1e-3), h.get("beta1", 0.9), h.get("beta2", 0.999), h.get("eps", 1e-8)
    wd = h.get("weight_decay", wd_default)
    amsgrad = amsgrad or h.get("amsgrad", False)
    m, v, v_max = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    out = []
    for t in range(1, steps + 1):
        g = grad_fn(theta)
        if decoupled:
            theta = theta * (1 - lr * wd)
        else:
            g = g + wd * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        if amsgrad:
            v_max = np.maximum(v_max, v)
            v_hat = v_max / (1 - b2**t)
        else:
            v_hat = v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def ref_adam(h, theta, grad_fn, steps):
    return _adam(h, theta, grad_fn, steps, decoupled=False, amsgrad=False)


def ref_adamw(h, theta, grad_fn, steps):
    return _adam(h, theta, grad_fn, steps, decoupled=True, amsgrad=False, wd_default=1e-2)


def ref_amsgrad(h, theta, grad_fn, steps):
    return _adam(h, theta, grad_fn, steps, decoupled=False, amsgrad=True)


def ref_nadam(h, theta, grad_fn, steps):
    lr, b1, b2, eps = h.get("lr", 2e-3), h.get("beta1", 0.9), h.get("beta2", 0.999), h.get("eps", 1e-8)
    wd, psi, decoupled = h.get("weight_decay", 0.0), h.get("momentum_decay", 4e-3), h.get("decoupled_weight_decay", False)
    m, v, prod = np.zeros_like(theta), np.zeros_like(theta), 1.0
    out = []
    for t in range(1, steps + 1):
        g = grad_fn(theta)
        if decoupled:
            theta = theta * (1 - lr * wd)
        else:
            g = g + wd * theta
        mu_t = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        prod *= mu_t
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        v_hat = v / (1 - b2**t)
        theta = theta - lr * (1 - mu_t) / (1 - prod) * g / (np.sqrt(v_hat) + eps)
        theta = theta - lr * mu_next / (1 - prod * mu_next) * m / (np.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def ref_adamax(h, theta, grad_fn, steps):
    lr, b1, b2, eps, wd = h.get("lr", 2e-3), h.get("beta1", 0.9), h.get("beta2", 0.999), h.get("eps", 1e-8), h.get("weight_decay", 0.0)
    m, u = np.zeros_like(theta), np.zeros_like(theta)
    out = []
    for t in range(1, steps + 1):
        g = grad_fn(theta) + wd * theta
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        theta = theta - (lr / (1 - b1**t)) * m / u
        out.append(theta)
    return out


def ref_radam(h, theta, grad_fn, steps):
    lr, b1, b2, eps = h.get("lr", 1e-3), h.get("beta1", 0.9), h.get("beta2", 0.999), h.get("eps", 1e-8)
    wd, decoupled = h.get("weight_decay", 0.0), h.get("decoupled_weight_decay", False)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    rho_inf = 2 / (1 - b2) - 1
    out = []
    for t in range(1, steps + 1):
        g = grad_fn(theta)
        if decoupled:
            theta = theta * (1 - lr * wd)
        else:
            g = g + wd * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t > 5:
            ell = math.sqrt(1 - b2**t) / (np.sqrt(v) + eps)
            r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            theta = theta - lr * m_hat * ell * r
        else:
            theta = theta - lr * m_hat
        out.append(theta)
    return out


def ref_lion(h, theta, grad_fn, steps):
    lr, b1, b2, wd = h.get("lr", 1e-4), h.get("beta1", 0.9), h.get("beta2", 0.99), h.get("weight_decay", 0.0)
    m = np.zeros_like(theta)
    out = []
    for _ in range(steps):
        g = grad_fn(theta)
        c = b1 * m + (1 - b1) * g
        theta = theta - lr * (np.sign(c) + wd * theta)
        m = b2 * m + (1 - b2) * g
        out.append(theta)
    return out


def ref_seed_adam(h, theta, grad_fn, steps):
    """The loop of seeds/000 transcribed with its own names (a, b1, b2, e, V, S, i), bugs switchable."""
    a, b1, b2, e = h.get("lr", 1e-3), h.get("beta1", 0.9), h.get("beta2", 0.999), h.get("eps", 1e-8)
    compound, zero_based, times_g = (h.get(k, True) for k in ("compound_correction", "zero_based_step", "times_gradient"))
    V, S = np.zeros_like(theta), np.zeros_like(theta)
    out = []
    for i in range(steps):
        dw = grad_fn(theta)
        V = b1 * V + (1 - b1) * dw
        S = b2 * S + (1 - b2) * (dw**2)
        n = i if zero_based else i + 1
        Vc, Sc = (V / (1 - b1**n), S / (1 - b2**n)) if n != 0 else (V, S)
        if compound:
            V, S = Vc, Sc
        step = a * Vc / (np.sqrt(Sc) + e)
        theta = theta - (step * dw if times_g else step)
        out.append(theta)
    return out


def ref_rprop(h, theta, grad_fn, steps):
    lr, em, ep = h.get("lr", 1e-2), h.get("etaminus", 0.5), h.get("etaplus", 1.2)
    lo, hi = h.get("step_size_min", 1e-6), h.get("step_size_max", 50.0)
    prev, delta = np.zeros_like(theta), np.full_like(theta, lr)
    out = []
    for _ in range(steps):
        g = grad_fn(theta)
        same = g * prev
        delta = np.clip(delta * np.where(same > 0, ep, np.where(same < 0, em, 1.0)), lo, hi)
        g = np.where(same < 0, 0.0, g)
        theta = theta - delta * np.sign(g)
        prev = g
        out.append(theta)
    return out


def ref_asgd(h, theta, grad_fn, steps):
    lr, lambd, alpha, wd = h.get("lr", 1e-2), h.get("lambd", 1e-4), h.get("alpha", 0.75), h.get("weight_decay", 0.0)
    out = []
    for t in range(1, steps + 1):
        eta = lr / (1 + lambd * lr * (t - 1)) ** alpha
        g = grad_fn(theta) + wd * theta
        theta = theta * (1 - lambd * eta) - eta * g
        out.append(theta)
    return out


def ref_signsgd(h, theta, grad_fn, steps):
    lr, mu, wd, decouple = h.get("lr", 1e-3), h.get("momentum", 0.9), h.get("weight_decay", 0.0), h.get("weight_decouple", True)
    m = np.zeros_like(theta)
    out = []
    for _ in range(steps):
        g = grad_fn(theta)
        if decouple:
            theta = theta * (1 - lr * wd)
        else:
            g = g + wd * theta
        if mu > 0:
            m = mu * m + (1 - mu) * g
            g = m
        theta = theta - lr * np.sign(g)
        out.append(theta)
    return out


def ref_qhm(h, theta, grad_fn, steps):
    lr, beta, nu = h.get("lr", 1e-3), h.get("momentum", 0.0), h.get("nu", 1.0)
    wd, decouple = h.get("weight_decay", 0.0), h.get("weight_decouple", False)
    b = np.zeros_like(theta)
    out = []
    for _ in range(steps):
        g = grad_fn(theta)
        if decouple:
            theta = theta * (1 - lr * wd)
        else:
            g = g + wd * theta
        b = beta * b + (1 - beta) * g
        theta = theta - lr * (nu * b + (1 - nu) * g)
        out.append(theta)
    return out


def ref_qhadam(h, theta, grad_fn, steps):
    lr, b1, b2, eps = h.get("lr", 1e-3), h.get("beta1", 0.9), h.get("beta2", 0.999), h.get("eps", 1e-8)
    nu1, nu2, wd, decouple = h.get("nu1", 1.0), h.get("nu2", 1.0), h.get("weight_decay", 0.0), h.get("weight_decouple", False)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    s1 = s2 = np.float32(0.0)  # the weight sums 1 + β + … + β^{t−1}, kept in float32 as the package does
    out = []
    for _ in range(steps):
        g = grad_fn(theta)
        if decouple:
            theta = theta * (1 - lr * wd)
        else:
            g = g + wd * theta
        s1, s2 = np.float32(s1 * np.float32(b1)) + np.float32(1), np.float32(s2 * np.float32(b2)) + np.float32(1)
        w1, w2 = float(np.float32(1) / s1), float(np.float32(1) / s2)
        m = (1 - w1) * m + w1 * g
        v = (1 - w2) * v + w2 * g**2
        theta = theta - lr * (nu1 * m + (1 - nu1) * g) / (np.sqrt(nu2 * v + (1 - nu2) * g**2) + eps)
        out.append(theta)
    return out


def ref_muon(h, theta, grad_fn, steps):
    """Muon on a vector θ without a layout: the 1×d matrix's Newton–Schulz is normalization times the scalar
    polynomial's value (torch.optim.Muon's code on one singular value), so this is normalized momentum."""
    lr, mu, wd = h.get("lr", 1e-3), h.get("momentum", 0.95), h.get("weight_decay", 0.1)
    a, b, c = h.get("ns_a", 3.4445), h.get("ns_b", -4.7750), h.get("ns_c", 2.0315)
    eps, d = h.get("eps", 1e-7), theta.size
    ratio = 0.2 * math.sqrt(d) if h.get("adjust_lr_fn") == "match_rms_adamw" else 1.0  # torch shape (1, d)
    buf, out = np.zeros_like(theta), []
    for _ in range(steps):
        g = grad_fn(theta)
        buf = mu * buf + (1 - mu) * g
        u = (1 - mu) * g + mu * buf if h.get("nesterov", True) else buf
        size = math.sqrt(float(u @ u))
        sigma = size / max(size, eps)
        for _ in range(h.get("ns_steps", 5)):
            sigma = a * sigma + b * sigma**3 + c * sigma**5
        theta = theta * (1 - lr * wd) - lr * ratio * sigma * u / max(size, eps)
        out.append(theta)
    return out


def _inverse_sqrt(mat):
    """``mat^(−1/2)`` through the SVD, as the package's ``compute_power_svd`` takes it (before H has full rank
    its εI directions amplify rounding, so an eigh-based root would differ at 1e-11)."""
    u, s, vh = np.linalg.svd(mat)
    return (u * s**-0.5) @ vh


def ref_shampoo(h, theta, grad_fn, steps):
    """pytorch_optimizer.Shampoo on a vector: full-matrix AdaGrad, H = εI + Σ g gᵀ, step H^(−1/2) g."""
    lr, mu, wd, decouple = h.get("lr", 1e-3), h.get("momentum", 0.0), h.get("weight_decay", 0.0), h.get("weight_decouple", False)
    every, big_h = h.get("preconditioning_compute_steps", 1), h.get("matrix_eps", 1e-6) * np.eye(len(theta))
    root, buf, out = np.zeros_like(big_h), None, []
    for t in range(1, steps + 1):
        g = grad_fn(theta)
        if mu > 0 and buf is not None:
            g = g + mu * (buf - g) if mu < 0.5 else buf - (buf - g) * (1 - mu)
        if decouple:
            theta = theta * (1 - lr * wd)
        else:
            g = g + wd * theta
        big_h = big_h + np.outer(g, g)
        if t % every == 0:
            root = _inverse_sqrt(big_h)
        buf = g @ root
        theta = theta - lr * buf
        out.append(theta)
    return out


def ref_soap(h, theta, grad_fn, steps):
    """pytorch_optimizer.SOAP on a vector with precondition_1d: Adam in the eigenbasis Q of GG = EMA of g gᵀ."""
    lr, b1, b2, eps, wd = h.get("lr", 3e-3), h.get("beta1", 0.95), h.get("beta2", 0.95), h.get("eps", 1e-8), h.get("weight_decay", 1e-2)
    every, full = h.get("precondition_frequency", 10), h.get("precondition_1d", True)
    d = len(theta)
    gg, q = np.zeros((d, d)), np.eye(d)
    m, v, out = np.zeros(d), np.zeros(d), []
    for t in range(1, steps + 1):
        g = grad_fn(theta)
        if t == 1:  # the first step only gathers statistics
            gg = gg + (1 - b2) * (np.outer(g, g) - gg)
            q = np.linalg.eigh(gg + 1e-30 * np.eye(d))[1][:, ::-1] if full else np.eye(d)
            out.append(theta)
            continue
        s = t - 1
        m = m + (1 - b1) * (g - m)
        v = v + (1 - b2) * ((q.T @ g) ** 2 - v)
        u = q @ ((q.T @ m) / (np.sqrt(v) + eps))
        if h.get("normalize_gradient", False):
            u = u / (np.sqrt(np.mean(u**2)) + eps)
        if h.get("correct_bias", True):
            u = u * math.sqrt(1 - b2**s) / (1 - b1**s)
        theta = (theta - lr * u) * (1 - lr * wd)
        if full:
            gg = gg + (1 - b2) * (np.outer(g, g) - gg)
            if s % every == 0:
                product = gg @ q
                order = np.argsort(-np.sum(q * product, axis=0), kind="stable")
                v, product = v[order], product[:, order]
                q = np.linalg.qr(product.astype(np.float32))[0].astype(np.float64)
        out.append(theta)
    return out

def _schedule_free(h, theta, grad_fn, steps, *, adam):
    """The paper's three sequences (Defazio et al. 2024, with schedulefree 1.4.1's weights): gradients at
    y = (1 − β) z + β x, z an SGD (or Adam-scaled) step, x the c-weighted average of the z's."""
    lr = h.get("lr", 0.0025 if adam else 1.0)
    beta = h.get("beta1" if adam else "momentum", 0.9)
    b2, eps, wd = h.get("beta2", 0.999), h.get("eps", 1e-8), h.get("weight_decay", 0.0)
    warmup, r, power = h.get("warmup_steps", 0), h.get("r", 0.0), h.get("weight_lr_power", 2.0)
    z, x, v = theta.copy(), theta.copy(), np.zeros_like(theta)
    lr_max, wsum, out = -1.0, 0.0, []
    for t in range(1, steps + 1):
        y = (1 - beta) * z + beta * x
        g = grad_fn(y)
        lr_t = lr * min(1.0, t / warmup) if warmup else lr
        lr_max = max(lr_max, lr_t)
        w = t**r * lr_max**power
        wsum += w
        c = w / wsum
        if adam:
            v = b2 * v + (1 - b2) * g**2
            u = g / (np.sqrt(v / (1 - b2**t)) + eps) + wd * y
        else:
            u = g + wd * y
        z = z - lr_t * u
        x = (1 - c) * x + c * z
        out.append((1 - beta) * z + beta * x)
    return out


def ref_schedule_free_sgd(h, theta, grad_fn, steps):
    return _schedule_free(h, theta, grad_fn, steps, adam=False)


def ref_schedule_free_adamw(h, theta, grad_fn, steps):
    return _schedule_free(h, theta, grad_fn, steps, adam=True)


def ref_adan(h, theta, grad_fn, steps):
    """Xie et al. 2022 as pytorch_optimizer.Adan documents it (Δ₁ = 0; proximal or decoupled weight decay)."""
    lr, eps = h.get("lr", 1e-3), h.get("eps", 1e-8)
    b1, b2, b3 = h.get("beta1", 0.98), h.get("beta2", 0.92), h.get("beta3", 0.99)
    wd, decouple = h.get("weight_decay", 0.0), h.get("weight_decouple", False)
    m, n, v, prev = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta), None
    out = []
    for t in range(1, steps + 1):
        g = grad_fn(theta)
        diff = np.zeros_like(g) if prev is None else g - prev
        m = b1 * m + (1 - b1) * g
        n = b2 * n + (1 - b2) * diff
        v = b3 * v + (1 - b3) * (g + b2 * diff) ** 2
        step = (m / (1 - b1**t) + b2 * n / (1 - b2**t)) / (np.sqrt(v / (1 - b3**t)) + eps)
        theta = theta * (1 - lr * wd) - lr * step if decouple else (theta - lr * step) / (1 + lr * wd)
        prev = g
        out.append(theta)
    return out


def ref_ademamix(h, theta, grad_fn, steps):
    """Pagliardini et al. 2024 as pytorch_optimizer.AdEMAMix documents it, with the α and β₃ warm-up."""
    lr, eps, alpha, T = h.get("lr", 1e-3), h.get("eps", 1e-8), h.get("alpha", 5.0), h.get("t_alpha_beta3", 0.0)
    b1, b2, b3 = h.get("beta1", 0.9), h.get("beta2", 0.999), h.get("beta3", 0.9999)
    wd, decouple, fixed = h.get("weight_decay", 0.0), h.get("weight_decouple", False), h.get("fixed_decay", False)
    m, v, s = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    out = []
    for t in range(1, steps + 1):
        g = grad_fn(theta)
        if decouple:
            theta = theta * (1 - (wd if fixed else lr * wd))
        else:
            g = g + wd * theta
        a, b3t = alpha, b3
        if T:
            a = min(t * alpha / T, alpha)
            lb1, lb3 = math.log(b1), math.log(b3)
            b3t = min(math.exp(lb1 * lb3 / ((1 - t / T) * lb3 + t / T * lb1)), b3)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        s = b3t * s + (1 - b3t) * g
        theta = theta - lr * (m / (1 - b1**t) + a * s) / (np.sqrt(v / (1 - b2**t)) + eps)
        out.append(theta)
    return out


def ref_prodigy(h, theta, grad_fn, steps):
    """prodigyopt 1.1.2's step, one run, from its published algorithm (Mishchenko & Defazio 2024, Alg. 4)."""
    lr, b1, b2, eps = h.get("lr", 1.0), h.get("beta1", 0.9), h.get("beta2", 0.999), h.get("eps", 1e-8)
    b3 = h.get("beta3", 0.0) or math.sqrt(b2)
    wd, decouple, d0, coef = h.get("weight_decay", 0.0), h.get("decouple", True), h.get("d0", 1e-6), h.get("d_coef", 1.0)
    growth = h.get("growth_rate", 0.0) or math.inf
    d = d_max = d0
    r, k, p0 = 0.0, 0, theta.copy()
    m, v, s = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    out = []
    for _ in range(steps):
        g = grad_fn(theta)
        if wd and not decouple:
            g = g + wd * theta
        bc = math.sqrt(1 - b2 ** (k + 1)) / (1 - b1 ** (k + 1)) if h.get("use_bias_correction") else 1.0
        dlr = d * lr * bc
        r = b3 * r + (d / d0) * dlr * float(np.dot(g, p0 - theta))
        m = b1 * m + d * (1 - b1) * g
        v = b2 * v + d * d * (1 - b2) * g * g
        s = b3 * s + (d / d0) * (d if h.get("safeguard_warmup") else dlr) * g
        d_hat = coef * r / np.abs(s).sum()
        d_max = max(d_max, d_hat)
        d_new = min(d_max, (max(d, d_hat) if d == d0 else d) * growth)
        if wd and decouple:
            theta = theta - wd * dlr * theta
        theta = theta - dlr * (m if b1 > 0 else d_new * g) / (np.sqrt(v) + d_new * eps)
        d, k = d_new, k + 1
        out.append(theta)
    return out


def ref_adafactor(h, theta, grad_fn, steps):
    """torch.optim.Adafactor's documented algorithm on a vector (unfactored v; RMS over the whole θ)."""
    lr, tau, d, wd = h.get("lr", 1e-2), h.get("beta2_decay", -0.8), h.get("d", 1.0), h.get("weight_decay", 0.0)
    eps1, eps2 = h.get("eps1", np.finfo(np.float64).eps), h.get("eps2", 1e-3)
    v = np.zeros_like(theta)
    out = []
    for t in range(1, steps + 1):
        g = grad_fn(theta)
        beta2 = 1 - t**tau
        rho = min(lr, 1 / math.sqrt(t))
        alpha = max(eps2, math.sqrt(np.mean(theta**2))) * rho
        v = beta2 * v + (1 - beta2) * g**2
        u = g / np.sqrt(np.maximum(v, eps1**2))
        theta = theta * (1 - lr * wd) - alpha / max(1.0, math.sqrt(np.mean(u**2)) / d) * u
        out.append(theta)
    return out


def ref_sophia(h, theta, grad_fn, steps):
    """Sophia-H as pytorch_optimizer.SophiaH documents it, with the exact Hessian diagonal of ``quad_grad``."""
    lr, b1, b2, rho, eps = h.get("lr", 6e-2), h.get("beta1", 0.96), h.get("beta2", 0.99), h.get("p", 1e-2), h.get("eps", 1e-12)
    wd, decouple, period = h.get("weight_decay", 0.0), h.get("weight_decouple", True), h.get("update_period", 10)
    m, hm = np.zeros_like(theta), np.zeros_like(theta)
    out = []
    for t in range(1, steps + 1):
        g, diag = grad_fn(theta), quad_hessian_diag(theta)  # both where the step starts, before any decay
        if wd and decouple:
            theta = theta * (1 - wd * (1.0 if h.get("fixed_decay") else lr))
        elif wd:
            g = g + wd * theta
        m = b1 * m + (1 - b1) * g
        if (t - 1) % period == 0:
            hm = b2 * hm + (1 - b2) * diag
        theta = theta - lr * np.clip(m / np.maximum(hm, eps), -rho, rho)
        out.append(theta)
    return out


REFERENCES = {name[4:]: fn for name, fn in globals().items() if name.startswith("ref_")}

HPARAMS = {
    "gd": [{}, {"lr": 0.1, "weight_decay": 0.3}],
    "momentum": [
        {},
        {"lr": 0.05, "momentum": 0.6, "dampening": 0.2, "weight_decay": 0.1},
        {"lr": 0.05, "momentum": 0.8, "form": "ema", "weight_decay": 0.1},
    ],
    "nesterov": [{}, {"lr": 0.05, "momentum": 0.6, "weight_decay": 0.1}],
    "adagrad": [{}, {"lr": 0.1, "lr_decay": 0.5, "weight_decay": 0.1, "initial_accumulator_value": 0.3, "eps": 1e-3}],
    "rmsprop": [
        {},
        {"centered": True},
        {"momentum": 0.7},
        {"lr": 0.02, "alpha": 0.8, "eps": 1e-3, "weight_decay": 0.1, "momentum": 0.5, "centered": True},
    ],
    "adadelta": [{}, {"lr": 0.5, "rho": 0.7, "eps": 1e-2, "weight_decay": 0.1}],
    "adam": [{}, {"lr": 0.1, "beta1": 0.7, "beta2": 0.8, "eps": 1e-3, "weight_decay": 0.1, "amsgrad": True}],
    "adamw": [{}, {"lr": 0.1, "beta1": 0.7, "beta2": 0.8, "eps": 1e-3, "weight_decay": 0.3, "amsgrad": True}],
    "amsgrad": [{}, {"lr": 0.1, "beta1": 0.5, "beta2": 0.6, "eps": 1e-3, "weight_decay": 0.1}],
    "nadam": [
        {},
        {"lr": 0.1, "beta1": 0.7, "beta2": 0.8, "eps": 1e-3, "weight_decay": 0.1, "momentum_decay": 0.3},
        {"weight_decay": 0.2, "decoupled_weight_decay": True},
    ],
    "adamax": [{}, {"lr": 0.1, "beta1": 0.7, "beta2": 0.8, "eps": 1e-3, "weight_decay": 0.1}],
    "radam": [
        {},
        {"lr": 0.1, "beta1": 0.7, "beta2": 0.9, "eps": 1e-3, "weight_decay": 0.1},
        {"lr": 0.1, "beta2": 0.9, "weight_decay": 0.2, "decoupled_weight_decay": True},
    ],
    "lion": [{}, {"lr": 0.1, "beta1": 0.7, "beta2": 0.8, "weight_decay": 0.3}],
    "seed_adam": [
        {},
        {"lr": 0.1, "beta1": 0.7, "beta2": 0.8, "compound_correction": False},
        {"lr": 0.1, "zero_based_step": False, "times_gradient": False},
    ],
    "rprop": [{}, {"lr": 0.05, "etaminus": 0.3, "etaplus": 1.5, "step_size_min": 0.02, "step_size_max": 0.08}],
    "asgd": [{}, {"lr": 0.05, "lambd": 0.5, "alpha": 0.6, "t0": 2.0, "weight_decay": 0.1}],
    "signsgd": [{}, {"lr": 0.05, "momentum": 0.0, "weight_decay": 0.2, "weight_decouple": False},
                {"lr": 0.05, "momentum": 0.7, "weight_decay": 0.2}],
    "qhm": [{}, {"lr": 0.05, "momentum": 0.8, "nu": 0.7, "weight_decay": 0.1},
            {"lr": 0.05, "momentum": 0.3, "nu": 0.5, "weight_decay": 0.1, "weight_decouple": True}],
    "qhadam": [{}, {"lr": 0.1, "beta1": 0.7, "beta2": 0.8, "nu1": 0.7, "nu2": 0.5, "eps": 1e-3, "weight_decay": 0.1},
               {"lr": 0.1, "nu1": 0.6, "weight_decay": 0.2, "weight_decouple": True}],
    "muon": [{}, {"lr": 0.05, "momentum": 0.8, "nesterov": False, "weight_decay": 0.0, "adjust_lr_fn": "match_rms_adamw"},
             {"lr": 0.05, "momentum": 0.6, "weight_decay": 0.2, "ns_steps": 3, "ns_a": 1.5, "ns_b": -0.5, "ns_c": 0.0}],
    "shampoo": [{}, {"lr": 0.05, "momentum": 0.6, "weight_decay": 0.1, "preconditioning_compute_steps": 2},
                {"lr": 0.05, "momentum": 0.3, "weight_decay": 0.1, "weight_decouple": True, "matrix_eps": 1e-3}],
    "soap": [{}, {"lr": 0.05, "precondition_1d": False},
             {"lr": 0.05, "beta1": 0.8, "beta2": 0.9, "weight_decay": 0.1, "precondition_frequency": 3,
              "normalize_gradient": True, "correct_bias": False}],
    "schedule_free_sgd": [{}, {"lr": 0.05, "momentum": 0.7, "weight_decay": 0.1, "warmup_steps": 3, "r": 1.0,
                               "weight_lr_power": 1.0}],
    "schedule_free_adamw": [{}, {"lr": 0.1, "beta1": 0.7, "beta2": 0.8, "eps": 1e-3, "weight_decay": 0.1,
                                 "warmup_steps": 3, "r": 0.5}],
    "adan": [{}, {"lr": 0.05, "beta1": 0.7, "beta2": 0.8, "beta3": 0.9, "eps": 1e-3, "weight_decay": 0.1},
             {"lr": 0.05, "weight_decay": 0.2, "weight_decouple": True}],
    "ademamix": [{}, {"lr": 0.05, "beta1": 0.7, "beta2": 0.8, "beta3": 0.95, "alpha": 2.0, "t_alpha_beta3": 5.0,
                      "eps": 1e-3, "weight_decay": 0.1},
                 {"lr": 0.05, "weight_decay": 0.2, "weight_decouple": True, "fixed_decay": True, "t_alpha_beta3": 3.0}],
    "adafactor": [{}, {"lr": 0.05, "beta2_decay": -0.5, "eps1": 1e-3, "eps2": 1e-2, "d": 1.5, "weight_decay": 0.1}],
    "prodigy": [{}, {"lr": 0.5, "beta1": 0.0, "beta3": 0.9, "weight_decay": 0.1, "decouple": False, "safeguard_warmup": True},
                {"use_bias_correction": True, "weight_decay": 0.1, "growth_rate": 1.5, "d_coef": 2.0}],
    "sophia": [{}, {"lr": 0.1, "p": 5.0, "update_period": 3, "weight_decay": 0.1, "fixed_decay": True},
               {"lr": 0.1, "beta1": 0.5, "p": 5.0, "update_period": 2, "weight_decay": 0.1, "weight_decouple": False}],
}
CASES = [(name, h) for name in NAMES for h in HPARAMS[name]]

# A gradient field that depends on θ and couples coordinates, so each step feeds the next. Only
# elementwise arithmetic: a BLAS matmul may round differently for k rows than for one, which would
# blur the k-runs-together test.
_D = np.array([3.0, 2.0, 1.5, 0.8])
_B = np.array([0.3, -1.0, 0.7, 0.1])


def quad_grad(theta: np.ndarray) -> np.ndarray:
    """``Dθ + 0.4 θ[::-1] + 0.05 θ³ − b`` for θ of shape (..., 4), or (..., 2) with the first two of D and b."""
    d = theta.shape[-1]
    return _D[:d] * theta + 0.4 * theta[..., ::-1] + 0.05 * theta**3 - _B[:d]


def quad_hessian_diag(theta: np.ndarray) -> np.ndarray:
    """The diagonal of ``quad_grad``'s Jacobian, ``D + 0.15 θ²`` (the reversal has no diagonal in 4 or 2
    coordinates)."""
    return _D[:theta.shape[-1]] + 0.15 * theta**2


def step_inputs(opt, state, p) -> dict:
    """What the optimizer's next step needs besides the gradient (Sophia: the Hessian diagonal of ``quad_grad``)."""
    return {"hessian_diag": quad_hessian_diag(p)} if opt.needs_at(state["t"] + 1) else {}


STARTS = np.array([[1.0, -2.0, 0.5, 3.0], [-0.7, 0.2, 2.5, -1.0], [0.0, 0.4, -0.3, 0.9]])


def starts_for(name: str) -> np.ndarray:
    """:data:`STARTS`, or their first two coordinates for an optimizer written for 2-D points (Shampoo, SOAP)."""
    return STARTS[:, :2].copy() if optimizers.REGISTRY[name].point_rule is not None else STARTS


def run_steps(opt, starts, steps, grad_fn=quad_grad):
    p, state = starts, opt.init(starts)
    out = []
    for _ in range(steps):
        p, state = opt.step(p, grad_fn(p), state, **step_inputs(opt, state, p))
        out.append(p)
    return np.array(out)


def test_every_optimizer_has_a_reference_and_cases():
    """The registry order is the agreed one, and each entry has a hand reference and hyperparameter sets here."""
    assert NAMES == ["gd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "amsgrad",
                     "nadam", "adamax", "radam", "lion", "seed_adam", "rprop", "asgd", "signsgd", "qhm", "qhadam",
                     "muon", "shampoo", "soap", "schedule_free_sgd", "schedule_free_adamw", "adan", "ademamix",
                     "adafactor", "prodigy", "sophia"]
    assert set(REFERENCES) == set(NAMES) == set(HPARAMS)


@pytest.mark.parametrize(("name", "hparams"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_steps_match_the_documented_formula(name, hparams):
    """Steps 1..8 (incl. step 1 and 3) equal the update rebuilt by hand (reference: documented formula)."""
    mine = run_steps(optimizers.get(name, **hparams), starts_for(name), STEPS)
    for i, start in enumerate(starts_for(name)):
        ref = np.array(REFERENCES[name](hparams, start.copy(), quad_grad, STEPS))
        assert np.abs(ref[-1] - start).max() > 1e-5  # it moved
        # Shampoo and SOAP take the 2 × 2 root, eigenbasis and SOAP's float32 QR in closed form where the hand
        # reference calls numpy's LAPACK: the same matrices to rounding (float32 rounding for SOAP's QR), which
        # the preconditioner amplifies over 8 steps. tests/test_zoo_matrix.py holds both against the package to
        # 1e-12 and 7e-15.
        rtol = {"shampoo": 1e-9, "soap": 1e-5}.get(name, 1e-12)
        np.testing.assert_allclose(mine[:, i], ref, rtol=rtol, atol=1e-14, err_msg=f"{name} {hparams} run {i}")


@pytest.mark.parametrize("name", NAMES)
def test_k_runs_together_equal_k_separate_runs(name):
    """Runs stacked in one (k, d) array equal each run alone (reference: two computations that agree)."""
    opt = optimizers.get(name, **HPARAMS[name][-1])
    starts = starts_for(name)
    together = run_steps(opt, starts, 20)
    for i in range(len(starts)):
        alone = run_steps(opt, starts[i : i + 1], 20)
        np.testing.assert_array_equal(together[:, i], alone[:, 0])


def _frozen(x):
    if isinstance(x, np.ndarray):
        x = x.copy()
        x.flags.writeable = False
    return x


@pytest.mark.parametrize("name", NAMES)
def test_init_and_step_leave_inputs_unchanged(name):
    """init/step never write to params, grads or state (reference: copies taken before; read-only arrays)."""
    opt = optimizers.get(name, **HPARAMS[name][-1])
    params = _frozen(starts_for(name))
    state0 = opt.init(params)
    np.testing.assert_array_equal(params, starts_for(name))
    # Move a few steps so the state is non-trivial, then freeze everything and step again.
    p, state = params, state0
    for _ in range(3):
        p, state = opt.step(p, quad_grad(p), state, **step_inputs(opt, state, p))
    p, grads = _frozen(p), _frozen(quad_grad(p))
    state = {k: _frozen(v) for k, v in state.items()}
    copies = (p.copy(), grads.copy(), {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state.items()})
    new_p, new_state = opt.step(p, grads, state, **step_inputs(opt, state, p))
    np.testing.assert_array_equal(p, copies[0])
    np.testing.assert_array_equal(grads, copies[1])
    assert state.keys() == copies[2].keys()
    for key, value in state.items():
        np.testing.assert_array_equal(value, copies[2][key])
    assert new_p is not p
    assert new_state is not state
    assert new_state["t"] == state["t"] + 1


@pytest.mark.parametrize("name", NAMES)
def test_same_inputs_same_outputs(name):
    """Stepping the same (params, grads, state) twice gives identical results (reference: the first call)."""
    opt = optimizers.get(name, **HPARAMS[name][-1])
    starts = starts_for(name)
    state = opt.init(starts)
    more = step_inputs(opt, state, starts)
    p1, s1 = opt.step(starts, quad_grad(starts), state, **more)
    p2, s2 = opt.step(starts, quad_grad(starts), state, **more)
    np.testing.assert_array_equal(p1, p2)
    for key in s1:
        np.testing.assert_array_equal(s1[key], s2[key])
    # A fresh optimizer built from the same settings agrees too.
    p3, _ = optimizers.get(name, **HPARAMS[name][-1]).step(starts, quad_grad(starts), state, **more)
    np.testing.assert_array_equal(p1, p3)


def _bad_values(name):
    """(hyperparameter, bad value) pairs that must raise, built from each spec's range."""
    bad = [("lr", -1.0), ("lr", 0.0), ("lr", float("nan")), ("lr", float("inf")), ("lr", "fast")]
    for spec in optimizers.REGISTRY[name].specs:
        if spec.kind == "float":
            if math.isfinite(spec.high):
                bad.append((spec.name, spec.high + 1.0))
            if math.isfinite(spec.low):
                bad.append((spec.name, spec.low - 1.0))
            bad.append((spec.name, float("nan")))
        if spec.name in ("beta1", "beta2"):
            bad.append((spec.name, 1.0))
        if spec.kind == "choice":
            bad.append((spec.name, "nonsense"))
    return bad


@pytest.mark.parametrize("name", NAMES)
def test_bad_hyperparameters_raise_naming_the_parameter(name):
    """Each bad value raises ValueError whose message names the parameter (reference: the spec's valid range)."""
    for param, value in _bad_values(name):
        with pytest.raises(ValueError, match=param):
            optimizers.get(name, **{param: value})
    with pytest.raises(ValueError, match="no_such_knob"):
        optimizers.get(name, no_such_knob=1.0)


def test_cross_parameter_checks():
    """Combinations torch rejects, or that make no sense, raise with an actionable message (reference: torch.optim.SGD)."""
    with pytest.raises(ValueError, match="momentum > 0"):
        optimizers.get("nesterov", momentum=0.0)
    with pytest.raises(ValueError, match="dampening"):
        optimizers.get("nesterov", dampening=0.1)
    with pytest.raises(ValueError, match="dampening"):
        optimizers.get("momentum", form="ema", dampening=0.1)
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimizers.get("sgd_typo")


@pytest.mark.parametrize("name", NAMES)
def test_display_metadata(name):
    """Each class has a title, LaTeX, a reference and complete specs whose defaults pass their own checks."""
    cls = optimizers.REGISTRY[name]
    assert cls.name == name and cls.title and cls.reference
    assert isinstance(cls.latex, str) and "theta" in cls.latex
    assert cls.latex.count("{") == cls.latex.count("}")
    assert cls.specs[0].name == "lr"
    for spec in cls.specs:
        assert spec.help and spec.label, spec.name
        if spec.kind in ("float", "int"):
            lo, hi = spec.slider_range
            assert lo < hi
        spec.validate(spec.default)
    assert cls.__doc__ and "math::" in cls.__doc__
    cls()  # defaults build


# The control words our formulas use, all supported by KaTeX (which st.latex renders with). A typo or two
# words run together across string pieces (r"...\quad" r"m_t" -> "\quadm") shows up as an unknown word.
KATEX_WORDS = {
    "alpha", "bar", "begin", "beta", "Delta", "delta", "end", "epsilon", "eta", "frac", "hat", "infty", "lambda",
    "le", "left", "max", "top", "mu", "operatorname", "prod", "psi", "qquad", "quad", "rho", "right", "sqrt", "tau", "text",
    "tfrac", "theta", "to", "leftarrow", "neq", "odot", "cdot", "min", "nu", "dots",
}


@pytest.mark.parametrize("name", NAMES)
def test_latex_uses_only_known_katex_commands(name):
    """Every control word in the display formula is a KaTeX command (reference: the list above, from KaTeX's docs)."""
    latex = optimizers.REGISTRY[name].latex
    words = {w[1:] for w in re.findall(r"\\\\|\\[a-zA-Z]+", latex) if w != "\\\\"}
    assert words <= KATEX_WORDS, words - KATEX_WORDS
    for env in re.findall(r"\\begin\{(\w+)\}", latex):
        assert env in ("aligned", "cases") and latex.count(f"\\begin{{{env}}}") == latex.count(f"\\end{{{env}}}")


def test_momentum_ema_form_equals_torch_form_with_scaled_lr():
    """EMA momentum with lr η/(1−μ) traces torch's heavy ball with lr η (reference: two forms that must agree)."""
    mu, lr = 0.8, 0.05
    torch_form = run_steps(optimizers.get("momentum", lr=lr, momentum=mu), STARTS, 30)
    ema_form = run_steps(optimizers.get("momentum", lr=lr / (1 - mu), momentum=mu, form="ema"), STARTS, 30)
    np.testing.assert_allclose(ema_form, torch_form, rtol=1e-12, atol=1e-14)


def _narrow_trough():
    surface = NarrowTrough(condition_number=50.0, angle=30.0)
    eig = np.linalg.eigvalsh(surface.hessian(np.zeros(2)))
    return surface, eig[0], eig[-1]


def test_gd_contracts_at_the_theoretical_rate():
    """GD with step 2/(λmin+λmax) on the narrow trough shrinks the error by (κ−1)/(κ+1) each step.

    Reference: theoretical rate. With that step, I − ηA has eigenvalues ±(κ−1)/(κ+1), so the
    contraction is exact at every step and from every start. λ's come from the surface's Hessian here.
    """
    surface, lo, hi = _narrow_trough()
    kappa = hi / lo
    rate = (kappa - 1) / (kappa + 1)
    opt = optimizers.get("gd", lr=2.0 / (lo + hi))
    starts = np.array([surface.start, (1.0, 0.3), (-2.0, 2.5)])
    path = run_steps(opt, starts, 40, lambda p: surface.value_and_grad(p)[1])
    norms = np.linalg.norm(np.concatenate([starts[None], path]), axis=-1)  # (41, k); the minimum is 0
    np.testing.assert_allclose(norms[1:] / norms[:-1], rate, rtol=1e-9)
    # Any other fixed step is worse in the worst case: along one eigenvector it contracts more slowly.
    _, vecs = np.linalg.eigh(surface.hessian(np.zeros(2)))
    for lr in (1.9 / (lo + hi), 2.1 / (lo + hi)):
        worst = run_steps(optimizers.get("gd", lr=lr), vecs.T.copy(), 10, lambda p: surface.value_and_grad(p)[1])
        per_step = (np.linalg.norm(worst[-1], axis=-1) / np.linalg.norm(worst[-2], axis=-1)).max()
        assert per_step > rate * (1 + 1e-3)


def test_heavy_ball_reaches_polyaks_rate():
    """Heavy ball with Polyak's step 4/(√L+√μ)² and momentum ((√κ−1)/(√κ+1))² converges at (√κ−1)/(√κ+1).

    Reference: theoretical rate (Polyak 1964). The iteration matrix has a double eigenvalue there, so the
    error behaves like t·ρ^t; over steps 150..300 that adds a factor 2^(1/150) ≈ 1.005, within the 1% allowed.
    """
    surface = NarrowTrough(condition_number=100.0, angle=-20.0)
    eig = np.linalg.eigvalsh(surface.hessian(np.zeros(2)))
    lo, hi = eig[0], eig[-1]
    root = math.sqrt(hi / lo)
    rho = (root - 1) / (root + 1)
    opt = optimizers.get("momentum", lr=4.0 / (math.sqrt(hi) + math.sqrt(lo)) ** 2, momentum=rho**2)
    path = run_steps(opt, np.array([surface.start]), 300, lambda p: surface.value_and_grad(p)[1])
    err = np.linalg.norm(path[:, 0], axis=-1)
    measured = (err[299] / err[149]) ** (1 / 150)
    assert measured == pytest.approx(rho, rel=1e-2)
    assert measured < (hi / lo - 1) / (hi / lo + 1)  # far better than GD's (κ−1)/(κ+1)


def test_seed_adam_without_its_bugs_is_adam():
    """Seed 000's Adam with all three bugs switched off equals our Adam (two algorithms that must agree),
    and with them on it moves far less on the same problem (the stagnation the question reports)."""
    fixed = optimizers.get("seed_adam", lr=0.05, compound_correction=False, zero_based_step=False, times_gradient=False)
    np.testing.assert_allclose(run_steps(fixed, STARTS, 30), run_steps(optimizers.get("adam", lr=0.05), STARTS, 30),
                               rtol=1e-12, atol=1e-14)
    buggy = run_steps(optimizers.get("seed_adam", lr=0.05), STARTS, 30)
    adam = run_steps(optimizers.get("adam", lr=0.05), STARTS, 30)
    assert np.linalg.norm(buggy[-1] - STARTS) < np.linalg.norm(adam[-1] - STARTS)


def test_every_optimizer_declares_its_family_and_what_it_does_differently():
    """The panel groups optimizers by family and shows one line on each (reference: the declared contract:
    a family among classic/adaptive/modern and a one-sentence summary)."""
    from ui.optimizer_panel import FAMILIES, grouped_names

    for name, cls in optimizers.REGISTRY.items():
        assert cls.family in FAMILIES, name
        assert cls.summary.endswith(".") and 20 < len(cls.summary) < 140, name
    families = [optimizers.REGISTRY[k].family for k in grouped_names()]
    assert families == sorted(families, key=FAMILIES.index)


@pytest.mark.parametrize("name", [n for n, c in optimizers.REGISTRY.items() if c.kernel_coefs_steady_from is not None])
def test_declared_steady_kernel_numbers_do_not_change(name):
    """Reference: the optimizer's own kernel_coefs at every step: where a class declares its kernel numbers steady
    from step s on, they equal kernel_coefs(s) at later steps, and the series equals the per-step calls exactly."""
    opt = optimizers.get(name)
    s = opt.kernel_coefs_steady_from
    for t in (s, s + 1, 7, 1000, 123_457):
        assert opt.kernel_coefs(max(t, s)) == opt.kernel_coefs(s)
    ts = range(1, 40)
    assert np.array_equal(opt.kernel_coefs_series(ts), np.asarray([opt.kernel_coefs(t) for t in ts], dtype=float))


@pytest.mark.parametrize("name", [n for n, c in optimizers.REGISTRY.items() if c.kernel is not None])
def test_kernel_numbers_for_many_steps_equal_the_per_step_numbers(name):
    """Reference: kernel_coefs called step by step. The series a compiled loop reads (built once per segment,
    vectorized for Adam's bias corrections) must hold exactly the same numbers, from step 1 and from step 997."""
    opt = optimizers.get(name)
    for ts in (range(1, 60), range(997, 1100)):
        assert np.array_equal(opt.kernel_coefs_series(ts),
                              np.asarray([opt.kernel_coefs(t) for t in ts], dtype=float).reshape(len(ts), -1))
