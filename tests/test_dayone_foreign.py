"""`lusifer evaluate --predictions` reads surprise, LensKit and RecBole files and u1.base (issue 19, item 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lusifer.cli import cli, load_plugin_commands


def _predictions(rows: int = 60) -> pd.DataFrame:
    generator = np.random.default_rng(0)
    truth = generator.integers(1, 6, rows)
    return pd.DataFrame(
        {
            "user": np.repeat(np.arange(1, rows // 10 + 1), 10),
            "item": np.arange(1, rows + 1),
            "truth": truth,
            "estimate": np.clip(truth + generator.normal(0, 0.7, rows), 1, 5).round(2),
        }
    )


def _evaluate(path: Path, out: Path, *extra: str) -> pd.DataFrame:
    load_plugin_commands()
    arguments = ["evaluate", "--predictions", str(path), "--no-baselines", "--no-calibrate", "--bootstrap", "0"]
    result = CliRunner().invoke(cli, [*arguments, "--out", str(out), *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    metrics = pd.read_csv(out / "metrics.csv")
    return metrics.query("metric == 'rmse' and subset == 'all'")


def _expected_rmse(frame: pd.DataFrame) -> float:
    return float(np.sqrt(((frame["estimate"] - frame["truth"]) ** 2).mean()))


@pytest.mark.parametrize(
    ("header", "column"),
    [
        (["uid", "iid", "r_ui", "est"], "est"),
        (["user", "item", "rating", "prediction"], "prediction"),
    ],
)
def test_toolkit_layouts_are_recognised_by_their_headers(header: list[str], column: str, tmp_path: Path) -> None:
    frame = _predictions()
    path = tmp_path / "predictions.csv"
    frame.set_axis(header, axis=1).to_csv(path, index=False)
    rmse = _evaluate(path, tmp_path / "eval")
    assert rmse["method"].tolist() == [column]
    assert rmse["value"].iloc[0] == pytest.approx(_expected_rmse(frame))


def test_recbole_and_named_columns(tmp_path: Path) -> None:
    frame = _predictions()
    path = tmp_path / "recbole.csv"
    frame.set_axis(["user_id:token", "item_id:token", "rating:float", "score:float"], axis=1).to_csv(path, index=False)
    rmse = _evaluate(path, tmp_path / "recbole-eval", "--column", "score")
    assert rmse["value"].iloc[0] == pytest.approx(_expected_rmse(frame))
    custom = tmp_path / "custom.csv"
    frame.to_csv(custom, index=False)
    arguments = ("--user-col", "user", "--item-col", "item", "--truth-col", "truth", "--column", "estimate")
    rmse = _evaluate(custom, tmp_path / "custom-eval", *arguments)
    assert rmse["value"].iloc[0] == pytest.approx(_expected_rmse(frame))


def test_native_u1_base_is_a_training_slice(ml100k: Path, tmp_path: Path) -> None:
    base = pd.read_csv(ml100k / "u1.base", sep="\t", header=None, names=["user", "item", "rating", "timestamp"])
    test = pd.read_csv(ml100k / "u1.test", sep="\t", header=None, names=["user", "item", "rating", "timestamp"])
    sample = test.groupby("user").head(3).head(60)
    path = tmp_path / "lenskit.csv"
    sample.assign(prediction=3.5)[["user", "item", "rating", "prediction"]].to_csv(path, index=False)
    load_plugin_commands()
    arguments = ["evaluate", "--predictions", str(path), "--history", str(ml100k / "u1.base")]
    options = ["--no-calibrate", "--bootstrap", "0", "--folds", "2", "--out", str(tmp_path / "eval")]
    result = CliRunner().invoke(cli, [*arguments, *options], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    methods = set(pd.read_csv(tmp_path / "eval" / "metrics.csv")["method"])
    assert "prediction" in methods and len(methods) > 1  # baselines trained on u1.base's 80,000 ratings
    assert len(base) == 80000
