"""`lusifer run --shard i/n` on several "machines", then `lusifer merge`: the same run as a single one."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from lusifer.cli import cli, load_plugin_commands
from lusifer.runs.session import shard_of
from lusifer.runs.store import RunStore

EXPORTS = ("ratings.csv", "profiles.jsonl", "history.csv", "failures.csv")


def lusifer(*arguments: str | Path) -> str:
    load_plugin_commands()
    result = CliRunner().invoke(cli, [str(argument) for argument in arguments])
    assert result.exit_code == 0, result.output
    return result.output


def run(ml100k: Path, out: Path, *extra: str) -> None:
    lusifer("run", "--no-progress", "--data-dir", ml100k, "--users", "15", "--history", "20", "--out", out, *extra)


def test_three_shards_merged_equal_a_single_run(ml100k: Path, tmp_path: Path) -> None:
    run(ml100k, tmp_path / "single")
    for index in (1, 2, 3):
        run(ml100k, tmp_path / f"shard-{index}", "--shard", f"{index}/3")
    shard_users = [set(RunStore(tmp_path / f"shard-{index}").user_statuses()) for index in (1, 2, 3)]
    assert all(shard_users) and sum(map(len, shard_users)) == 15
    assert all(shard_of(user, 3) == index for index, users in enumerate(shard_users, 1) for user in users)
    output = lusifer("merge", tmp_path / "merged", *(tmp_path / f"shard-{index}" for index in (3, 1, 2)))
    assert "3 runs merged; users 15 done / 0 failed" in output
    for name in EXPORTS:
        assert (tmp_path / "merged" / name).read_bytes() == (tmp_path / "single" / name).read_bytes(), name
    merged = RunStore(tmp_path / "merged")
    assert merged.get_meta("config")["run"]["shard"] is None
    assert merged.exchange_totals()["exchanges"] == RunStore(tmp_path / "single").exchange_totals()["exchanges"]


def test_conflicting_or_incomplete_shards_are_clear_errors(ml100k: Path, tmp_path: Path) -> None:
    run(ml100k, tmp_path / "a", "--shard", "1/2")
    run(ml100k, tmp_path / "b", "--shard", "2/2", "--items-per-call", "5")
    run(ml100k, tmp_path / "c", "--shard", "2/2")
    run(ml100k, tmp_path / "whole")
    load_plugin_commands()
    cases = {
        ("a", "b"): "differs in: run.items_per_call",
        ("a", "c", "c"): "shards of 2: given twice: [2]",
        ("c",): "shards of 2: missing: [1]",
        ("a", "whole"): "is not a shard",
    }
    for folders, message in cases.items():
        result = CliRunner().invoke(cli, ["merge", str(tmp_path / "out"), *(str(tmp_path / name) for name in folders)])
        assert result.exit_code == 1 and message in result.output, (folders, result.output)
    lusifer("merge", tmp_path / "out", tmp_path / "a", tmp_path / "c")
    again = CliRunner().invoke(cli, ["merge", str(tmp_path / "out"), str(tmp_path / "a"), str(tmp_path / "c")])
    assert again.exit_code == 1 and "already holds a run" in again.output


def test_user_id_partitions_merged_equal_a_single_run_of_their_union(ml100k: Path, tmp_path: Path) -> None:
    users = [str(user) for user in range(1, 13)]
    union = ",".join(users)
    common = ("--no-progress", "--no-cache", "--data-dir", ml100k, "--history", "20")
    lusifer("run", *common, "--user-ids", union, "--out", tmp_path / "one")
    parts = [users[0::3], users[1::3], users[2::3]]  # interleaved, so that the merge must restore the order
    for index, part in enumerate(parts):
        lusifer("run", *common, "--user-ids", ",".join(reversed(part)), "--out", tmp_path / f"part-{index}")
    output = lusifer("merge", tmp_path / "merged", *(tmp_path / f"part-{index}" for index in (2, 0, 1)))
    assert "3 runs merged; users 12 done / 0 failed" in output
    for name in EXPORTS:
        assert (tmp_path / "merged" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
    merged, one = (json.loads((tmp_path / name / "summary.json").read_text()) for name in ("merged", "one"))
    assert merged == {key: value for key, value in one.items() if key != "last_invocation"}
    assert RunStore(tmp_path / "merged").get_meta("config")["run"]["user_ids"] == users
    load_plugin_commands()
    overlapping = CliRunner().invoke(
        cli, ["merge", str(tmp_path / "x"), str(tmp_path / "one"), str(tmp_path / "part-0")]
    )
    assert overlapping.exit_code == 1 and "user 10 is in both" in overlapping.output


def test_a_run_of_selected_users_stores_and_exports_only_their_history(ml100k: Path, tmp_path: Path) -> None:
    run(ml100k, tmp_path / "whole")
    lusifer("run", "--no-progress", "--data-dir", ml100k, "--users", "1", "--history", "20", "--out", tmp_path / "one")
    whole = RunStore(tmp_path / "whole").history()
    one = RunStore(tmp_path / "one").history()
    first_user = RunStore(tmp_path / "one").targets()[0][0]
    assert one == [row for row in whole if row[0] == first_user] and len(one) == 20
    assert len((tmp_path / "one" / "history.csv").read_text().splitlines()) == 1 + 20
