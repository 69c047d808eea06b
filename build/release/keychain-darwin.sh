#!/usr/bin/env bash
# keychain-darwin.sh PATH creates a temporary keychain at PATH for a CI job
# on macOS, unlocked, without an auto-lock timeout, first in the search list
# and the default, so that the Keychain tests (backend/secrets) and codesign
# find it without a prompt. With MACOS_CERT_P12 (a base64 .p12) and
# MACOS_CERT_PASSWORD set it also imports the Developer ID certificate and
# lets codesign use it without a prompt. The job's runner is discarded
# afterwards; `security delete-keychain PATH` removes it sooner.
set -euo pipefail

die() { echo "keychain-darwin.sh: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: keychain-darwin.sh PATH"
[ "$(uname -s)" = Darwin ] || die "needs macOS (security)"
keychain=$1
password=$(openssl rand -hex 24)

security create-keychain -p "$password" "$keychain"
security set-keychain-settings "$keychain" # no -t: never locks by itself
security unlock-keychain -p "$password" "$keychain"
# Keep the existing keychains searchable after ours (the system roots).
# shellcheck disable=SC2046 # one word per keychain path, as security prints them
security list-keychains -d user -s "$keychain" $(security list-keychains -d user | tr -d '"')
security default-keychain -d user -s "$keychain"

if [ -n "${MACOS_CERT_P12:-}" ]; then
  [ -n "${MACOS_CERT_PASSWORD:-}" ] || die "MACOS_CERT_P12 is set but MACOS_CERT_PASSWORD is not"
  p12=$(mktemp)
  trap 'rm -f "$p12"' EXIT
  echo "$MACOS_CERT_P12" | base64 --decode >"$p12"
  security import "$p12" -k "$keychain" -P "$MACOS_CERT_PASSWORD" -T /usr/bin/codesign
  security set-key-partition-list -S apple-tool:,apple:,codesign: -s -k "$password" "$keychain" >/dev/null
  security find-identity -v -p codesigning "$keychain"
fi
echo "keychain $keychain ready"
