# Sourced by make_lock.sh and test_latest.sh: a fresh venv at $SCRATCH with omrformer[dev]
# installed from pyproject's ranges alone (no lock), newest releases first.
scratch_venv() {
  rm -rf "$SCRATCH"
  "$PY" -m venv "$SCRATCH"
  "$SCRATCH/bin/python" -m pip install -q --upgrade pip
  "$SCRATCH/bin/python" -m pip install -q --upgrade -e '.[dev]'
}
