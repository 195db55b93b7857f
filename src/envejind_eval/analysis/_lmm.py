r"""Linear mixed models fitted as lme4 does, for the two models of the package.

A model is a list of independent blocks (teams, or participants), each ``(X, y,
patterns)`` with the block's covariance :math:`V = \sigma^2 (I + \sum_k c_k(\theta) P_k)`:
the patterns :math:`P_k` are fixed matrices and :math:`c(\theta)` comes from the relative
covariance factor :math:`\theta` that lme4 optimises. ``profile`` is the profiled
(restricted) likelihood at given coefficients (one batched Cholesky per block size);
``profile_slopes`` the same in closed form for a random intercept and slope per group;
``fit`` maximises either over :math:`\theta` (bounded where lme4 bounds it); ``gls``
gives the fixed effects, lme4's conditional covariance and lmerTest's Satterthwaite
degrees of freedom. Used by :func:`envejind_eval.analysis.models.mixed_model` (team and
participant intercepts) and by ``daily_rhythm``'s group trend (intercept and slope per
participant).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from envejind_eval.errors import InsufficientDataError

Block = tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]


def stacks(blocks: list[Block]) -> list[tuple[np.ndarray, np.ndarray, list[np.ndarray]]]:
    """Blocks stacked by size: one batched linear-algebra call per size instead of a Python
    loop over blocks."""
    by_n: dict[int, list[Block]] = {}
    for b in blocks:
        by_n.setdefault(len(b[1]), []).append(b)
    return [
        (
            np.stack([b[0] for b in bs]),
            np.stack([b[1] for b in bs])[..., None],
            [np.stack([b[2][k] for b in bs]) for k in range(len(bs[0][2]))],
        )
        for bs in by_n.values()
    ]


def profile(stacks: list, coef: Sequence[float] | np.ndarray, reml: bool) -> tuple[float, float]:
    """(Restricted) log-likelihood with beta and the residual variance profiled out, at the
    pattern coefficients ``coef`` (lme4's deviance / -2), and that residual variance."""
    p = stacks[0][0].shape[2]
    xhx, xhy = np.zeros((p, p)), np.zeros(p)
    yhy = logdet = 0.0
    n = 0
    for x, y, pats in stacks:
        h = sum(c * pk for c, pk in zip(coef, pats, strict=True)) + np.eye(x.shape[1])
        c = np.linalg.cholesky(h)
        cx = np.linalg.solve(c, x).reshape(-1, p)  # rows of all blocks of this size
        cy = np.linalg.solve(c, y).reshape(-1)
        xhx += cx.T @ cx
        xhy += cx.T @ cy
        yhy += float(cy @ cy)
        logdet += 2 * float(np.log(np.diagonal(c, axis1=1, axis2=2)).sum())
        n += y.shape[0] * y.shape[1]
    beta = np.linalg.solve(xhx, xhy)
    pwrss = yhy - xhy @ beta
    dof = n - p if reml else n
    dev = logdet + dof * (1 + np.log(2 * np.pi * pwrss / dof))
    if reml:
        dev += np.linalg.slogdet(xhx)[1]
    return float(-dev / 2), float(pwrss / dof)


def fit(
    objective: Callable[[np.ndarray], tuple[float, float]],
    *,
    start: Sequence[float],
    grid: Sequence[Sequence[float]],
    bounds: Sequence[tuple[float | None, float | None]],
) -> tuple[np.ndarray, float, float, bool, str]:
    """Maximise a profiled likelihood ``objective(theta) -> (log-likelihood, residual
    variance)`` over ``theta`` (L-BFGS-B within ``bounds``).

    lme4 starts from one point; the profile can be flat with small bumps near a boundary
    (``theta = 0`` is a stationary point of a standard-deviation parameterisation), so one
    local search may stop at the wrong place: it runs from ``start`` and from the two best
    points of ``grid`` (one axis per parameter, including the boundaries), and keeps the
    best. Returns ``(theta, log-likelihood, residual variance, converged, message)``.
    """
    from scipy.optimize import minimize

    def f(theta: np.ndarray) -> float:
        try:
            v = -objective(theta)[0]
        except np.linalg.LinAlgError:
            return 1e30  # a step to a numerically singular V: reject it
        return v if np.isfinite(v) else 1e30

    pts = sorted(((f(np.array(g)), g) for g in itertools.product(*grid)), key=lambda t: t[0])
    best = None
    for s in (start, *(g for _, g in pts[:2])):
        r = minimize(
            f,
            np.asarray(s, float),
            method="L-BFGS-B",
            bounds=list(bounds),
            options={"ftol": 1e-13, "gtol": 1e-8, "maxiter": 500},
        )
        if best is None or r.fun < best.fun:
            best = r
    assert best is not None
    if best.fun >= 1e30:
        raise InsufficientDataError("the mixed model cannot be fitted (singular)")
    if not best.success:
        # finite-difference gradients can stall L-BFGS-B's line search on a flat, slightly
        # noisy profile (many groups): finish derivative-free, as lme4's bobyqa does
        pol = minimize(
            f, best.x, method="Powell", bounds=list(bounds), options={"xtol": 1e-10, "ftol": 1e-15}
        )
        if pol.fun <= best.fun:
            best = pol
    llf, sigma2 = objective(best.x)
    return best.x, llf, sigma2, bool(best.success), str(best.message)


def slope_sums(x: np.ndarray, y: np.ndarray, z: np.ndarray, group: np.ndarray) -> dict:
    """Per-group cross-products for :func:`profile_slopes` (rows sorted by ``group``; ``z``
    the two columns of the random intercept and slope)."""
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])

    def per(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.add.reduceat(a[:, :, None] * b[:, None, :], starts, axis=0)

    return {
        "zz": per(z, z),
        "zx": per(z, x),
        "zy": np.add.reduceat(z * y[:, None], starts, axis=0),
        "xx": x.T @ x,
        "xy": x.T @ y,
        "yy": float(y @ y),
        "n": len(y),
    }


def slopes_gls(sums: dict, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    r"""For a random intercept and slope per group, in closed form: with lme4's factor
    :math:`\Lambda = [[\theta_0, 0], [\theta_1, \theta_2]]`, each group's
    :math:`H = I + Z \Lambda \Lambda^\top Z^\top` has :math:`|H| = |M|` and
    :math:`H^{-1} = I - Z \Lambda M^{-1} \Lambda^\top Z^\top` with the 2 x 2
    :math:`M = I + \Lambda^\top Z^\top Z \Lambda` (as lme4's sparse Cholesky), so an
    evaluation is a few array operations over the groups instead of one factorisation per
    group. Returns :math:`(X^\top H^{-1} X, X^\top H^{-1} y, y^\top H^{-1} y,
    \log|H|)` summed over the groups."""
    t0, t1, t2 = theta
    lam = np.array([[t0, 0.0], [t1, t2]])
    lzz = lam.T @ sums["zz"] @ lam  # (k, 2, 2)
    m00, m01, m11 = 1 + lzz[:, 0, 0], lzz[:, 0, 1], 1 + lzz[:, 1, 1]
    det = m00 * m11 - m01 * m01
    minv = np.stack([np.stack([m11, -m01], -1), np.stack([-m01, m00], -1)], -2)
    minv /= det[:, None, None]
    lzx = lam.T @ sums["zx"]  # (k, 2, p)
    lzy = sums["zy"] @ lam  # (k, 2)
    xhx = sums["xx"] - np.einsum("kai,kab,kbj->ij", lzx, minv, lzx)
    xhy = sums["xy"] - np.einsum("kai,kab,kb->i", lzx, minv, lzy)
    yhy = sums["yy"] - float(np.einsum("ka,kab,kb->", lzy, minv, lzy))
    return xhx, xhy, yhy, float(np.log(det).sum())


def profile_slopes(sums: dict, theta: np.ndarray, reml: bool) -> tuple[float, float]:
    """:func:`profile` for a random intercept and slope per group (see
    :func:`slopes_gls`)."""
    xhx, xhy, yhy, logdet = slopes_gls(sums, theta)
    p = xhx.shape[0]
    pwrss = yhy - xhy @ np.linalg.solve(xhx, xhy)
    dof = sums["n"] - p if reml else sums["n"]
    dev = logdet + dof * (1 + np.log(2 * np.pi * pwrss / dof))
    if reml:
        dev += np.linalg.slogdet(xhx)[1]
    return float(-dev / 2), float(pwrss / dof)


def gls(
    blocks: list[Block],
    phi: np.ndarray,
    reml: bool,
    free: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The GLS fixed effects at the covariance parameters ``phi`` (the absolute
    coefficients of the patterns, then the residual variance), their covariance as lme4
    reports it, and Satterthwaite's degrees of freedom per coefficient as lmerTest
    computes them (``free``: which of ``phi`` are not at a boundary).

    The covariance is lme4's conditional :math:`C = (X^\top V^{-1} X)^{-1}`; statsmodels'
    ``cov_params`` inverts the Hessian of all parameters jointly, which in unbalanced data
    differs slightly (~1e-4).

    Satterthwaite: with :math:`V = \sum_k \phi_k V_k` (the patterns, then :math:`I`),
    :math:`\nu_j = 2 C_{jj}^2 / (g_j^\top A g_j)` where :math:`g_{jk} = \partial C_{jj} /
    \partial \phi_k = (C X^\top W V_k W X C)_{jj}` (:math:`W = V^{-1}`) and :math:`A` is the
    inverse of the observed information of :math:`\phi` for the (restricted) likelihood
    with :math:`\beta` profiled out:

    .. math:: I_{kl} = -\tfrac12 \operatorname{tr}(Q V_k Q V_l) + u_k^\top P u_l,\quad
              u_k = V_k W r,\ P = W - W X C X^\top W,\ r = y - X\hat\beta,

    with :math:`Q = P` for REML and :math:`Q = W` for ML. lmerTest takes the same Hessian
    numerically in its own parameters; at an interior optimum the result does not depend
    on the parameterisation. Parameters at the boundary are held there (``free`` False),
    as lmerTest's parameterisation by standard deviations does implicitly (there both its
    gradient entry and its cross terms vanish); then, as lmerTest, a generalised inverse
    keeps the positive eigenvalues only. All sums run block by block.
    """
    p = blocks[0][0].shape[1]
    vks = [(*pats, np.eye(len(y))) for _, y, pats in blocks]
    ws = [np.linalg.inv(sum(f * v for f, v in zip(phi, vk, strict=True))) for vk in vks]
    xtwx = sum(x.T @ w @ x for (x, _, _), w in zip(blocks, ws, strict=True))
    xtwy = sum(x.T @ w @ y for (x, y, _), w in zip(blocks, ws, strict=True))
    cov = np.linalg.inv(xtwx)
    fe = cov @ xtwy
    k = len(phi)
    m = np.zeros((k, p, p))  # X'W V_k W X
    nn = np.zeros((k, k, p, p))  # X'W V_k W V_l W X
    tt = np.zeros((k, k))  # tr(W V_k W V_l)
    ss = np.zeros((k, k))  # u_k' W u_l
    a = np.zeros((k, p))  # X'W u_k
    for (x, y, _), vk, w in zip(blocks, vks, ws, strict=True):
        wx = w @ x
        wr = w @ (y - x @ fe)
        u = [v @ wr for v in vk]
        wvw_x = [w @ (v @ wx) for v in vk]  # W V_k W X
        wv = [w @ v for v in vk]
        for i in range(k):
            m[i] += wx.T @ (vk[i] @ wx)
            a[i] += wx.T @ u[i]
            for j in range(k):
                nn[i, j] += wx.T @ (vk[i] @ wvw_x[j])
                tt[i, j] += np.sum(wv[i] * wv[j].T)
                ss[i, j] += u[i] @ (w @ u[j])
    info = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            trace = tt[i, j]
            if reml:  # tr(P V_k P V_l) from the block sums
                trace += -2 * np.trace(cov @ nn[i, j]) + np.trace(cov @ m[i] @ cov @ m[j])
            info[i, j] = -0.5 * trace + ss[i, j] - a[i] @ cov @ a[j]
    grad = np.einsum("ij,kjl,li->ik", cov, m, cov)  # (p, k): d C_jj / d phi_k
    evals, evecs = np.linalg.eigh(info[np.ix_(free, free)])
    pos = evals > 1e-8 * max(float(np.abs(evals).max()), 1e-300)
    a_phi = (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    quad = np.einsum("ik,kl,il->i", grad[:, free], a_phi, grad[:, free])
    with np.errstate(divide="ignore", invalid="ignore"):
        df = 2 * np.diag(cov) ** 2 / quad
    return fe, cov, df
