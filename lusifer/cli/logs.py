"""``lusifer logs RUN_DIR``: the recent LLM exchanges of a run (prompt, answer, tokens, cost, latency)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def _describe(record: dict[str, Any], full: bool) -> list[str]:
    """The lines shown for one stored exchange."""
    cost = f"${record.get('cost_usd', 0.0):.6f}"
    tokens = f"{record.get('prompt_tokens', 0)} + {record.get('completion_tokens', 0)} tokens"
    status = "cache hit" if record.get("cache_hit") else f"{record.get('latency_s', 0.0):.2f}s"
    head = (
        f"## {record.get('task')} user {record.get('user_id')} ({record.get('backend')}/{record.get('model')}): "
        f"{tokens}, {cost}, {status}"
    )
    lines = [head]
    messages = record.get("messages") or []
    shown = messages if full else messages[-1:]
    for message in shown:
        lines.append(f"> {message.get('role')}: {message.get('content')}")
    lines.append(f"< {record.get('raw_text') if record.get('error') is None else 'error: ' + str(record['error'])}")
    return lines


@click.command(name="logs")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-n", "--count", default=3, show_default=True, type=click.IntRange(0), help="Exchanges to show.")
@click.option("--user", "user_id", help="Only this user's exchanges.")
@click.option("--full", is_flag=True, help="Every message of each prompt (default: the last one).")
def logs_command(run_dir: Path, count: int, user_id: str | None, full: bool) -> None:
    """Print the last exchanges a run stored: prompt, answer, tokens, cost and latency (newest last)."""
    from lusifer.api.errors import NotFoundError
    from lusifer.runs.store import STORE_FILE, RunStore

    if not (run_dir / STORE_FILE).is_file():
        raise NotFoundError(f"{run_dir} is not a run directory (no {STORE_FILE})")
    store = RunStore(run_dir)
    try:
        records = store.exchanges(user_id, last=count) if count else []
    finally:
        store.close()
    for record in records:
        click.echo("\n".join(_describe(record, full)))
