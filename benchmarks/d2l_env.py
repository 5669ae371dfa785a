"""The separate environment d2l's side of `benchmarks.speed` runs in, and its import stubs.

d2l 0.17.6 pins old releases of everything (numpy 1.21, pandas 1.2, jupyter, ...), so it is
installed with `--no-deps` into its own virtual environment, next to the project's exact
torch build and the modules `d2l/torch.py` imports. It also imports `torchvision` and
`torchvision.transforms` at import time, which do not import beside this torch; the runner
puts empty stand-ins for them first on the child's `PYTHONPATH` (written to a temporary
folder at run time: no d2l code and no stub lives in the repository).

    python -m benchmarks.d2l_env          # create or check benchmarks/.d2l-venv
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from collections.abc import Callable
from pathlib import Path

import torch

VENV = Path(__file__).parent / ".d2l-venv"
D2L = "d2l==0.17.6"
# The modules d2l/torch.py imports, pinned to releases that install beside torch 2.13 here.
IMPORTED = [
    "numpy==2.4.6",
    "pandas==3.1.1",
    "matplotlib==3.11.2",
    "matplotlib-inline==0.2.2",
    "Pillow==13.0.0",
    "requests==2.34.2",
    "ipython==9.17.1",
]
STUBS = {
    "torchvision/__init__.py": '"""Empty stand-in: d2l imports it, never uses it here."""\n',
    "torchvision/transforms.py": '"""Empty stand-in for torchvision.transforms."""\n',
}


def python_of(env: Path) -> Path:
    """The interpreter of a virtual environment."""
    return env / "bin" / "python"


def _pip(env: Path, *args: str) -> None:
    cmd = [str(python_of(env)), "-m", "pip", "install", "--quiet", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-10:])
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{tail}")


def _installed(env: Path) -> dict[str, str]:
    """Versions of torch and d2l in `env` ({} when it is missing or broken)."""
    if not python_of(env).exists():
        return {}
    probe = (
        "import json, importlib.metadata as m\n"
        "out = {}\n"
        "for name in ('torch', 'd2l', 'pandas', 'IPython', 'matplotlib-inline'):\n"
        "    try: out[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([str(python_of(env)), "-c", probe], capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def ensure_env(env: Path = VENV, echo: Callable[[str], None] = print) -> Path:
    """Create (or reuse) the d2l environment; returns its interpreter.

    torch is pinned to the project's own build (`torch.__version__`, e.g. `2.13.0+cpu`), so
    pip can never resolve it to a multi-GB CUDA wheel: it fails instead.
    """
    want_torch = torch.__version__
    have = _installed(env)
    d2l_version = D2L.split("==")[1]
    if have.get("torch") == want_torch and have.get("d2l") == d2l_version and len(have) == 5:
        return python_of(env)
    echo(f"setting up the d2l environment in {env} (once) ...")
    if not python_of(env).exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(env)
    _pip(env, f"torch=={want_torch}")
    _pip(env, *IMPORTED)
    _pip(env, "--no-deps", D2L)
    have = _installed(env)
    if have.get("torch") != want_torch or "d2l" not in have:
        raise RuntimeError(f"the d2l environment in {env} is incomplete: {have}")
    return python_of(env)


def write_stubs(folder: Path) -> Path:
    """Write the empty `torchvision` stand-ins under `folder`; returns it (for PYTHONPATH)."""
    for rel, text in STUBS.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


if __name__ == "__main__":
    print(ensure_env())
    sys.exit(0)
