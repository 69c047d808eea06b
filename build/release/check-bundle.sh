#!/usr/bin/env bash
# check-bundle.sh BINARY LIB starts `BINARY serve` on a free loopback port
# with an empty data dir and checks that its local engine loaded the libmlxc
# at LIB (the start-up log line "local engine ready", the same reason
# /api/status shows as local.backend_reason), then prints the backend it
# runs on ("mlx gpu" or "mlx cpu"): the release's proof that the bundled
# library loads, and the macOS workflow's record of the device.
# MODELBAR_MLX_LIB, MODELBAR_BACKEND and MODELBAR_MLX_DEVICE pass through
# when set.
set -euo pipefail

die() { echo "check-bundle.sh: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: check-bundle.sh BINARY LIB"
bin=$1 lib=$2
[ -x "$bin" ] || die "$bin is not an executable file"

tmp=$(mktemp -d)
log="$tmp/serve.log"
HOME="$tmp" "$bin" serve --addr 127.0.0.1:0 --data-dir "$tmp/data" --log-json 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT

line=""
for _ in $(seq 1 120); do
  line=$(grep -F '"msg":"local engine ready"' "$log" || true)
  [ -n "$line" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "modelbar serve exited before its engine was ready"; }
  sleep 0.5
done
[ -n "$line" ] || { cat "$log" >&2; die "no \"local engine ready\" log line within 60 s"; }

backend=$(sed -E 's/.*"backend":"([^"]*)".*/\1/' <<<"$line")
why=$(sed -E 's/.*"why":"(([^"\\]|\\.)*)".*/\1/' <<<"$line")
echo "backend: $backend"
echo "why: $why"
case "$why" in
  *"loaded from $lib"*) ;;
  *) die "the engine did not load $lib: $why" ;;
esac
case "$backend" in
  mlx*) ;;
  *) die "libmlxc loaded but the engine runs on $backend" ;;
esac
