#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then a program outside the tree built
# against it both ways a user would: pkg-config (shared), and find_package with the
# shared and the static library. Each loads a checkpoint and runs a forward pass; the
# three must compute the same logits.
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
build=$(dirname "$SHARDNET")
prefix=$WORK/prefix
$PYTHON "$SN_SOURCE_DIR/tests/integration/make_data.py" . >/dev/null || { echo "cannot make data"; exit 1; }
cp "$SN_SOURCE_DIR/tests/integration/blobs.yaml" .
run_ranks 1 train blobs.yaml --set train.max_steps=3 --set train.log_every=1000 --set checkpoint.dir=run
expect_success "a checkpoint to load" || finish

if cmake --install "$build" --prefix "$prefix" >install.log 2>&1; then
  pass "cmake --install into a temporary prefix"
else
  fail "cmake --install: $(tail -3 install.log)"
  finish
fi
for f in bin/shardnet include/shardnet/net.h include/shardnet/version.h lib/libshardnet.a lib/libshardnet.so \
  lib/pkgconfig/shardnet.pc lib/cmake/shardnet/shardnetConfig.cmake; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done
version=$("$prefix/bin/shardnet" --version 2>&1)
grep -q "^shardnet [0-9]" <<<"$version" && pass "the installed shardnet --version" ||
  fail "installed shardnet --version: $("$prefix/bin/shardnet" --version 2>&1 | head -2)"

consumer=$SN_SOURCE_DIR/tests/install
# pkg-config: the .pc file finds its prefix from where it lies (relocatable).
if PKG_CONFIG_PATH=$prefix/lib/pkgconfig cc -std=c11 -o consumer-pc "$consumer/consumer.c" \
  $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs shardnet) -Wl,-rpath,"$prefix/lib" 2>cc.log; then
  pass "built with pkg-config"
else
  fail "pkg-config build: $(head -5 cc.log)"
fi
for target in shardnet shardnet_static; do
  if cmake -S "$consumer" -B "consumer-$target" -DCMAKE_PREFIX_PATH="$prefix" -DSN_CONSUMER_TARGET=$target \
    >"cmake-$target.log" 2>&1 && cmake --build "consumer-$target" >>"cmake-$target.log" 2>&1; then
    pass "built with find_package(shardnet), shardnet::$target"
  else
    fail "find_package build of shardnet::$target: $(grep -m3 -i error "cmake-$target.log")"
  fi
done
outputs=()
for bin in ./consumer-pc consumer-shardnet/consumer consumer-shardnet_static/consumer; do
  [ -x "$bin" ] || continue
  if out=$("$bin" run/latest.h5 2>&1) && [[ $out =~ ^shardnet\ [0-9.]+:\ 4\ outputs,\ sum\ -?[0-9]+\.[0-9]+$ ]]; then
    pass "$bin: $out"
    outputs+=("$out")
  else
    fail "$bin: $out"
  fi
done
[ ${#outputs[@]} -eq 3 ] && [ "$(printf '%s\n' "${outputs[@]}" | sort -u | wc -l)" -eq 1 ] &&
  pass "the three consumers computed the same logits" || fail "consumers ran: ${#outputs[@]} of 3, outputs: ${outputs[*]}"
# (ldd's output captured first: grep -q leaving early would fail the pipe under pipefail)
libs=$(ldd consumer-shardnet/consumer 2>&1)
grep -q "libshardnet.so" <<<"$libs" && pass "shardnet::shardnet is the shared library" ||
  fail "the find_package consumer does not load libshardnet.so"

# The Lmod modulefile example, pointed at the prefix: `module load` makes the command,
# pkg-config and find_package find this installation.
init=$(ls /usr/share/lmod/*/init/bash 2>/dev/null | head -1)
if [ -n "$init" ]; then
  mkdir -p modules/shardnet
  sed -e "s|^local root = .*|local root = \"$prefix\"|" "$SN_SOURCE_DIR/packaging/lmod/shardnet/0.1.0.lua" \
    >modules/shardnet/0.1.0.lua
  if (
    set +u
    source "$init" >/dev/null 2>&1
    module use "$WORK/modules" && module load shardnet/0.1.0 &&
      [ "$(command -v shardnet)" = "$prefix/bin/shardnet" ] && [ "$SHARDNET_ROOT" = "$prefix" ] &&
      pkg-config --modversion shardnet | grep -qx "$("$prefix/bin/shardnet" --version | head -1 | cut -d' ' -f2)"
  ) >module.log 2>&1; then
    pass "module load shardnet/0.1.0: shardnet, SHARDNET_ROOT and pkg-config point at the prefix"
  else
    fail "the Lmod modulefile: $(tail -3 module.log)"
  fi
else
  fail "Lmod is not installed (Debian package lmod)"
fi
# The Spack recipe at least parses (this machine has no Spack to run it).
$PYTHON -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' "$SN_SOURCE_DIR/packaging/spack/package.py" && pass "packaging/spack/package.py parses" ||
  fail "packaging/spack/package.py does not parse"
finish
