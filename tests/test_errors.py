"""User mistakes raise the narrow `RnnkitError` kind that fits them; the CLI prints one line."""

from __future__ import annotations

from pathlib import Path

import pytest

import rnnkit
from conftest import data_table
from rnnkit.cli import main
from rnnkit.config import RunConfig, apply_overrides, load_toml
from rnnkit.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    DistributedError,
    NumericalError,
    RnnkitError,
    StorageError,
)
from rnnkit.forecast.series import read_csv
from rnnkit.text.corpora import load_corpus


def test_the_base_is_not_a_value_error() -> None:
    # `except ValueError` code written against torch must not swallow rnnkit's own errors
    assert not issubclass(RnnkitError, ValueError)
    kinds = (
        CheckpointError,
        ConfigError,
        DataError,
        DistributedError,
        NumericalError,
        StorageError,
    )
    for kind in kinds:
        assert issubclass(kind, RnnkitError)


def test_a_bad_config_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key model\.colour; valid keys"):
        apply_overrides(RunConfig(), ["model.colour=red"])
    with pytest.raises(ConfigError, match=r"model\.kind = 'tcn' is not valid; choose one of"):
        apply_overrides(RunConfig(), ["model.kind=tcn"])


def test_a_missing_source_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty"):
        (tmp_path / "empty.txt").write_text("", encoding="utf-8")
        load_corpus(data_table(tmp_path / "empty.txt"))


def test_a_missing_checkpoint_is_a_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError):
        rnnkit.load(tmp_path / "nothing-here")
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        rnnkit.load(tmp_path / "broken.pt")


def test_the_cli_prints_one_line_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["generate", "--checkpoint", str(tmp_path / "missing")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("reader", [load_toml, read_csv])
def test_an_unreadable_file_is_a_storage_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: object
) -> None:
    path = tmp_path / "locked.toml"
    path.write_text("a,b\n1,2\n", encoding="utf-8")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_text", denied)
    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(StorageError, match=r"locked\.toml"):
        reader(path)  # type: ignore[operator]
