#!/usr/bin/env bash
# The newest releases that pyproject's ranges admit, without the lock: a scratch venv, the default
# test suite, and one line of the versions it ran with (record it in docs/dependencies.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
SCRATCH=${SCRATCH:-.venv-latest}
. requirements/scratch_venv.sh
scratch_venv
VERSIONS=$("$SCRATCH/bin/python" - <<'PY'
from importlib.metadata import version
names = ["torch", "transformers", "lightning", "timm", "verovio", "numpy", "huggingface_hub", "music21"]
print(", ".join(f"{n} {version(n)}" for n in names))
PY
)
echo "test-latest: $VERSIONS"
"$SCRATCH/bin/ruff" check omrformer grammar synth experiments tests
"$SCRATCH/bin/python" -m pytest -q -x --timeout=600 -p no:cacheprovider
echo "test-latest passed with: $VERSIONS"
