#!/usr/bin/env bash
# build-mlx.sh metal|cpu PREFIX builds MLX and mlx-c at the versions
# modelbar's loader accepts (backend/engine/tensor/mlx: mlx-c 0.6.0, which
# pairs with MLX 0.31.1; 0.31.2 breaks mlx-c's fft.cpp) from their public
# git tags, as shared libraries, and installs them into PREFIX
# (PREFIX/lib/libmlx, libmlxc and, with Metal, mlx.metallib).
#
# For the release and macOS workflows (which cache PREFIX keyed on this
# file's hash, so changing a version here rebuilds); the sources are
# fetched into a temporary directory and never kept. Needs git, cmake, a
# C++ compiler, and for cpu BLAS/LAPACK (Debian/Ubuntu: libopenblas-dev
# liblapacke-dev). On macOS the libraries target macOS 13.5, MLX's own
# minimum; modelbar itself starts on macOS 12 and falls back to its CPU
# backend where they cannot load.
set -euo pipefail

MLX_VERSION=0.31.1
MLX_C_VERSION=0.6.0

die() { echo "build-mlx.sh: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: build-mlx.sh metal|cpu PREFIX"
case "$1" in
  metal) metal=ON ;;
  cpu) metal=OFF ;;
  *) die "device $1: want metal or cpu" ;;
esac
prefix=$2
for tool in git cmake; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT

common=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_SHARED_LIBS=ON)
if [ "$(uname -s)" = Darwin ]; then
  common+=(-DCMAKE_OSX_DEPLOYMENT_TARGET=13.5 -DCMAKE_OSX_ARCHITECTURES=arm64)
fi

echo "== MLX $MLX_VERSION (Metal $metal)"
git clone --quiet --depth 1 --branch "v$MLX_VERSION" https://github.com/ml-explore/mlx.git "$src/mlx"
cmake -S "$src/mlx" -B "$src/mlx/build" "${common[@]}" -DMLX_BUILD_METAL="$metal" \
  -DMLX_BUILD_TESTS=OFF -DMLX_BUILD_EXAMPLES=OFF -DMLX_BUILD_BENCHMARKS=OFF -DMLX_BUILD_PYTHON_BINDINGS=OFF
cmake --build "$src/mlx/build" --parallel "$jobs"
cmake --install "$src/mlx/build"

echo "== mlx-c $MLX_C_VERSION against it"
git clone --quiet --depth 1 --branch "v$MLX_C_VERSION" https://github.com/ml-explore/mlx-c.git "$src/mlx-c"
cmake -S "$src/mlx-c" -B "$src/mlx-c/build" "${common[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
  -DMLX_C_USE_SYSTEM_MLX=ON -DMLX_C_BUILD_EXAMPLES=OFF
cmake --build "$src/mlx-c/build" --parallel "$jobs"
cmake --install "$src/mlx-c/build"

ext=so
[ "$(uname -s)" = Darwin ] && ext=dylib
want=("$prefix/lib/libmlx.$ext" "$prefix/lib/libmlxc.$ext")
[ "$metal" = ON ] && want+=("$prefix/lib/mlx.metallib")
for f in "${want[@]}"; do
  [ -f "$f" ] || die "$f was not installed"
done
ls -l "$prefix/lib"
