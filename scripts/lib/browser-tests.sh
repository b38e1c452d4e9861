#!/usr/bin/env bash
# Mercador's Horizon plugin (issue 16): its unit tests on Horizon's test
# helpers and the real-browser suite, run by scripts/test after the Python
# suite, or alone against a running testbed:
#
#   scripts/lib/browser-tests.sh [COUNTS_FILE]
#   scripts/lib/browser-tests.sh --bench   # steps 1, 2, 4 then the benchmark
#                                          # (tests/browser/bench_region_switch.py) instead of the tests
#
# 1. Debian's chromium and chromium-driver (apt, when missing): Selenium
#    drives /usr/bin/chromedriver, nothing is downloaded at run time;
# 2. builds the mercador wheel (maturin, as python-tests.sh) and installs it
#    into Horizon's venv; testbed.sh links the plugin's enabled/ file and
#    settings snippet there and Horizon is restarted with them;
# 3. the plugin's unit tests (mercador.horizon.test, Django's runner on
#    openstack_dashboard.test.helpers) in Horizon's venv;
# 4. a test venv (<testbed venv>-browser: selenium 4.51, pytest, the
#    openstacksdk of the testbed's venv, the wheel) runs tests/browser
#    against the testbed (headless chromium, one login per step, one browser).
# Writes "PASSED FAILED" to COUNTS_FILE (both parts added). Exit status:
# non-zero when a step or a test failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BENCH=0; [ "${1:-}" = --bench ] && { BENCH=1; shift; }
COUNTS=${1:-}
[ -n "$COUNTS" ] && echo "0 1" >"$COUNTS"

if ! command -v chromium >/dev/null || ! [ -x /usr/bin/chromedriver ]; then
  echo "--- apt-get install chromium chromium-driver"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null
fi

ENV_FILE=${MERCADOR_TESTBED_ENV:-$(testbed/testbed.sh env)}
[ -f "$ENV_FILE" ] || { echo "no testbed env file ($ENV_FILE): testbed/testbed.sh start" >&2; exit 1; }
VENV=$(sed -n 's/^MERCADOR_TESTBED_VENV=//p' "$ENV_FILE")
PY=$VENV/bin/python
HPY=$VENV-horizon/bin/python
BVENV=$VENV-browser
[ -x "$PY" ] && [ -x "$HPY" ] || { echo "no testbed venvs at $VENV, $VENV-horizon" >&2; exit 1; }

echo "--- maturin build (mercador-py) and install into Horizon's venv"
"$PY" -m pip install -q --disable-pip-version-check "maturin==1.16.0"
WHEELS=$(mktemp -d)
trap 'rm -rf "$WHEELS"' EXIT
(cd mercador-py && "$VENV/bin/maturin" build --locked -i "$PY" --out "$WHEELS" 2>&1 | tail -n 2)
"$HPY" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEELS"/mercador-*.whl

echo "--- both Horizons restarted with the plugin (testbed.sh horizon stop; start; horizon-b stop; start)"
testbed/testbed.sh horizon stop >/dev/null
testbed/testbed.sh horizon start >/dev/null
testbed/testbed.sh horizon-b stop >/dev/null
testbed/testbed.sh horizon-b start >/dev/null

PASSED=0 FAILED=0 RC=0
if [ "$BENCH" = 0 ]; then
echo "--- the plugin's unit tests (Horizon's test helpers, Django's runner)"
OUT=$(mktemp)
(cd / && DJANGO_SETTINGS_MODULE=mercador.horizon.test.settings \
  "$HPY" -m django test --noinput -v 2 mercador.horizon.test) >"$OUT" 2>&1 || RC=1
tail -n 40 "$OUT"
RAN=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\}.*/\1/p' "$OUT" | tail -n 1)
BAD=$(( $(grep -oE 'failures=[0-9]+' "$OUT" | grep -oE '[0-9]+' || echo 0) + $(grep -oE 'errors=[0-9]+' "$OUT" | grep -oE '[0-9]+' || echo 0) ))
[ -n "$RAN" ] || { RAN=0; BAD=1; }
PASSED=$(( PASSED + RAN - BAD )); FAILED=$(( FAILED + BAD ))
rm -f "$OUT"
fi

echo "--- test venv $BVENV: selenium 4.51, pytest 9.2.0, openstacksdk, the wheel"
SDK=$("$PY" -m pip freeze 2>/dev/null | grep -i '^openstacksdk==')
if [ "$(cat "$BVENV/.ready" 2>/dev/null)" != "selenium==4.51.* pytest==9.2.0 $SDK" ]; then
  rm -rf "$BVENV"
  /usr/bin/python3 -m venv "$BVENV"
  "$BVENV/bin/pip" install -q --disable-pip-version-check "selenium==4.51.*" "pytest==9.2.0" "$SDK"
  echo "selenium==4.51.* pytest==9.2.0 $SDK" >"$BVENV/.ready"
fi
"$BVENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEELS"/mercador-*.whl

if [ "$BENCH" = 1 ]; then
  echo "--- benchmark: the region switch into a vregion against Horizon's keystone-provider switch"
  cd tests/browser
  MERCADOR_TESTBED_ENV=$ENV_FILE MERCADOR_BIN=$ROOT/target/debug/mercador SE_OFFLINE=true \
    exec "$BVENV/bin/python" -m pytest -p no:cacheprovider -q -s bench_region_switch.py
fi
echo "--- pytest tests/browser (headless chromium against the testbed's Horizon)"
OUT=$(mktemp)
# Selenium Manager is never asked for anything: the driver's path is given.
MERCADOR_TESTBED_ENV=$ENV_FILE MERCADOR_BIN=$ROOT/target/debug/mercador SE_OFFLINE=true \
  "$BVENV/bin/python" -m pytest -p no:cacheprovider -q -rfE tests/browser 2>&1 | tee "$OUT" || RC=1
LINE=$(grep -E '^=*[ ]*[0-9]+ (passed|failed|error)' "$OUT" | tail -n 1 | tr -d '=' | sed 's/^ *//;s/ *$//')
rm -f "$OUT"
count() { grep -oE "[0-9]+ $1" <<<"$LINE" | grep -oE '^[0-9]+' || echo 0; }
PASSED=$(( PASSED + $(count passed) )); FAILED=$(( FAILED + $(count failed) + $(count error) ))
[ -n "$LINE" ] || FAILED=$(( FAILED + 1 ))
[ -n "$COUNTS" ] && echo "$PASSED $FAILED" >"$COUNTS"
echo "browser and Horizon tests: $PASSED passed, $FAILED failed"
exit "$RC"
