"""Risk-controlled abstention: a deferral rule with a finite-sample bound on the error of the
cases it answers.

A **deferral score** ranks images from most to least trustworthy (higher = less trustworthy, e.g.
the decision uncertainty ``exp(-|logit p - logit t|)``). The rule answers an image when its score
is at most a threshold ``lambda`` and defers it otherwise. The threshold is calibrated by **Learn
then Test** (Angelopoulos, Bates, Candes, Jordan & Lei 2021, arXiv:2110.01052) as MAPIE 1.6
implements it (``mapie.risk_control.BinaryClassificationController``): for every ``lambda`` of a
grid fixed in advance, the null hypothesis "the error rate among answered cases exceeds
``max_error``" is tested with the binomial Hoeffding-Bentkus p-value (Bates, Angelopoulos, Lei,
Malik & Jordan 2021, JACM 68(6), "distribution-free, risk-controlling prediction sets") on the
calibration cases that ``lambda`` answers, and the family of thresholds is corrected for
multiplicity (family-wise error rate ``delta``; Bonferroni-Holm by default). Among the thresholds
whose null is rejected, the one that answers the most calibration cases is kept. The guarantee:
with probability at least ``1 - delta`` over the draw of the calibration set, the error rate among
the answered cases of *new images exchangeable with the calibration images* is at most
``max_error``. It says nothing about images from another population.

Two rules, both from :func:`calibrate_deferral`:

- ``"marginal"``: one threshold; bounds the error among all answered cases.
- ``"class-conditional"`` (Mondrian by the predicted class, as in conformal triage, Angelopoulos
  et al. 2024, medRxiv 2024.02.09.24302543): one threshold per predicted class, each calibrated at
  ``delta / 2`` on the calibration cases of that predicted class, so that the error among answered
  positive calls (``1 - PPV``) and among answered negative calls (``1 - NPV``) are both at most
  ``max_error`` with probability at least ``1 - delta`` (union bound). A marginal bound can hold
  while the rarer class's answered calls are mostly wrong; this one cannot.

When no threshold of the grid is rejected, the rule (or that class's half of it) defers every
image: the calibration set is too small, or the model too inaccurate, to certify the target.

**The calibration unit.** The binomial test counts independent cases, but a patient contributes
several images whose errors go together: exchangeability holds between patients, not between the
images of one patient. Given the patient ids, :func:`calibrate_deferral` calibrates on one image
per patient (:func:`one_image_per_patient`, a seeded choice), so that the cases it counts are
exchangeable; the guarantee is then about new patients drawn like the calibration patients, one
image each. The other images of those patients are set aside and counted
(``DeferralRule.set_aside``). On clustered data the per-image test certifies unsafe thresholds
far more often than ``delta`` (``tests/uncertainty/test_abstention.py``).
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

RULES = ("marginal", "class-conditional")
# How the target was chosen: fixed in the params before calibration (the guarantee covers it), or
# picked from chapter 07's price list after seeing the calibration images (it does not).
TARGET_CHOICES = ("declared", "price list")
FWER_METHODS = ("bonferroni", "bonferroni_holm")
CLASSES = {"positive": 1, "negative": 0}


def score_grid(size: int = 20, high: float = 1.0) -> np.ndarray:
    """The thresholds tested, fixed before any calibration data is seen: ``size`` evenly spaced
    values in ``(0, high]`` (``high / size, 2 high / size, ..., high``). Scores in ``[0, 1]``
    (the decision uncertainty, the combined score's P(error)) use ``high = 1``, whose last
    threshold answers every image."""
    if size < 1:
        raise ValueError(f"score_grid: size must be at least 1, got {size}")
    return np.linspace(0.0, high, size + 1)[1:]


@dataclass(frozen=True)
class DeferralRule:
    """A calibrated deferral rule: answer an image when ``score <= threshold`` of its group.

    Attributes:
        score: name of the deferral score (higher = less trustworthy).
        kind: ``"marginal"`` (group ``"all"``) or ``"class-conditional"`` (groups ``"positive"``,
            ``"negative"``: the predicted class).
        max_error: the target: error rate among answered cases (of each group) at most this.
        delta: the bound fails with probability at most ``delta`` over the calibration draw.
        thresholds: group -> threshold, ``None`` where no threshold of the grid is certified
            (that group is always deferred).
        calibration: group -> ``{"images", "answered", "errors"}`` on the calibration set.
        grid: the thresholds tested. fwer: the multiplicity correction.
        unit: ``"patient"`` (calibrated on one image per patient) or ``"image"`` (every image
            counted as an independent case).
        set_aside: calibration images not used because their patient already had one.
        target_chosen: ``"declared"`` (``max_error`` fixed before calibration) or ``"price list"``
            (picked after seeing the calibration images: the formal guarantee does not cover it).
    """

    score: str
    kind: str
    max_error: float
    delta: float
    thresholds: dict[str, float | None]
    calibration: dict[str, dict[str, int]] = field(default_factory=dict)
    grid: tuple[float, ...] = ()
    fwer: str = "bonferroni_holm"
    unit: str = "image"
    set_aside: int = 0
    target_chosen: str = "declared"

    def answers(self, scores: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """(N,) bool: the images the rule answers. ``scores`` (N,) float (NaN: deferred),
        ``predicted`` (N,) 0/1 labels at the decision threshold."""
        scores = np.asarray(scores, dtype=np.float64)
        predicted = np.asarray(predicted).astype(int)
        if scores.shape != predicted.shape:
            raise ValueError(f"{len(scores)} scores but {len(predicted)} predicted labels")
        if self.kind == "marginal":
            limit = np.full(len(scores), _limit(self.thresholds["all"]))
        else:
            limit = np.where(predicted == 1, _limit(self.thresholds["positive"]),
                             _limit(self.thresholds["negative"]))
        with np.errstate(invalid="ignore"):
            return scores <= limit  # NaN <= x is False: an undefined score is deferred

    @property
    def calibration_cases(self) -> int:
        """The calibration cases the rule was tested on (one per patient for ``unit="patient"``),
        over its groups."""
        return sum(int(c["images"]) for c in self.calibration.values())

    @property
    def certified(self) -> bool:
        """True when at least one group has a certified threshold (the rule answers something)."""
        return any(t is not None for t in self.thresholds.values())

    def to_dict(self) -> dict:
        """JSON-ready fields (:meth:`from_dict` reads them back)."""
        return {**asdict(self), "grid": list(self.grid)}

    @classmethod
    def from_dict(cls, record: dict) -> DeferralRule:
        """The rule written by :meth:`to_dict`; KeyError naming a missing field."""
        missing = {"score", "kind", "max_error", "delta", "thresholds"} - set(record)
        if missing:
            raise KeyError(f"deferral rule record lacks {sorted(missing)}")
        return cls(**{**record, "grid": tuple(record.get("grid", ()))})


def threshold_text(rule: DeferralRule | Mapping) -> str:
    """The certified thresholds in words, e.g. "decision uncertainty <= 0.35" or "positive calls:
    none certified (always deferred); negative calls: decision uncertainty <= 0.40": the one text
    of a rule's thresholds (the book's prose and tables, the re-split tables, the card)."""
    r = rule if isinstance(rule, DeferralRule) else DeferralRule.from_dict(dict(rule))

    def one(t):
        return "none certified (always deferred)" if t is None else f"{r.score} <= {t:.2f}"
    if r.kind == "marginal":
        return one(r.thresholds["all"])
    return "; ".join(f"{group} calls: {one(t)}" for group, t in r.thresholds.items())


def one_image_per_patient(patients: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N,) bool: one image of every patient, chosen at random (seeded), the rest False.

    Args:
        patients: (N,) patient ids, in any order. seed: the choice depends on it and on the
            order of the rows only.
    """
    patients = np.asarray(patients)
    order = np.random.default_rng(seed).permutation(len(patients))
    _, first = np.unique(patients[order], return_index=True)
    keep = np.zeros(len(patients), bool)
    keep[order[first]] = True
    return keep


def _limit(threshold: float | None) -> float:
    return -np.inf if threshold is None else float(threshold)


def _selective_accuracy():
    """MAPIE's risk for 'error among answered cases': accuracy over the cases whose prediction
    is not NaN (a deferred case is NaN), as a performance (``1 - error``)."""
    from mapie.risk_control import BinaryRisk

    return BinaryRisk(risk_occurrence=lambda y_true, y_pred: y_pred == y_true,
                      risk_condition=lambda y_true, y_pred: ~np.isnan(y_pred),
                      higher_is_better=True)


def certified_threshold(scores: np.ndarray, predicted: np.ndarray, labels: np.ndarray,
                        max_error: float, delta: float, grid: np.ndarray,
                        fwer: str = "bonferroni_holm") -> float | None:
    """The largest-coverage threshold of ``grid`` whose error among answered calibration cases
    is certified at most ``max_error`` at family-wise level ``delta`` (Learn then Test, MAPIE).

    Args:
        scores: (N,) deferral scores of the calibration images (NaN: never answered).
        predicted, labels: (N,) 0/1 predicted and true labels.
    Returns:
        the threshold, or None when no threshold is certified (including N = 0).
    """
    from mapie.risk_control import BinaryClassificationController

    scores = np.asarray(scores, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    labels = np.asarray(labels).astype(int)
    if not len(scores):
        return None

    def predict(x: np.ndarray, lam: float) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.where(x[:, 0] <= lam, x[:, 1], np.nan)

    controller = BinaryClassificationController(
        predict, _selective_accuracy(), target_level=1.0 - max_error, confidence_level=1.0 - delta,
        best_predict_param_choice="abstention_rate", list_predict_params=np.asarray(grid, float)[:, None],
        fwer_method=fwer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # MAPIE's note that no parameter is valid
        controller.calibrate(np.column_stack([scores, predicted]), labels)
    best = controller.best_predict_param
    return None if best is None else float(np.ravel(best)[0])


def calibrate_deferral(scores: np.ndarray, predicted: np.ndarray, labels: np.ndarray, max_error: float,
                       delta: float, kind: str = "marginal", grid: np.ndarray | None = None,
                       fwer: str = "bonferroni_holm", score: str = "score", patients: np.ndarray | None = None,
                       seed: int = 0, target_chosen: str = "declared") -> DeferralRule:
    """Calibrate a :class:`DeferralRule` on calibration images (see the module doc).

    Args:
        scores: (N,) deferral scores (higher = less trustworthy; NaN: never answered).
        predicted, labels: (N,) 0/1 predicted labels (at the decision threshold) and true labels.
        max_error: target error rate among answered cases, in (0, 1).
        delta: family-wise error level, in (0, 1); ``class-conditional`` spends ``delta / 2`` per
            predicted class.
        kind: ``"marginal"`` or ``"class-conditional"``.
        grid: thresholds to test (default :func:`score_grid` ``(20)``).
        fwer: ``"bonferroni_holm"`` or ``"bonferroni"`` (valid for any score; fixed-sequence
            testing needs a risk monotone in the threshold, which a selective risk is not).
        patients: (N,) patient ids: calibrate on one image per patient (seeded by ``seed``); None
            counts every image as an independent case (only for data with one image per patient).
        target_chosen: how ``max_error`` was chosen (:data:`TARGET_CHOICES`), recorded in the rule.
    Raises:
        ValueError: an unknown kind, fwer or target_chosen, a target or delta outside (0, 1), mismatched lengths,
            labels or predictions that are not 0/1.
    """
    if kind not in RULES:
        raise ValueError(f"unknown deferral rule kind {kind!r}; use one of {RULES}")
    if fwer not in FWER_METHODS:
        raise ValueError(f"unknown fwer {fwer!r}; use one of {FWER_METHODS}")
    if target_chosen not in TARGET_CHOICES:
        raise ValueError(f"unknown target_chosen {target_chosen!r}; use one of {TARGET_CHOICES}")
    for name, value in (("max_error", max_error), ("delta", delta)):
        if not 0 < value < 1:
            raise ValueError(f"{name} must be in (0, 1), got {value}")
    scores = np.asarray(scores, dtype=np.float64)
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if not (len(scores) == len(predicted) == len(labels)):
        raise ValueError(f"lengths differ: {len(scores)} scores, {len(predicted)} predictions, "
                         f"{len(labels)} labels")
    for name, values in (("predicted", predicted), ("labels", labels)):
        if not np.isin(values, (0, 1)).all():
            raise ValueError(f"{name} must be 0/1; found {sorted(set(np.unique(values)) - {0, 1})[:5]}")
    grid = score_grid() if grid is None else np.asarray(grid, dtype=np.float64)
    unit, set_aside = "image", 0
    if patients is not None:
        patients = np.asarray(patients)
        if len(patients) != len(scores):
            raise ValueError(f"lengths differ: {len(scores)} scores, {len(patients)} patient ids")
        keep = one_image_per_patient(patients, seed)
        unit, set_aside = "patient", int((~keep).sum())
        scores, predicted, labels = scores[keep], predicted[keep], labels[keep]
    groups = ({"all": np.ones(len(scores), bool)} if kind == "marginal" else
              {name: predicted == value for name, value in CLASSES.items()})
    level = delta if kind == "marginal" else delta / len(groups)
    thresholds, calibration = {}, {}
    for name, member in groups.items():
        t = certified_threshold(scores[member], predicted[member], labels[member], max_error, level, grid, fwer)
        thresholds[name] = t
        with np.errstate(invalid="ignore"):
            answered = member & (scores <= _limit(t))
        calibration[name] = {"images": int(member.sum()), "answered": int(answered.sum()),
                             "errors": int((predicted[answered] != labels[answered]).sum())}
    return DeferralRule(score, kind, float(max_error), float(delta), thresholds, calibration,
                        tuple(float(g) for g in grid), fwer, unit, set_aside, target_chosen)
