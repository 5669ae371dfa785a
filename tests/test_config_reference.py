"""The committed configuration reference is the one the fields generate."""

from __future__ import annotations

import dataclasses

from rnnkit.config import ForecastConfig, RunConfig
from rnnkit.config.reference import PAGE, main, render


def test_the_committed_page_is_the_generated_one() -> None:
    assert PAGE.read_text(encoding="utf-8") == render(), (
        "docs/config.md is stale: run python -m rnnkit.config.reference"
    )
    assert main(["--check"]) == 0


def test_the_page_lists_every_key_of_every_table() -> None:
    page = render()
    for config in (RunConfig, ForecastConfig):
        for name, table in config.table_types().items():
            assert f"### [{name}]" in page
            for f in dataclasses.fields(table):
                assert f"| `{f.name}` |" in page, f"{name}.{f.name}"
