"""Smooth ECE (Błasiok & Nakkiran 2023): the headline calibration error, and its reliability curve.

The estimator is ``relplot.smECE`` of the authors' package (Apple's ``relplot``), recomputed here
with two changes that leave its value unchanged:

* **sample weights**: the kernel smoother rounds each prediction onto a grid linearly in its
  value, so weighting a row by ``w`` is the same as repeating it ``w`` times (a bootstrap draw is
  evaluated as multiplicities, and non-integer importance weights reweight a set to another
  prevalence, :mod:`tmvlib.uncertainty.prior_shift`);
* **speed**: the two Gaussian convolutions of each bandwidth step (residual and density) share
  one real FFT instead of two direct ``np.convolve`` calls (about 3.5x faster, 2.3 ms at N = 240).

Everything else is relplot's own code: the reflected Gaussian kernel's ``kernel_ev``,
``smooth_round_to_grid`` and ``interpolate``, its grid sizes and density floor, and its bandwidth
search ``search_param`` (the fixed point ``sigma = smECE_sigma``). ``tests/metrics/
test_smooth_ece.py`` checks equality with ``relplot.smECE`` to 1e-12, unweighted and with integer
weights against ``np.repeat`` of the rows.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from relplot import config as _relplot_config
from relplot.kernels import ReflectedGaussianKernel, interpolate, smooth_round_to_grid
from relplot.metrics import search_param
from scipy import fft

from ._validate import check_binary

_DENSITY_FLOOR = 1e-4  # relplot's BaseKernelMixin.smooth adds this to the density


@lru_cache(maxsize=512)
def _kernel_spectrum(sigma: float, points: int, n_fft: int) -> np.ndarray:
    return fft.rfft(ReflectedGaussianKernel(sigma).kernel_ev(points), n_fft)


@lru_cache(maxsize=64)
def _mesh(points: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, points)


def _smoothed(probs: np.ndarray, values: np.ndarray, weight: np.ndarray, sigma: float,
              mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """relplot's ``ReflectedGaussianKernel(sigma)`` applied to ``weight * values`` and to
    ``weight`` at once: (smoothed values / density, density) on ``mesh``."""
    points = max(2000, round(20 / sigma)) // 2 + 1
    grid = np.stack([smooth_round_to_grid(probs, weight * values, points),
                     smooth_round_to_grid(probs, weight, points)])
    reflected = np.concatenate([grid[:, ::-1][:, :-1], grid, grid[:, ::-1][:, 1:]], axis=1)
    n_fft = fft.next_fast_len(reflected.shape[1] + points - 1, real=True)
    full = fft.irfft(fft.rfft(reflected, n_fft) * _kernel_spectrum(sigma, points, n_fft), n_fft)
    start = points - 1 + points // 2  # np.convolve(..., "valid")[points // 2 : points // 2 + points]
    smooth = full[:, start:start + points]
    density = interpolate(mesh, smooth[1]) + _DENSITY_FLOOR
    return interpolate(mesh, smooth[0]) / density, density


def _smece_at(probs: np.ndarray, residual: np.ndarray, weight: np.ndarray, sigma: float) -> float:
    mesh = _mesh(max(round(10 / sigma), _relplot_config.smECE_mesh_pts))
    smoothed, density = _smoothed(probs, residual, weight, sigma, mesh)
    return float(np.sum(np.abs(smoothed) * density) / np.sum(density))


def _bandwidth(probs: np.ndarray, residual: np.ndarray, weight: np.ndarray, eps: float) -> float:
    return float(search_param(lambda s: s < eps or s < _smece_at(probs, residual, weight, s),
                              start=1, refine=10))


def smooth_ece(labels: np.ndarray, probs: np.ndarray, sample_weight: np.ndarray | None = None,
               eps: float = 1e-3) -> float:
    """Smooth expected calibration error (smECE) of the positive-class probability.

    The residuals ``r_i = p_i - y_i`` are smoothed over the predictions with a Gaussian kernel of
    bandwidth ``sigma`` (reflected at 0 and 1): ``r̂(t) = sum_i w_i K(t, p_i) r_i / δ(t)`` with the
    kernel density ``δ(t) = sum_i w_i K(t, p_i)``; ``smECE_sigma = ∫ |r̂(t)| δ(t) dt / ∫ δ(t) dt``.
    The bandwidth is the fixed point ``sigma* = smECE_sigma*`` (found by bisection to within
    ``2^-10``; ``eps`` is relplot's lower limit on it), so no bin count or bandwidth is chosen by
    hand. Unlike binned ECE it is continuous in the predictions and consistent (a perfectly
    calibrated predictor's smECE tends to 0); it is still biased upward in small samples.

    Args:
        labels: (N,) in {0, 1}. probs: (N,) ``P(y=1)`` in [0, 1].
        sample_weight: (N,) non-negative weights (bootstrap multiplicities, or importance weights
            that move a set to another prevalence); None: all ones. An integer weight equals
            repeating the row.
        eps: smallest bandwidth considered (relplot's default).

    Returns:
        The smECE as a float in [0, 1] (0 is perfect); equals ``relplot.smECE(probs, labels)``.

    Reference: J. Błasiok, P. Nakkiran (2024), "Smooth ECE: Principled Reliability Diagrams via
    Kernel Smoothing", ICLR (arXiv:2309.12236); package ``relplot`` (github.com/apple/ml-calibration).
    """
    labels, probs, weight = check_binary(labels, probs, sample_weight)
    residual = probs - labels
    return _smece_at(probs, residual, weight, _bandwidth(probs, residual, weight, eps))


def smooth_reliability(labels: np.ndarray, probs: np.ndarray,
                       sample_weight: np.ndarray | None = None, points: int = 101,
                       eps: float = 1e-3) -> pd.DataFrame:
    """The smooth reliability diagram that goes with :func:`smooth_ece`: the kernel regression of
    the label on the prediction, at the smECE's own bandwidth (Błasiok & Nakkiran 2024, Fig. 1).

    Args:
        labels: (N,) in {0, 1}. probs: (N,) ``P(y=1)`` in [0, 1].
        sample_weight: (N,) non-negative weights; None: all ones.
        points: number of evaluation points on [0, 1].
        eps: as :func:`smooth_ece`.

    Returns:
        DataFrame with ``points`` rows: ``predicted`` (t on [0, 1]), ``observed`` (the smoothed
        frequency of ``y = 1`` among predictions near t; on the diagonal when calibrated),
        ``density`` (kernel density of the predictions at t, integrating to about 1),
        ``bandwidth`` (sigma, the same on every row) and ``supported``: whether at least about
        one image lies within a bandwidth of t (``density * W * 2 sigma >= 1``, W the total
        weight). Elsewhere the curve is an extrapolation (it falls towards 0 where the density
        vanishes) and a chart should not draw it.
    """
    labels, probs, weight = check_binary(labels, probs, sample_weight)
    sigma = _bandwidth(probs, probs - labels, weight, eps)
    mesh = np.linspace(0.0, 1.0, points)
    observed, density = _smoothed(probs, labels, weight, sigma, mesh)
    density = density / np.sum(weight)
    return pd.DataFrame({"predicted": mesh, "observed": observed, "density": density,
                         "bandwidth": sigma, "supported": density * np.sum(weight) * 2 * sigma >= 1})
