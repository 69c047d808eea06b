#!/usr/bin/env bash
# sign-darwin.sh APP signs the app bundle after bundle.sh: first the dylibs
# in Contents/Frameworks, then the app (nested code must be signed before
# what contains it), then verifies the result.
#
# MACOS_SIGN_IDENTITY unset or empty: ad-hoc signature (`--sign -`), which
# Apple Silicon needs to run at all; Gatekeeper still asks the user to
# confirm the first launch (see README, Install on a Mac). Set (a Developer
# ID Application identity in the keychain, see keychain-darwin.sh): hardened
# runtime, secure timestamp and build/darwin/entitlements.plist, as
# notarization requires.
set -euo pipefail

die() { echo "sign-darwin.sh: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: sign-darwin.sh APP"
[ "$(uname -s)" = Darwin ] || die "needs macOS (codesign)"
app=$1
[ -d "$app/Contents/Frameworks" ] || die "$app has no Contents/Frameworks (run bundle.sh darwin first)"
here=$(cd "$(dirname "$0")" && pwd)

identity=${MACOS_SIGN_IDENTITY:-}
if [ -z "$identity" ]; then
  echo "signing ad-hoc (no MACOS_SIGN_IDENTITY)"
  opts=(--force --sign - --timestamp=none)
  app_opts=()
else
  echo "signing with $identity, hardened runtime"
  opts=(--force --sign "$identity" --timestamp --options runtime)
  app_opts=(--entitlements "$here/../darwin/entitlements.plist")
fi

for lib in "$app/Contents/Frameworks/"*.dylib; do
  codesign "${opts[@]}" "$lib"
done
# ${a[@]+...}: an empty array is "unbound" to macOS's bash 3.2 under set -u.
codesign "${opts[@]}" ${app_opts[@]+"${app_opts[@]}"} "$app"
codesign --verify --strict --deep --verbose=2 "$app"
codesign --display --verbose=2 "$app" 2>&1 | grep -E '^(Identifier|Authority|Signature|Runtime|TeamIdentifier)' || true
