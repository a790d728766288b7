#!/usr/bin/env bash
# Install the build into a scratch prefix, then build a consumer program
# against it twice: with CMake's find_package(mailvet) and with
# pkg-config, and run both.
#
# usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -x "$tmp/prefix/bin/mailvet"
test -f "$tmp/prefix/include/validate.h"
libdir=$(find "$tmp/prefix" -name libvalidate.so -printf '%h\n' | head -1)
test -f "$libdir/libvalidate.a"

want='risky dave@gmail.com'

cmake -S "$src/tests/install/consumer" -B "$tmp/c1" \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/c1" >/dev/null
got=$(LD_LIBRARY_PATH="$libdir" "$tmp/c1/consumer" dave@gmial.com)
[ "$got" = "$want" ] || { echo "cmake consumer: got '$got'" >&2; exit 1; }

export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -o "$tmp/c2" "$src/tests/install/consumer/main.c" \
  $(pkg-config --cflags --libs libvalidate)
got=$(LD_LIBRARY_PATH="$libdir" "$tmp/c2" dave@gmial.com)
[ "$got" = "$want" ] || { echo "pkg-config consumer: got '$got'" >&2; exit 1; }

# The static library links with its private dependencies from the .pc
cc -o "$tmp/c3" "$src/tests/install/consumer/main.c" \
  $(pkg-config --cflags libvalidate) "$libdir/libvalidate.a" \
  $(pkg-config --libs --static libvalidate | sed 's/-lvalidate//')
got=$("$tmp/c3" dave@gmial.com)
[ "$got" = "$want" ] || { echo "static consumer: got '$got'" >&2; exit 1; }
echo "install: cmake, pkg-config and static consumers all work"
