#!/usr/bin/env bash
# The Python suite of mercador-py (issue 14), run by scripts/test after cargo
# test, or alone against a running testbed:
#
#   scripts/lib/python-tests.sh [COUNTS_FILE]
#
# 1. installs the pinned tools (maturin, pytest, mypy) into the testbed's
#    venv, the one holding Keystone, keystoneauth1, openstacksdk and the
#    openstack CLI (MERCADOR_TESTBED_VENV in the testbed's env file);
# 2. builds the mercador CLI (the services the tests start; with the workspace's test build) and the wheel
#    from source with maturin (dev profile), and installs the wheel there;
# 3. checks the stub with mypy.stubtest and the package with mypy;
# 4. runs pytest (mercador-py/tests) against the running testbed and prints
#    pytest's closing line; writes "PASSED FAILED" (errors counted as
#    failed) to COUNTS_FILE when given.
# Exit status: pytest's, or the first failing step's.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
COUNTS=${1:-}
[ -n "$COUNTS" ] && echo "0 1" >"$COUNTS"   # until pytest has counted

ENV_FILE=${MERCADOR_TESTBED_ENV:-$(testbed/testbed.sh env)}
[ -f "$ENV_FILE" ] || { echo "no testbed env file ($ENV_FILE): testbed/testbed.sh start" >&2; exit 1; }
VENV=$(sed -n 's/^MERCADOR_TESTBED_VENV=//p' "$ENV_FILE")
PY=$VENV/bin/python
[ -x "$PY" ] || { echo "no python in the testbed's venv ($VENV)" >&2; exit 1; }

echo "--- tools in $VENV: maturin 1.16.0, pytest 9.2.0, mypy 2.4.1"
"$PY" -m pip install -q --disable-pip-version-check "maturin==1.16.0" "pytest==9.2.0" "mypy==2.4.1"

# The test build of the workspace (a no-op after scripts/test's lanes) rather than `cargo build
# -p mercador-cli`: the binary then has the workspace's features, so neither build undoes the
# other's artifacts (on a clean clone `-p mercador-cli` rebuilt about 60 crates).
echo "--- cargo test --workspace --no-run (the mercador binary: the services the tests start)"
cargo test --locked --workspace --profile dev --no-run -q

WHEELS=$(mktemp -d)
trap 'rm -rf "$WHEELS"' EXIT
echo "--- maturin build (mercador-py, abi3 wheel) and install into the venv"
(cd mercador-py && "$VENV/bin/maturin" build --locked -i "$PY" --out "$WHEELS")
"$PY" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEELS"/mercador-*.whl

echo "--- mypy.stubtest mercador._native; mypy -p mercador"
# Outside the checkout, so that the installed package is the one checked.
(cd / && "$PY" -m mypy.stubtest mercador._native && "$PY" -m mypy --config-file "$ROOT/mercador-py/pyproject.toml" --cache-dir /dev/null -p mercador)

echo "--- pytest mercador-py/tests (against the testbed; env file $ENV_FILE)"
OUT=$(mktemp)
RC=0
MERCADOR_TESTBED_ENV=$ENV_FILE MERCADOR_BIN=$ROOT/target/debug/mercador \
  "$PY" -m pytest -p no:cacheprovider -q -rfE mercador-py/tests 2>&1 | tee "$OUT" || RC=$?
LINE=$(grep -E '^=*[ ]*[0-9]+ (passed|failed|error)' "$OUT" | tail -n 1 | tr -d '=' | sed 's/^ *//;s/ *$//')
rm -f "$OUT"
count() { grep -oE "[0-9]+ $1" <<<"$LINE" | grep -oE '^[0-9]+' || echo 0; }
PASSED=$(count passed); FAILED=$(( $(count failed) + $(count error) ))
[ -n "$COUNTS" ] && echo "$PASSED $FAILED" >"$COUNTS"
echo "pytest: ${LINE:-no closing line}"
exit "$RC"
