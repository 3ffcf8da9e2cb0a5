"""Model files and settings: what a user can get wrong is one line, before anything is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from lusifer import BackendConfig, ConfigError, load_config
from lusifer.testing import invoke_cli
from lusifer_plugin_llamacpp.backend import LlamaCppBackend
from lusifer_plugin_llamacpp.model_files import resolve_model
from lusifer_plugin_llamacpp.settings import LlamaCppSettings

#: MovieLens 100K as shared beside the repository (``../shared`` from its root).
ML_100K = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "ml-100k"


def _gguf(path: Path) -> Path:
    """A file that starts like a GGUF (enough for name resolution; never loaded)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"GGUF\x03\x00\x00\x00")
    return path


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^llamacpp: model file not found: .*absent\.gguf$"):
        LlamaCppBackend(BackendConfig(name="llamacpp", model=str(tmp_path / "absent.gguf")))


def test_a_file_that_is_not_a_gguf_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "model.gguf").write_text("<html>not found</html>")
    with pytest.raises(ConfigError, match=r"is not a GGUF model file \(it does not start with 'GGUF'\)$"):
        LlamaCppBackend(BackendConfig(name="llamacpp", model=str(tmp_path / "model.gguf")))


def test_no_model_named_says_how_to_name_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pass --model PATH.gguf or the name of a .gguf file in"):
        resolve_model(None, tmp_path)


def test_names_are_looked_up_in_the_models_folder(tmp_path: Path) -> None:
    exact = _gguf(tmp_path / "smollm2.gguf")
    _gguf(tmp_path / "smollm2-360m.Q8_0.gguf")
    qwen = _gguf(tmp_path / "Qwen2.5-7B-Instruct-Q4_K_M.gguf")
    assert resolve_model("smollm2", tmp_path) == exact
    assert resolve_model("qwen2.5-7b", tmp_path) == qwen  # a unique, case-insensitive prefix
    with pytest.raises(ConfigError, match="matches several files"):
        resolve_model("s", tmp_path)
    with pytest.raises(ConfigError, match=r"no model 'llama' in .* \(GGUF files there: Qwen2.5"):
        resolve_model("llama", tmp_path)


def test_settings_are_validated_and_reach_the_backend(tmp_path: Path) -> None:
    config = load_config(overrides={"plugins": {"llamacpp": {"n_ctx": 2048, "models_dir": str(tmp_path)}}})
    settings = config.plugin_settings("llamacpp")
    assert isinstance(settings, LlamaCppSettings) and settings.n_ctx == 2048 and settings.instances == 1
    with pytest.raises(ConfigError, match="n_tread"):
        load_config(overrides={"plugins": {"llamacpp": {"n_tread": 2}}})
    config = config.model_copy(update={"backend": BackendConfig(name="llamacpp", model="absent")})
    with pytest.raises(ConfigError, match=f"no model 'absent' in {tmp_path}"):
        LlamaCppBackend.from_config(config)


def test_lusifer_run_with_a_missing_model_fails_in_one_line(tmp_path: Path) -> None:
    if not (ML_100K / "u.data").is_file():
        pytest.skip(f"shared MovieLens 100K not found at {ML_100K}")
    arguments = ["run", "--data-dir", str(ML_100K), "--users", "1", "--out", str(tmp_path / "run")]
    result = invoke_cli(*arguments, "--backend", "llamacpp", "--model", str(tmp_path / "nope.gguf"))
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        f"Error: llamacpp: model file not found: {tmp_path / 'nope.gguf'} (LUSIFER_DEBUG=1 shows the traceback)"
    ]
    assert not (tmp_path / "run").exists()


def test_lusifer_backends_lists_it() -> None:
    result = invoke_cli("backends")
    assert result.exit_code == 0
    assert any(line.startswith("llamacpp") and "no key" in line for line in result.output.splitlines())
