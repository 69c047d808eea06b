#!/usr/bin/env bash
# notarize-darwin.sh PATH submits an app (zipped with ditto for the upload)
# or a DMG to Apple's notary service, waits for the verdict and staples the
# ticket to PATH, so Gatekeeper accepts it offline. Needs the Developer ID
# signature from sign-darwin.sh and MACOS_NOTARY_APPLE_ID,
# MACOS_NOTARY_PASSWORD (an app-specific password) and MACOS_TEAM_ID; the
# release workflow calls it only when those secrets exist.
set -euo pipefail

die() { echo "notarize-darwin.sh: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: notarize-darwin.sh APP|DMG"
[ "$(uname -s)" = Darwin ] || die "needs macOS (xcrun notarytool)"
for v in MACOS_NOTARY_APPLE_ID MACOS_NOTARY_PASSWORD MACOS_TEAM_ID; do
  [ -n "${!v:-}" ] || die "$v is not set"
done
target=$1
[ -e "$target" ] || die "$target not found"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
upload=$target
if [ -d "$target" ]; then
  upload="$tmp/$(basename "$target").zip"
  ditto -c -k --keepParent "$target" "$upload"
fi
auth=(--apple-id "$MACOS_NOTARY_APPLE_ID" --password "$MACOS_NOTARY_PASSWORD" --team-id "$MACOS_TEAM_ID")
# The verdict is read from notarytool's JSON, not its exit status: only
# "Accepted" passes (an "Invalid" or "Rejected" submission, or a timeout,
# fails with Apple's log of why).
rc=0
xcrun notarytool submit "$upload" --wait --timeout 1h --output-format json "${auth[@]}" >"$tmp/submit.json" || rc=$?
cat "$tmp/submit.json"
echo
id=$(plutil -extract id raw -o - "$tmp/submit.json" 2>/dev/null || true)
status=$(plutil -extract status raw -o - "$tmp/submit.json" 2>/dev/null || true)
if [ "$status" != Accepted ]; then
  echo "notarize-darwin.sh: $target: notarization status '${status:-unknown}' (notarytool exit $rc), want Accepted" >&2
  if [ -n "$id" ]; then
    xcrun notarytool log "$id" "${auth[@]}" >&2 || true
  fi
  exit 1
fi
echo "notarized: submission $id Accepted"
xcrun stapler staple "$target"
xcrun stapler validate "$target"
