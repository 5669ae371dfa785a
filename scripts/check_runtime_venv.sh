#!/usr/bin/env bash
# The torch-free runtime, checked the way a user installs it: a fresh venv WITHOUT torch.
#
#   scripts/check_runtime_venv.sh          (or: make runtime-check)
#
# 1. With the main venv (torch, onnx, onnxscript): train a tiny character GRU, export it
#    (rnnkit.lm.export.export_onnx), and print its greedy and beam text from best.pt.
# 2. Build the rnnkit wheel with the main venv (no build step runs in the fresh venv).
# 3. In a new venv in a temporary folder: numpy and onnxruntime (the main venv's versions;
#    tomli on Python < 3.11), then `pip install --no-deps` that wheel, so pip never resolves
#    torch, and neither step prints an error; check torch is not installed.
# 4. There, `rnnkit generate --checkpoint EXPORT` (greedy, beam, seeded samples) must run
#    and print exactly the greedy and beam text of step 1.
#
# Environment: MAIN_PY (default .venv/bin/python), PYTHON (makes the fresh venv, default
# python3), KEEP=1 keeps the temporary folder. Needs pip to reach an index or its cache for
# numpy and onnxruntime (and their small dependencies). Exit status 0 when all checks pass.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAIN_PY="${MAIN_PY:-$REPO/.venv/bin/python}"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rnnkit-runtime-check.XXXXXX")"
if [ "${KEEP:-0}" = 1 ]; then echo "keeping $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
say() { echo "runtime-check: $*"; }
# Build and pip chatter (setuptools notices, "rnnkit requires torch" with --no-deps) goes to
# a log, shown only when the step fails.
quiet() { "$@" >>"$WORK/steps.log" 2>&1 || { cat "$WORK/steps.log"; say "FAIL: $*"; exit 1; }; }

say "training and exporting a tiny model with $MAIN_PY"
for _ in 1 2 3 4 5 6 7 8; do
  echo "the time traveller (for so it will be convenient to speak of him) was expounding a"
  echo "recondite matter to us. his grey eyes shone and twinkled, and his usually pale face"
done >"$WORK/tiny.txt"
quiet "$MAIN_PY" -m rnnkit train "$WORK/tiny.txt" --out "$WORK/run" --quiet --kind gru \
  --hidden-size 24 --embedding-dim 8 --batch-size 4 --num-steps 16 --epochs 1 \
  --threads 1 --set generate.length=10
quiet "$MAIN_PY" -c 'import sys; from rnnkit.lm.export import export_onnx; export_onnx(*sys.argv[1:])' \
  "$WORK/run" "$WORK/export"
GREEDY=(--prefix "the " --length 60 --greedy)
BEAM=(--prefix "the " --length 12 --beam 3 --num-samples 2)
"$MAIN_PY" -m rnnkit generate --checkpoint "$WORK/run" "${GREEDY[@]}" >"$WORK/torch-greedy.txt"
"$MAIN_PY" -m rnnkit generate --checkpoint "$WORK/run" "${BEAM[@]}" >"$WORK/torch-beam.txt"

say "building the rnnkit wheel"
# Built from a copy, so no build/ or egg-info lands in the checkout.
mkdir "$WORK/source"
cp -R "$REPO/pyproject.toml" "$REPO/README.md" "$REPO/src" "$WORK/source/"
find "$WORK/source/src" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +
quiet "$MAIN_PY" -m pip wheel -q --no-deps --no-build-isolation -w "$WORK/wheel" "$WORK/source"
VERSIONS="$("$MAIN_PY" -c 'import numpy, onnxruntime as o; print(numpy.__version__, o.__version__)')"
read -r NUMPY_VERSION ORT_VERSION <<<"$VERSIONS"

say "a fresh venv without torch ($PYTHON, numpy $NUMPY_VERSION, onnxruntime $ORT_VERSION)"
quiet "$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
# The README's two commands, in its order: the dependencies first, then rnnkit without its
# own (torch); neither may print an error (pip checks rnnkit's requirements only if it comes
# before them).
"$VPY" -m pip install -q --disable-pip-version-check "numpy==$NUMPY_VERSION" \
  "onnxruntime==$ORT_VERSION" "tomli>=2.0; python_version < '3.11'" >"$WORK/install.log" 2>&1
"$VPY" -m pip install -q --disable-pip-version-check --no-deps "$WORK"/wheel/rnnkit-*.whl \
  >>"$WORK/install.log" 2>&1
if grep -qi "error" "$WORK/install.log"; then
  cat "$WORK/install.log"; say "FAIL: the torch-free install printed an error"; exit 1
fi
if "$VPY" -m pip show -q torch >/dev/null 2>&1; then
  say "FAIL: torch got installed in the runtime venv"; exit 1
fi
"$VPY" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is not None)' \
  || { say "FAIL: torch is importable in the runtime venv"; exit 1; }

say "generating from the export in the torch-free venv"
RNNKIT="$WORK/venv/bin/rnnkit"
"$RNNKIT" generate --checkpoint "$WORK/export" "${GREEDY[@]}" >"$WORK/onnx-greedy.txt"
"$RNNKIT" generate --checkpoint "$WORK/export/model.onnx" "${BEAM[@]}" >"$WORK/onnx-beam.txt"
"$RNNKIT" generate --checkpoint "$WORK/export" --prefix "the " --length 40 --seed 0 \
  --num-samples 2 --temperature 0.8 --top-k 5 >"$WORK/onnx-samples.txt"
# The run folder has best.pt but no torch here: --backend onnx is needed and refused cleanly.
if "$RNNKIT" generate --checkpoint "$WORK/run" --length 5 >/dev/null 2>"$WORK/no-torch.err"; then
  say "FAIL: a .pt checkpoint loaded without torch"; exit 1
fi
grep -q "needs torch (not installed)" "$WORK/no-torch.err" && [ "$(wc -l <"$WORK/no-torch.err")" = 1 ] \
  || { say "FAIL: no one-line error for a .pt without torch"; cat "$WORK/no-torch.err"; exit 1; }
cmp -s "$WORK/torch-greedy.txt" "$WORK/onnx-greedy.txt" \
  || { say "FAIL: greedy text differs"; diff "$WORK/torch-greedy.txt" "$WORK/onnx-greedy.txt"; exit 1; }
cmp -s "$WORK/torch-beam.txt" "$WORK/onnx-beam.txt" \
  || { say "FAIL: beam text differs"; diff "$WORK/torch-beam.txt" "$WORK/onnx-beam.txt"; exit 1; }
[ "$(grep -c -- '--- sample' "$WORK/onnx-samples.txt")" = 2 ] \
  || { say "FAIL: expected two samples"; cat "$WORK/onnx-samples.txt"; exit 1; }
say "ok: torch not installed; greedy and beam equal the torch path: $(head -c 60 "$WORK/onnx-greedy.txt")"
