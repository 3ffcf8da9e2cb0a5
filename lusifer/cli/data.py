"""``lusifer data``: fetch, inspect and enrich datasets.

``--data-dir`` points at an already-unpacked official folder (configuration key ``data.path``);
``--enrich-file`` adds item text from a CSV (``data.enrich_file``). ``data enrich`` writes its CSV to
the data cache (``<data dir>/enrichment/<dataset>-tmdb.csv``), where loading the movies domain picks it
up automatically; ``--enrich-file`` overrides it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from lusifer.api.domain import Dataset, Domain
    from lusifer.api.settings import LusiferConfig

_path = click.Path(path_type=Path)
domain_option = click.option("--domain", help="Domain of the dataset (default: the configured one, movies).")
data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="An already-unpacked official dataset folder (skips the download).",
)
enrich_file_option = click.option(
    "--enrich-file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="CSV of extra item text.",
)


@click.group(name="data")
def data_group() -> None:
    """Download, inspect and enrich datasets."""


def _config(domain: str | None, dataset: str, data_dir: Path | None, enrich_file: Path | None) -> LusiferConfig:
    from lusifer.kernel.settings import load_config

    overrides: dict[str, Any] = {
        "domain": domain,
        "dataset": dataset,
        "data": {"path": data_dir, "enrich_file": enrich_file},
    }
    return load_config(overrides=overrides)


def _other_domain_hint(dataset: str) -> str:
    """`` It is a dataset of domain 'books': pass --domain books.`` when another domain has it."""
    from lusifer.kernel.registry import domains

    owners = [entry.name for entry in domains().entries() if dataset in entry.obj.datasets]
    return f" It is a dataset of domain '{owners[0]}': pass --domain {owners[0]}." if owners else ""


def _load(config: LusiferConfig) -> tuple[Domain, Dataset]:
    from lusifer.api.errors import NotFoundError
    from lusifer.kernel.registry import get_domain, unknown_name_message

    assert config.dataset is not None  # _config always names one
    domain = get_domain(config.domain)
    if config.dataset not in domain.datasets:
        message = unknown_name_message(f"{domain.name} dataset", config.dataset, list(domain.datasets))
        raise NotFoundError(message + _other_domain_hint(config.dataset))
    return domain, domain.load(config.dataset, config.data)


@data_group.command(name="fetch")
@click.argument("dataset")
@domain_option
@data_dir_option
@enrich_file_option
def fetch_command(dataset: str, domain: str | None, data_dir: Path | None, enrich_file: Path | None) -> None:
    """Download and verify DATASET (or read --data-dir) and load it once."""
    _, data = _load(_config(domain, dataset, data_dir, enrich_file))
    click.echo(
        f"{data.name}: {len(data.users):,} users, {len(data.items):,} items, {len(data.ratings):,} ratings "
        f"ready in {data.metadata.get('path', '?')}"
    )


@data_group.command(name="info")
@click.argument("dataset")
@domain_option
@data_dir_option
@enrich_file_option
def info_command(dataset: str, domain: str | None, data_dir: Path | None, enrich_file: Path | None) -> None:
    """Print counts, rating distribution and date range of DATASET."""
    import pandas as pd

    loaded_domain, data = _load(_config(domain, dataset, data_dir, enrich_file))
    ratings, scale = data.ratings, loaded_domain.scale
    with_text = int(data.items["has_text"].sum()) if "has_text" in data.items.columns else 0
    per_user = ratings.groupby("user_id").size()
    first, last = (pd.to_datetime(ratings["timestamp"].agg(edge), unit="s") for edge in ("min", "max"))
    spread = f"per user: min {per_user.min()}, median {per_user.median():g}, max {per_user.max()}"
    lines = [
        f"dataset   {data.name} (domain {loaded_domain.name}, {scale.kind} {scale.low}..{scale.high})",
        f"source    {data.metadata.get('path', '?')}",
        f"users     {len(data.users)}",
        f"items     {len(data.items)} ({with_text} with rich text)",
        f"ratings   {len(ratings)} ({spread})",
        f"dates     {first:%Y-%m-%d} .. {last:%Y-%m-%d}",
        f"folds     {', '.join(data.folds) or 'none'}",
        f"enriched  {data.metadata.get('enrich_file') or 'no'}",
        "rating distribution:",
    ]
    for value, count in ratings["rating"].value_counts().sort_index().items():
        share = count / len(ratings)
        lines.append(f"  {value}  {count:>9}  {share:6.1%}  {'#' * round(share * 50)}")
    click.echo("\n".join(lines))


@data_group.command(name="enrich")
@click.argument("dataset")
@click.option("--source", type=click.Choice(["tmdb"]), default="tmdb", show_default=True, help="Where text comes from.")
@domain_option
@data_dir_option
@click.option("--out", type=_path, help="CSV to write (default: <data dir>/enrichment/<dataset>-tmdb.csv).")
@click.option("--api-url", default=None, help="TMDB API base URL (default: https://api.themoviedb.org/3).")
@click.option("--limit", type=click.IntRange(min=1), help="Enrich only the first N items (to try it out).")
def enrich_command(
    dataset: str,
    source: str,
    domain: str | None,
    data_dir: Path | None,
    out: Path | None,
    api_url: str | None,
    limit: int | None,
) -> None:
    """Fetch TMDB overviews, genres and taglines for DATASET's movies.

    Needs a TMDB key ('lusifer keys set tmdb' or TMDB_API_KEY). Answers are cached, so a second run
    (or one resumed after an interruption) makes no repeated requests.
    """
    from lusifer.api.errors import LusiferError
    from lusifer.domains.movies.datasets import get_spec
    from lusifer.domains.movies.download import fetch
    from lusifer.domains.movies.enrichment import default_enrichment_path
    from lusifer.domains.movies.loading import load_folder
    from lusifer.domains.movies.tmdb import DEFAULT_BASE_URL, TMDBClient, enrich_items
    from lusifer.keys import require_key

    config = _config(domain, dataset, data_dir, None)
    if config.domain != "movies":
        raise LusiferError(f"--source {source} enriches the movies domain, not '{config.domain}'")
    key = require_key(source)
    spec = get_spec(dataset)
    data = load_folder(spec, config.data.path or fetch(spec), enrich=None)  # match on MovieLens data only
    items = data.items if limit is None else data.items.head(limit)
    client = TMDBClient(key, base_url=api_url or DEFAULT_BASE_URL)
    try:
        table, unmatched = enrich_items(items, client)
    finally:
        client.close()
    target = out or default_enrichment_path(data.name, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(target, index=False)
    with_overview = int(table["overview"].notna().sum())
    click.echo(
        f"matched {len(table):,} of {len(items):,} movies ({with_overview:,} with an overview); "
        f"unmatched {len(unmatched):,}; {client.requests:,} requests; wrote {target}"
    )
    if unmatched:
        click.echo(f"unmatched ids: {', '.join(map(str, unmatched[:20]))}{' ...' if len(unmatched) > 20 else ''}")
