#!/bin/sh
# Rebuilds guest.wasm from main.c. Needs clang with the wasm32 target and
# wasi-libc; on Debian/Ubuntu:
#   apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32
# Debian's clang finds wasi-libc by itself; elsewhere (e.g. the wasi-sdk)
# pass the sysroot: CFLAGS=--sysroot=/path/to/wasi-sysroot ./build.sh
# OUT=/some/file.wasm writes elsewhere (the tests use it to check that the
# committed guest.wasm is up to date).
set -eu
cd "$(dirname "$0")"
CC=${CC:-clang-14}
OUT=${OUT:-guest.wasm}
# -Wl,--strip-all drops debug names: the module stays a few tens of KB.
"$CC" --target=wasm32-wasi -O2 -Wall -Wextra -Werror ${CFLAGS:-} \
    -Wl,--strip-all -o "$OUT" main.c
echo "built $OUT: $(wc -c < "$OUT") bytes"
