#!/usr/bin/env bash
# package-darwin.sh VERSION APP OUT_DIR makes the downloads of a signed app
# (sign-darwin.sh, and notarize-darwin.sh when notarized):
#   OUT_DIR/modelbar-VERSION-macos-arm64.zip  (ditto, as Finder zips: keeps
#     the signature's extended attributes and symlinks; the Homebrew cask's)
#   OUT_DIR/modelbar-VERSION-macos-arm64.dmg  (the app and an Applications
#     link to drag it to; signed when MACOS_SIGN_IDENTITY is set, notarized
#     and stapled when the notary secrets are set too)
# and a .sha256 file beside each, written last (stapling changes the DMG).
set -euo pipefail

die() { echo "package-darwin.sh: $*" >&2; exit 1; }
[ $# -eq 3 ] || die "usage: package-darwin.sh VERSION APP OUT_DIR"
[ "$(uname -s)" = Darwin ] || die "needs macOS (ditto, hdiutil)"
version=$1 app=$2 out=$3
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "version $version is not like 1.2.3"
[ -d "$app/Contents/MacOS" ] || die "$app is not an app bundle"
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
base="$out/modelbar-$version-macos-arm64"

rm -f "$base.zip" "$base.dmg"
ditto -c -k --keepParent "$app" "$base.zip"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
ditto "$app" "$stage/$(basename "$app")"
ln -s /Applications "$stage/Applications"
# hdiutil create fails now and then on hosted runners ("Resource busy"):
# up to three tries.
for try in 1 2 3; do
  hdiutil create -volname "modelbar $version" -srcfolder "$stage" -fs HFS+ -format UDZO -ov "$base.dmg" && break
  [ "$try" -lt 3 ] || die "hdiutil create failed 3 times"
  echo "hdiutil create failed (try $try of 3); again in 10 s" >&2
  sleep 10
done

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  codesign --force --sign "$MACOS_SIGN_IDENTITY" --timestamp "$base.dmg"
  if [ -n "${MACOS_NOTARY_APPLE_ID:-}" ]; then
    "$here/notarize-darwin.sh" "$base.dmg"
  fi
fi

for f in "$base.zip" "$base.dmg"; do
  (cd "$out" && shasum -a 256 "$(basename "$f")" >"$(basename "$f").sha256")
done
ls -l "$out"
