package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/desktop"
)

// TestCask renders the Homebrew cask as the release workflow does and checks
// that it points at what the other scripts make: package-darwin.sh's zip
// name under the release tag, the app bundle's name, its bundle id and the
// LaunchAgent modelbar installs, and the data dir to zap.
func TestCask(t *testing.T) {
	sha := strings.Repeat("0123456789abcdef", 4)
	out, err := exec.Command("bash", "cask.sh", "1.2.3", sha, "acme/modelbar").Output()
	if err != nil {
		t.Fatalf("cask.sh: %v", err)
	}
	cask := string(out)
	for _, want := range []string{
		`cask "modelbar" do`,
		`  version "1.2.3"`,
		`  sha256 "` + sha + `"`,
		// ${base}.zip in package-darwin.sh, under the tag set-version.sh accepts
		`  url "https://github.com/acme/modelbar/releases/download/v#{version}/modelbar-#{version}-macos-arm64.zip"`,
		`  homepage "https://github.com/acme/modelbar"`,
		`  depends_on arch: :arm64`,
		`  app "modelbar.app"`,
		`  uninstall quit:      "dev.modelbar.modelbar",`,
		`            launchctl: "` + desktop.LaunchAgentLabel + `"`,
		`    "~/Library/Application Support/modelbar",`,
		`    "~/Library/LaunchAgents/` + desktop.LaunchAgentLabel + `.plist",`,
		"end",
	} {
		if !strings.Contains(cask, want+"\n") {
			t.Errorf("cask lacks the line %q:\n%s", want, cask)
		}
	}
	if n, m := len(regexp.MustCompile(`(?m)\bdo$`).FindAllString(cask, -1)), len(regexp.MustCompile(`(?m)^\s*end$`).FindAllString(cask, -1)); n != m {
		t.Errorf("%d do blocks, %d ends", n, m)
	}

	// The zip's name is package-darwin.sh's, and the bundle id Info.plist's.
	pkg, err := os.ReadFile("package-darwin.sh")
	must(t, err)
	if !strings.Contains(string(pkg), `base="$out/modelbar-$version-macos-arm64"`) {
		t.Error("package-darwin.sh no longer names the zip modelbar-$version-macos-arm64: update cask.sh with it")
	}
	plist, err := os.ReadFile(filepath.Join("..", "darwin", "Info.plist"))
	must(t, err)
	if !strings.Contains(string(plist), "<string>dev.modelbar.modelbar</string>") {
		t.Error("Info.plist's bundle id is no longer dev.modelbar.modelbar: update cask.sh's uninstall quit")
	}
}

func TestCask_Refuses(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	for _, args := range [][]string{
		{"v1.2.3", sha, "a/b"},
		{"1.2.3", strings.ToUpper(sha), "a/b"},
		{"1.2.3", sha[:63], "a/b"},
		{"1.2.3", sha, "a b"},
		{"1.2.3", sha},
	} {
		out, err := exec.Command("bash", append([]string{"cask.sh"}, args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "cask.sh:") {
			t.Errorf("cask.sh %q: err %v, output %q; want a refusal", args, err, out)
		}
	}
}

// TestEntitlements: the hardened runtime's entitlements file is a plist
// holding exactly the one exception sign-darwin.sh's comment describes.
func TestEntitlements(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "darwin", "entitlements.plist"))
	must(t, err)
	defer f.Close()
	v, err := parsePlist(f)
	if err != nil {
		t.Fatalf("entitlements.plist: %v", err)
	}
	want := map[string]any{"com.apple.security.cs.disable-library-validation": true}
	if d, ok := v.(map[string]any); !ok || len(d) != len(want) || d["com.apple.security.cs.disable-library-validation"] != true {
		t.Errorf("entitlements = %#v, want %#v", v, want)
	}
}
