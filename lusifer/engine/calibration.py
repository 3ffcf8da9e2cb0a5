"""Calibrators: map a simulator's ratings closer to real users' ratings without seeing test labels.

Three families, all with ``fit(frame, history)`` then ``apply(frame, history)``:

- :class:`UserMoments` (label-free): shifts and scales each user's simulated ratings so that their mean
  and spread match the user's *training* ratings. It never reads a truth column.
- :class:`CrossFitMap` (supervised): a global isotonic or linear map from simulated rating to truth.
  For evaluation, :meth:`Calibrator.cross_fit_predict` fits it K-fold over *users*, so no user's own
  labels are used for that user's predictions.
- :class:`Hybrid` (supervised): a linear stack of the simulated rating and CF baselines (trained on the
  training slice), with weights fitted the same cross-validated way.

Frames have columns ``user_id``, ``item_id``, ``simulated_rating`` (NaN = failed output, which stays
NaN) and, for fitting supervised calibrators, the truth ``rating``. ``history`` is the training slice
``user_id, item_id, rating`` the simulator saw. ``apply`` returns a copy of the frame with a
``calibrated_rating`` column, clipped to the rating scale. Fitted calibrators are saved as JSON and
read back with :func:`load_calibrator`; a calibrator remembers the column of ``ratings.csv`` it was
fitted on (``input``: ``simulated_rating``, or ``expected_rating`` of a distribution-mode run), which
``lusifer run --calibrator`` feeds it.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lusifer.api.errors import DataError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd

SIMULATED = "simulated_rating"
TRUTH = "rating"
CALIBRATED = "calibrated_rating"
FORMAT_VERSION = 1


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(f"{what} needs column(s) {', '.join(missing)}")


def user_folds(users: pd.Series, folds: int, seed: int) -> np.ndarray:
    """A fold number per row: users are shuffled (seeded) and dealt round-robin into ``folds`` folds."""
    import pandas as pd

    codes, unique = pd.factorize(users, sort=True)
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of_user = np.empty(len(unique), dtype=int)
    fold_of_user[order] = np.arange(len(unique)) % max(1, folds)
    user_fold: np.ndarray = fold_of_user[codes]
    return user_fold


class Calibrator(ABC):
    """Common interface: ``fit`` then ``apply``; ``to_dict``/``save`` for JSON persistence."""

    #: Name in JSON files and reports.
    kind: ClassVar[str]
    #: Whether ``fit`` reads the truth column.
    supervised: ClassVar[bool]
    #: Whether the output depends on ``simulated_rating`` (then a NaN there stays NaN).
    uses_simulated: bool = True

    def __init__(self, scale: tuple[float, float] = (1, 5)) -> None:
        self.scale = (float(scale[0]), float(scale[1]))
        self.state: dict[str, Any] | None = None
        #: The column whose values were fitted as ``simulated_rating`` (e.g. ``expected_rating``).
        self.input = SIMULATED

    def params(self) -> dict[str, Any]:
        """Constructor arguments (JSON-friendly)."""
        return {"scale": list(self.scale)}

    @abstractmethod
    def fit(self, frame: pd.DataFrame, history: pd.DataFrame | None = None) -> Calibrator:
        """Learn the calibrator's state from ``frame`` (and ``history``); returns ``self``."""

    @abstractmethod
    def _predict(self, frame: pd.DataFrame, history: pd.DataFrame | None) -> np.ndarray:
        """Calibrated values for the rows of ``frame`` (before clipping)."""

    def apply(self, frame: pd.DataFrame, history: pd.DataFrame | None = None) -> pd.DataFrame:
        """A copy of ``frame`` with :data:`CALIBRATED` added; NaN simulated ratings stay NaN."""
        if self.state is None:
            raise DataError(f"{self.kind} calibrator is not fitted; call fit() or load a fitted one")
        _require(frame, ("user_id", SIMULATED) if self.uses_simulated else ("user_id",), f"{self.kind} calibrator")
        values = np.clip(np.asarray(self._predict(frame, history), dtype=float), *self.scale)
        if self.uses_simulated:
            values = np.where(np.isfinite(frame[SIMULATED].to_numpy(dtype=float)), values, np.nan)
        result = frame.copy()
        result[CALIBRATED] = values
        return result

    def cross_fit_predict(
        self, frame: pd.DataFrame, history: pd.DataFrame | None = None, folds: int = 5, seed: int = 0
    ) -> np.ndarray:
        """Calibrated values for ``frame`` where no user's own labels shaped that user's values.

        Supervised calibrators are fitted on the other users' folds; label-free ones on everything.
        """
        if not self.supervised:
            calibrated: np.ndarray = self.fit(frame, history).apply(frame, history)[CALIBRATED].to_numpy()
            return calibrated
        frame = self._prepare(frame, history)
        fold = user_folds(frame["user_id"], folds, seed)
        result = np.full(len(frame), np.nan)
        for k in np.unique(fold):
            inside = fold == k
            model = type(self)(**self.params()).fit(frame.loc[~inside], history)
            result[inside] = model.apply(frame.loc[inside], history)[CALIBRATED].to_numpy()
        return result

    def _prepare(self, frame: pd.DataFrame, history: pd.DataFrame | None) -> pd.DataFrame:
        """Add side inputs computed once for all folds (e.g. baseline predictions)."""
        return frame

    def to_dict(self) -> dict[str, Any]:
        if self.state is None:
            raise DataError(f"{self.kind} calibrator is not fitted; nothing to save")
        data = {"type": self.kind, "version": FORMAT_VERSION, "params": self.params(), "state": self.state}
        return data if self.input == SIMULATED else {**data, "input": self.input}

    def save(self, path: str | Path) -> Path:
        """Write the fitted calibrator as JSON."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path


def _user_moments(
    users: pd.Series, values: np.ndarray, shrinkage: float, pooled_sd: float
) -> tuple[pd.Series, pd.Series]:
    """Per-user mean and standard deviation, the variance shrunk towards ``pooled_sd**2``."""
    import pandas as pd

    table = pd.DataFrame({"user_id": users.to_numpy(), "value": values}).dropna()
    grouped = table.groupby("user_id")["value"]
    count = grouped.count()
    variance = grouped.var(ddof=1).fillna(0.0)
    dof = (count - 1).clip(lower=0)
    shrunk = (dof * variance + shrinkage * pooled_sd**2) / (dof + shrinkage).replace(0, np.nan)
    return grouped.mean(), np.sqrt(shrunk.fillna(0.0))


def _pooled_within_user_sd(users: pd.Series, values: np.ndarray) -> float:
    import pandas as pd

    table = pd.DataFrame({"user_id": users.to_numpy(), "value": values}).dropna()
    deviations = table["value"] - table.groupby("user_id")["value"].transform("mean")
    dof = len(table) - table["user_id"].nunique()
    return float(np.sqrt((deviations**2).sum() / dof)) if dof > 0 else 0.0


class UserMoments(Calibrator):
    """Label-free: match each user's simulated mean (and spread) to the user's training ratings.

    ``calibrated = mean_train + (simulated - mean_sim) * sd_train / sd_sim`` per user, where the
    simulated moments come from the frame being calibrated (so apply it to all of a user's simulated
    ratings at once) and the training moments from ``history``. Standard deviations are shrunk
    towards pooled within-user values (fitted label-free) with ``shrinkage`` pseudo-observations.
    With ``match_spread=False`` only the mean is shifted. Users absent from ``history`` are unchanged.

    ``apply`` needs ``frame`` (``user_id``, ``simulated_rating``) and ``history``
    (``user_id``, ``rating``).
    """

    kind = "user_moments"
    supervised = False

    def __init__(self, scale: tuple[float, float] = (1, 5), shrinkage: float = 5.0, match_spread: bool = True) -> None:
        super().__init__(scale)
        self.shrinkage = float(shrinkage)
        self.match_spread = bool(match_spread)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "shrinkage": self.shrinkage, "match_spread": self.match_spread}

    def fit(self, frame: pd.DataFrame, history: pd.DataFrame | None = None) -> UserMoments:
        history = self._history(history)
        _require(frame, ("user_id", SIMULATED), "user_moments calibrator")
        self.state = {
            "pooled_sd_simulated": _pooled_within_user_sd(frame["user_id"], frame[SIMULATED].to_numpy(float)),
            "pooled_sd_history": _pooled_within_user_sd(history["user_id"], history[TRUTH].to_numpy(float)),
        }
        return self

    def _history(self, history: pd.DataFrame | None) -> pd.DataFrame:
        if history is None:
            raise DataError("user_moments calibrator needs the training history (user_id, rating)")
        _require(history, ("user_id", TRUTH), "user_moments calibrator's history")
        return history

    def _predict(self, frame: pd.DataFrame, history: pd.DataFrame | None) -> np.ndarray:
        assert self.state is not None
        history = self._history(history)
        simulated = frame[SIMULATED].to_numpy(dtype=float)
        sim_mean, sim_sd = _user_moments(frame["user_id"], simulated, self.shrinkage, self.state["pooled_sd_simulated"])
        hist_mean, hist_sd = _user_moments(
            history["user_id"],
            history[TRUTH].to_numpy(float),
            self.shrinkage,
            self.state["pooled_sd_history"],
        )
        users = frame["user_id"]
        mu_s = users.map(sim_mean).to_numpy(dtype=float)
        mu_h = users.map(hist_mean).to_numpy(dtype=float)
        deviation = simulated - mu_s
        if self.match_spread:
            sd_s = users.map(sim_sd).to_numpy(dtype=float)
            sd_h = users.map(hist_sd).to_numpy(dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                deviation = np.where(sd_s > 0, deviation * sd_h / np.where(sd_s > 0, sd_s, 1.0), 0.0)
        predicted: np.ndarray = np.where(np.isfinite(mu_h), mu_h + deviation, simulated)
        return predicted


def _isotonic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Increasing least-squares fit of ``y`` on ``x`` (pool-adjacent-violators): knots and values."""
    knots, inverse = np.unique(x, return_inverse=True)
    weight = np.bincount(inverse).astype(float)
    total = np.bincount(inverse, weights=y)
    sums: list[float] = []
    weights: list[float] = []
    sizes: list[int] = []
    for s, w in zip(total, weight):
        sums.append(s)
        weights.append(w)
        sizes.append(1)
        while len(sums) > 1 and sums[-2] / weights[-2] >= sums[-1] / weights[-1]:
            s, w, n = sums.pop(), weights.pop(), sizes.pop()
            sums[-1] += s
            weights[-1] += w
            sizes[-1] += n
    values = np.repeat(np.array(sums) / np.array(weights), sizes)
    return knots, values


class CrossFitMap(Calibrator):
    """Supervised: a global map ``simulated -> truth``, isotonic (monotone) or linear.

    ``fit`` needs ``simulated_rating`` and the truth ``rating``; ``apply`` needs only
    ``simulated_rating``. Isotonic maps interpolate linearly between knots and are flat beyond them.
    """

    kind = "cross_fit_map"
    supervised = True
    METHODS = ("isotonic", "linear")

    def __init__(self, scale: tuple[float, float] = (1, 5), method: str = "isotonic") -> None:
        super().__init__(scale)
        if method not in self.METHODS:
            raise NotFoundError(f"unknown map '{method}'; known: {', '.join(self.METHODS)}")
        self.method = method

    def params(self) -> dict[str, Any]:
        return {**super().params(), "method": self.method}

    def fit(self, frame: pd.DataFrame, history: pd.DataFrame | None = None) -> CrossFitMap:
        _require(frame, (SIMULATED, TRUTH), f"{self.method} calibrator")
        x = frame[SIMULATED].to_numpy(dtype=float)
        y = frame[TRUTH].to_numpy(dtype=float)
        valid = np.isfinite(x) & np.isfinite(y)
        if not valid.any():
            raise DataError(f"{self.method} calibrator: no rows with both a simulated and a true rating")
        x, y = x[valid], y[valid]
        if self.method == "isotonic":
            knots, values = _isotonic(x, y)
            self.state = {"knots": knots.tolist(), "values": values.tolist()}
        else:
            slope = float(np.cov(x, y, bias=True)[0, 1] / x.var()) if x.var() > 0 else 0.0
            self.state = {"intercept": float(y.mean() - slope * x.mean()), "slope": slope}
        return self

    def _predict(self, frame: pd.DataFrame, history: pd.DataFrame | None) -> np.ndarray:
        assert self.state is not None
        x = frame[SIMULATED].to_numpy(dtype=float)
        if self.method == "isotonic":
            predicted: np.ndarray = np.interp(x, self.state["knots"], self.state["values"])
            return predicted
        predicted = self.state["intercept"] + self.state["slope"] * x
        return predicted


class Hybrid(Calibrator):
    """Supervised: ``intercept + w0 * simulated + sum_b w_b * baseline_b`` (least squares, small ridge).

    With ``user_centered`` the simulated rating enters twice: as is and minus the user's mean simulated
    rating (label-free), so the within-user ordering gets its own weight. With
    ``use_simulated=False`` it is a CF-only stack (a control showing what the simulator adds).

    ``apply`` needs ``simulated_rating`` and one column per baseline name (as produced by
    :func:`lusifer.engine.baselines.predict_baselines`); missing baseline columns are computed from
    ``history`` (``user_id``, ``item_id``, ``rating``), so passing ``history`` is enough.
    """

    kind = "hybrid"
    supervised = True

    def __init__(
        self,
        scale: tuple[float, float] = (1, 5),
        baselines: Sequence[str] = ("UserItemBias", "KNNBaseline", "SVD"),
        use_simulated: bool = True,
        user_centered: bool = True,
        ridge: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__(scale)
        from lusifer.engine.baselines import BASELINES

        unknown = [name for name in baselines if name not in BASELINES]
        if unknown:
            raise NotFoundError(f"unknown baseline(s) {', '.join(unknown)}; known: {', '.join(BASELINES)}")
        self.baselines = list(baselines)
        self.use_simulated = self.uses_simulated = bool(use_simulated)
        self.user_centered = bool(user_centered) and self.use_simulated
        self.ridge = float(ridge)
        self.seed = int(seed)

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "baselines": self.baselines,
            "use_simulated": self.use_simulated,
            "user_centered": self.user_centered,
            "ridge": self.ridge,
            "seed": self.seed,
        }

    def _prepare(self, frame: pd.DataFrame, history: pd.DataFrame | None) -> pd.DataFrame:
        missing = [name for name in self.baselines if name not in frame.columns]
        if not missing:
            return frame
        if history is None:
            raise DataError(
                f"hybrid calibrator needs baseline column(s) {', '.join(missing)} or the training history to fit them"
            )
        from lusifer.engine.baselines import predict_baselines

        _require(history, ("user_id", "item_id", TRUTH), "hybrid calibrator's history")
        predictions = predict_baselines(history, frame, missing, seed=self.seed, scale=self.scale)
        frame = frame.copy()
        for name in missing:
            frame[name] = predictions[name].to_numpy()
        return frame

    def _design(self, frame: pd.DataFrame) -> np.ndarray:
        columns = [frame[name].to_numpy(dtype=float) for name in self.baselines]
        if self.use_simulated:
            simulated = frame[SIMULATED].to_numpy(dtype=float)
            columns.insert(0, simulated)
            if self.user_centered:
                user_mean = frame.assign(_s=simulated).groupby("user_id")["_s"].transform("mean")
                columns.insert(1, simulated - user_mean.to_numpy(dtype=float))
        return np.column_stack(columns) if columns else np.empty((len(frame), 0))

    def feature_names(self) -> list[str]:
        names = list(self.baselines)
        if self.use_simulated:
            names[:0] = [SIMULATED, f"{SIMULATED}_minus_user_mean"] if self.user_centered else [SIMULATED]
        return names

    def fit(self, frame: pd.DataFrame, history: pd.DataFrame | None = None) -> Hybrid:
        frame = self._prepare(frame, history)
        _require(frame, (TRUTH,), "hybrid calibrator")
        x = self._design(frame)
        y = frame[TRUTH].to_numpy(dtype=float)
        valid = np.isfinite(x).all(axis=1) & np.isfinite(y)
        if not valid.any():
            raise DataError("hybrid calibrator: no rows with all features and a true rating")
        x, y = x[valid], y[valid]
        mean_x, mean_y = x.mean(axis=0), y.mean()
        centred = x - mean_x
        gram = centred.T @ centred + self.ridge * np.eye(x.shape[1])
        weights = np.linalg.solve(gram, centred.T @ (y - mean_y)) if x.shape[1] else np.empty(0)
        self.state = {
            "intercept": float(mean_y - mean_x @ weights),
            "weights": dict(zip(self.feature_names(), map(float, weights))),
        }
        return self

    def _predict(self, frame: pd.DataFrame, history: pd.DataFrame | None) -> np.ndarray:
        assert self.state is not None
        x = self._design(self._prepare(frame, history))
        weights = np.array([self.state["weights"][name] for name in self.feature_names()])
        predicted: np.ndarray = self.state["intercept"] + x @ weights
        return predicted


CALIBRATORS: dict[str, type[Calibrator]] = {cls.kind: cls for cls in (UserMoments, CrossFitMap, Hybrid)}


def calibrator_from_dict(data: dict[str, Any]) -> Calibrator:
    """Rebuild a fitted calibrator from :meth:`Calibrator.to_dict` output."""
    kind = data.get("type")
    if kind not in CALIBRATORS:
        raise NotFoundError(f"unknown calibrator type '{kind}'; known: {', '.join(CALIBRATORS)}")
    calibrator = CALIBRATORS[kind](**data.get("params", {}))
    calibrator.state = data.get("state")
    if calibrator.state is None:
        raise DataError(f"{kind} calibrator has no fitted state")
    calibrator.input = str(data.get("input", SIMULATED))
    return calibrator


def load_calibrator(path: str | Path) -> Calibrator:
    """Read a calibrator saved with :meth:`Calibrator.save`.

    The result's ``apply(frame, history=None)`` adds ``calibrated_rating`` to a frame with
    ``user_id``, ``item_id``, ``simulated_rating``. ``user_moments`` and ``hybrid`` also need
    ``history`` (the run's training slice) unless the frame already holds the baseline columns.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"calibrator file not found: {path}") from None
    except (OSError, ValueError) as error:
        raise DataError(f"calibrator file {path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise DataError(f"calibrator file {path} does not hold a JSON object")
    return calibrator_from_dict(data)
