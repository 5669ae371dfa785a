"""What the quality benchmarks share: the CPU's name and writing a report's files."""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_name() -> str:
    """The CPU model as lscpu reports it (falls back to platform)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or platform.machine()
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def write_report(
    stem: str, report: dict[str, Any], markdown: Callable[[dict[str, Any]], str]
) -> None:
    """`results/<stem>.json` and `.md` (the report as `markdown` renders it), then print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = markdown(report)
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / f"{stem}.md").write_text(text, encoding="utf-8")
    print(text)
