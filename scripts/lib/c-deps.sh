#!/usr/bin/env bash
# What the C tests of mercador-capi (mercador-server/tests/capi.rs) need
# besides Rust: gcc (with libasan and libubsan), pkg-config, valgrind.
# Installs the missing ones with apt on Debian 12 (as root, or with sudo).
set -euo pipefail
missing=()
command -v gcc >/dev/null || missing+=(gcc)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v valgrind >/dev/null || missing+=(valgrind)
# The sanitizers' runtimes come with gcc on Debian (libasan8, libubsan1); check they link.
if command -v gcc >/dev/null && ! echo 'int main(void){return 0;}' \
    | gcc -x c -fsanitize=address,undefined -o /dev/null - 2>/dev/null; then
  missing+=(gcc libasan8 libubsan1)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "c-deps: installing ${missing[*]} (apt)"
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
