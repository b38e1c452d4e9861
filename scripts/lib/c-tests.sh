#!/usr/bin/env bash
# The C ABI's tests alone (scripts/test runs them with the whole workspace):
# the header against cbindgen and every entry point called from C
# (mercador-capi/tests/header.rs), then the C programs under ASan+UBSan and
# valgrind against the running testbed and real services
# (mercador-server/tests/capi.rs). Needs a running testbed
# (testbed/testbed.sh start, with the same MERCADOR_TESTBED_* variables).
# Prints cargo's `test result:` lines, which scripts/test's awk sums.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/lib/c-deps.sh
MERCADOR_TESTBED_ENV=${MERCADOR_TESTBED_ENV:-$(testbed/testbed.sh env)} \
  cargo test --locked --profile dev -p mercador-capi -p mercador-server --test header --test capi "$@"
