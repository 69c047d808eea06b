#!/usr/bin/env bash
# set-version.sh TAG [WAILS_JSON] checks that TAG is a release tag (v1.2.3:
# three numbers, as macOS wants CFBundleVersion, so no -rc suffix), writes its version into wails.json's info.productVersion
# (which `wails build` puts in Info.plist's CFBundleVersion and
# CFBundleShortVersionString) and prints the version without the v, for the
# binary's -X .../cli.Version and the artifacts' names.
set -euo pipefail

die() { echo "set-version.sh: $*" >&2; exit 1; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then die "usage: set-version.sh TAG [WAILS_JSON]"; fi
tag=$1
file=${2:-wails.json}
[[ $tag =~ ^v([0-9]+\.[0-9]+\.[0-9]+)$ ]] ||
  die "tag $tag is not a release tag like v1.2.3 (Info.plist's CFBundleVersion takes numbers only)"
version=${BASH_REMATCH[1]}
[ -f "$file" ] || die "$file not found"

# wails.json is ours and has the key on one line; anything else is a
# change this script must follow, so it stops rather than guess.
pattern='^([[:space:]]*"productVersion":[[:space:]]*")[^"]*(",?)$'
n=$(grep -cE "$pattern" "$file" || true)
[ "$n" = 1 ] || die "$file: want exactly one \"productVersion\": \"...\" line, found $n"
tmp=$(mktemp)
sed -E "s/$pattern/\\1$version\\2/" "$file" >"$tmp"
cat "$tmp" >"$file"
rm -f "$tmp"
echo "$version"
