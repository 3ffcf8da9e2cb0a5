"""Finding the GGUF file a run names: a path, or a name looked up in the models folder."""

from __future__ import annotations

from pathlib import Path

from lusifer import ConfigError

GGUF_MAGIC = b"GGUF"
SUFFIX = ".gguf"


def default_models_dir() -> Path:
    """``<user dir>/models``."""
    from lusifer import user_dir

    return user_dir() / "models"


def resolve_model(model: str | None, models_dir: Path) -> Path:
    """The GGUF file of ``--model``: a path to a file, else ``models_dir/<name>.gguf`` or the one file
    in ``models_dir`` whose name starts with ``name``.

    :raises ConfigError: no model named, the file is missing or ambiguous, or it is not a GGUF file.
    """
    if not model:
        raise ConfigError(f"llamacpp: no model: pass --model PATH.gguf or the name of a .gguf file in {models_dir}")
    path = Path(model).expanduser()
    if not path.is_file() and len(path.parts) == 1 and path.suffix.lower() != SUFFIX:
        path = _find_by_name(model, models_dir)
    if not path.is_file():
        raise ConfigError(f"llamacpp: model file not found: {path}")
    with open(path, "rb") as handle:
        magic = handle.read(len(GGUF_MAGIC))
    if magic != GGUF_MAGIC:
        raise ConfigError(f"llamacpp: {path} is not a GGUF model file (it does not start with 'GGUF')")
    return path


def _find_by_name(name: str, models_dir: Path) -> Path:
    exact = models_dir / f"{name}{SUFFIX}"
    if exact.is_file():
        return exact
    found = sorted(models_dir.glob(f"*{SUFFIX}")) if models_dir.is_dir() else []
    matching = [path for path in found if path.name.lower().startswith(name.lower())]
    if len(matching) == 1:
        return matching[0]
    if matching:
        names = ", ".join(path.name for path in matching)
        raise ConfigError(f"llamacpp: model name '{name}' matches several files in {models_dir}: {names}")
    available = ", ".join(path.name for path in found) or "none"
    raise ConfigError(f"llamacpp: no model '{name}' in {models_dir} (GGUF files there: {available})")
