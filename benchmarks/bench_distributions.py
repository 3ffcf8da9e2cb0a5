"""Distribution mode on the paper protocol: argmax vs expected rating and proper scoring rules.

Reads ``ratings.csv`` of a distribution-mode run (``lusifer run --protocol paper ... --distribution``)
and prints RMSE/MAE/Pearson of the integer answer, the distribution's argmax and its expected rating,
then NLL, RPS and ECE; ``--plot`` saves the reliability diagram. ``lusifer evaluate RUN`` reports the
same numbers with bootstrap intervals (and ``plots/reliability.png``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from lusifer.evaluation import plots
from lusifer.evaluation.scoring import reliability_table, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run directory of a distribution-mode run")
    parser.add_argument("--plot", type=Path, help="where to save the reliability diagram (PNG)")
    arguments = parser.parse_args()
    frame = pd.read_csv(arguments.run / "ratings.csv")
    result = scores(frame)
    rated = frame.dropna(subset=["simulated_rating", "rating"])
    errors = rated["simulated_rating"] - rated["rating"]
    print(f"rows {int(result['rows'])}")
    print(
        f"integer answer: RMSE {np.sqrt((errors**2).mean()):.3f} MAE {errors.abs().mean():.3f} "
        f"Pearson {np.corrcoef(rated['simulated_rating'], rated['rating'])[0, 1]:.3f}"
    )
    for name in ("argmax", "expected"):
        print(
            f"{name}: RMSE {result[f'{name}_rmse']:.3f} MAE {result[f'{name}_mae']:.3f} "
            f"Pearson {result[f'{name}_pearson']:.3f}"
        )
    print(f"NLL {result['nll']:.3f} RPS {result['rps']:.4f} ECE {result['ece']:.4f}")
    if arguments.plot is not None:
        plots.reliability(reliability_table(frame), arguments.plot, result["ece"])


if __name__ == "__main__":
    main()
