"""Discrimination (Agent4Rec's test): can the simulated feedback tell liked items from the others?

On recorded output the negatives are the user's held-out items rated below the like threshold; a live
simulator also rates items the user never rated (:data:`UNRATED`). Ratios 1:1, 1:3 and 1:9 weight each
user's negatives so they count ``k`` times the user's liked items; accuracy calls an item liked when
its simulated rating reaches the threshold; AUC needs no threshold and does not depend on the ratio.
"""

from __future__ import annotations

import numpy as np

from lusifer.validity.base import ValidityCheck, ValidityData, Values

RATIOS = (1, 3, 9)


def ratio_weights(codes: np.ndarray, labels: np.ndarray, ratio: int) -> np.ndarray:
    """Row weights giving each user's negatives ``ratio`` times the weight of their positives (0 if
    the user lacks either)."""
    positives = np.bincount(codes, weights=labels == 1, minlength=codes.max() + 1)
    negatives = np.bincount(codes, weights=labels == 0, minlength=codes.max() + 1)
    usable = (positives > 0) & (negatives > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        negative_weight = np.where(usable, ratio * positives / negatives, 0.0)
    return np.where(labels == 1, usable[codes].astype(float), negative_weight[codes])


def discrimination_values(
    codes: np.ndarray, labels: np.ndarray, predicted: np.ndarray, weights: np.ndarray, threshold: float
) -> Values:
    """AUC and accuracy at each ratio for user weights ``weights`` (``(r, n_users)``)."""
    from lusifer.evaluation.metrics import weighted_auc

    correct = ((predicted >= threshold) == (labels == 1)).astype(float)
    finite = np.isfinite(predicted)
    # the ratios scale every user's negatives by the same factor, which leaves the pooled AUC unchanged
    rows = weights[:, codes] * ratio_weights(codes, labels, 1) * finite
    result: Values = {("auc", "any ratio"): weighted_auc(labels.astype(float), predicted, rows)}
    for ratio in RATIOS:
        rows = weights[:, codes] * ratio_weights(codes, labels, ratio) * finite
        with np.errstate(invalid="ignore", divide="ignore"):
            result[("accuracy", f"1:{ratio}")] = (rows @ np.where(finite, correct, 0.0)) / rows.sum(axis=1)
    return result


def held_out_discrimination(data: ValidityData, column: str, weights: np.ndarray) -> Values:
    """Liked held-out items versus held-out items rated below the threshold."""
    labels = (data.frame["rating"].to_numpy(float) >= data.liked_from).astype(int)
    predicted = data.frame[column].to_numpy(float)
    return discrimination_values(data.user_codes, labels, predicted, weights, data.liked_from)


DISCRIMINATION = ValidityCheck(
    "discrimination",
    "Discrimination: liked vs not-liked held-out items",
    compute=held_out_discrimination,
    description=(
        "Per user, held-out items rated at or above the like threshold (positives) against held-out items "
        "rated below it (negatives), weighted to 1:1, 1:3 and 1:9. AUC (0.5 = chance; the same at every ratio) and the "
        "accuracy of 'simulated rating >= threshold' at each ratio. Needs no new calls, so it works on recorded output."
    ),
)
