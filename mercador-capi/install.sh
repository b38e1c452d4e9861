#!/usr/bin/env bash
# Installs Mercador's C library: header, shared and static library, pkg-config file.
#
#   mercador-capi/install.sh [--prefix DIR] [--profile release|debug] [--no-build] [--lib-dir DIR]
#
# Default prefix /usr/local, profile release. Builds with cargo first unless
# --no-build. --lib-dir takes the libraries from DIR instead of cargo's
# target/<profile> (the tests take them from target/debug/deps). Installs:
#   DIR/include/mercador.h
#   DIR/lib/libmercador.so.<soname version>.<patch>, with links libmercador.so.<soname version>
#     and libmercador.so; DIR/lib/libmercador.a
#   DIR/lib/pkgconfig/mercador.pc
# Then: cc prog.c $(PKG_CONFIG_PATH=DIR/lib/pkgconfig pkg-config --cflags --libs mercador)
# (and -Wl,-rpath,DIR/lib or LD_LIBRARY_PATH when DIR/lib is not a system library dir).
set -euo pipefail
cd "$(dirname "$0")"
CRATE=$PWD
PREFIX=/usr/local PROFILE=release BUILD=1 LIB_DIR=
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=$2; shift 2 ;;
    --profile) PROFILE=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --lib-dir) LIB_DIR=$2; shift 2 ;;
    *) echo "usage: $0 [--prefix DIR] [--profile release|debug] [--no-build] [--lib-dir DIR]" >&2; exit 2 ;;
  esac
done
case "$PROFILE" in release|debug) ;; *) echo "--profile: release or debug" >&2; exit 2 ;; esac
[ "$BUILD" = 0 ] || cargo build --locked -p mercador-capi $([ "$PROFILE" = release ] && echo --release)
if [ -z "$LIB_DIR" ]; then
  TARGET_DIR=${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}
  LIB_DIR=$TARGET_DIR/$PROFILE
fi
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' ../Cargo.toml | head -1)
MAJOR=${VERSION%%.*} REST=${VERSION#*.} MINOR=${REST%%.*}
if [ "$MAJOR" = 0 ]; then SOVERSION=0.$MINOR; else SOVERSION=$MAJOR; fi
for f in libmercador.so libmercador.a; do
  [ -f "$LIB_DIR/$f" ] || { echo "$LIB_DIR/$f is missing: build first (cargo build -p mercador-capi)" >&2; exit 1; }
done

mkdir -p "$PREFIX/include" "$PREFIX/lib/pkgconfig"
install -m 644 "$CRATE/include/mercador.h" "$PREFIX/include/mercador.h"
install -m 755 "$LIB_DIR/libmercador.so" "$PREFIX/lib/libmercador.so.$VERSION"
ln -sfn "libmercador.so.$VERSION" "$PREFIX/lib/libmercador.so.$SOVERSION"
ln -sfn "libmercador.so.$SOVERSION" "$PREFIX/lib/libmercador.so"
install -m 644 "$LIB_DIR/libmercador.a" "$PREFIX/lib/libmercador.a"
# What a static link needs besides libmercador.a (rustc --print native-static-libs on Linux/glibc).
STATIC_LIBS="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
sed -e "s|@PREFIX@|$PREFIX|" -e "s|@VERSION@|$VERSION|" -e "s|@STATIC_LIBS@|$STATIC_LIBS|" \
  "$CRATE/mercador.pc.in" > "$PREFIX/lib/pkgconfig/mercador.pc"
echo "installed mercador $VERSION in $PREFIX (pkg-config: PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig)"
