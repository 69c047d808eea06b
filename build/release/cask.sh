#!/usr/bin/env bash
# cask.sh VERSION SHA256 REPO prints a Homebrew cask for the release's
# macOS zip (package-darwin.sh), downloaded from the GitHub release of REPO
# (owner/name) tagged vVERSION: the workflow attaches it to the release,
# for a tap (`brew install --cask owner/tap/modelbar`).
set -euo pipefail

die() { echo "cask.sh: $*" >&2; exit 1; }
[ $# -eq 3 ] || die "usage: cask.sh VERSION SHA256 OWNER/REPO"
version=$1 sha=$2 repo=$3
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "version $version is not like 1.2.3"
[[ $sha =~ ^[0-9a-f]{64}$ ]] || die "sha256 $sha is not 64 lowercase hex digits"
[[ $repo =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || die "repository $repo is not owner/name"

cat <<CASK
cask "modelbar" do
  version "$version"
  sha256 "$sha"

  url "https://github.com/$repo/releases/download/v#{version}/modelbar-#{version}-macos-arm64.zip"
  name "modelbar"
  desc "Local OpenAI- and Anthropic-compatible endpoint for language models"
  homepage "https://github.com/$repo"

  depends_on arch: :arm64
  depends_on macos: ">= :monterey"

  app "modelbar.app"

  uninstall quit:      "dev.modelbar.modelbar",
            launchctl: "dev.modelbar.modelbar"

  zap trash: [
    "~/Library/Application Support/modelbar",
    "~/Library/LaunchAgents/dev.modelbar.modelbar.plist",
  ]
end
CASK
