package desktop

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeAppService stands in for ServiceManagement: a status that register
// and unregister move, the calls recorded.
type fakeAppService struct {
	status       int
	afterOn      int   // the status register leaves (enabled, or waiting for approval)
	err          error // what register/unregister answer
	calls        []bool
	openSettings int
}

func (f *fakeAppService) item(legacy LoginItem) appServiceItem {
	return appServiceItem{
		status: func() int { return f.status },
		set: func(on bool) error {
			f.calls = append(f.calls, on)
			if f.err != nil {
				return f.err
			}
			if on {
				f.status = f.afterOn
			} else {
				f.status = smNotRegistered
			}
			return nil
		},
		openSettings: func() { f.openSettings++ },
		legacy:       legacy,
	}
}

func legacyAgent(t *testing.T) LoginItem {
	t.Helper()
	li, err := NewLoginItem("darwin", t.TempDir(), "", "/Applications/modelbar.app/Contents/MacOS/modelbar")
	if err != nil {
		t.Fatal(err)
	}
	return li
}

func TestAppServiceItem_RegistersAndUnregisters(t *testing.T) {
	f := &fakeAppService{status: smNotRegistered, afterOn: smEnabled}
	a := f.item(legacyAgent(t))
	if a.Enabled() {
		t.Fatal("Enabled before registering")
	}
	if err := a.SetEnabled(true); err != nil || !a.Enabled() {
		t.Fatalf("SetEnabled(true) = %v, Enabled() = %v", err, a.Enabled())
	}
	if err := a.SetEnabled(true); err != nil {
		t.Fatalf("SetEnabled(true) again: %v", err)
	}
	if err := a.SetEnabled(false); err != nil || a.Enabled() {
		t.Fatalf("SetEnabled(false) = %v, Enabled() = %v", err, a.Enabled())
	}
	if err := a.SetEnabled(false); err != nil {
		t.Fatalf("SetEnabled(false) again: %v", err)
	}
	// Only changes reach ServiceManagement (unregistering an unregistered
	// app is an error there).
	if want := []bool{true, false}; len(f.calls) != 2 || f.calls[0] != want[0] || f.calls[1] != want[1] {
		t.Errorf("ServiceManagement calls %v, want %v", f.calls, want)
	}
	if f.openSettings != 0 {
		t.Errorf("settings opened %d times without an approval to ask for", f.openSettings)
	}
}

func TestAppServiceItem_NeedsApproval(t *testing.T) {
	f := &fakeAppService{status: smNotRegistered, afterOn: smRequiresApproval}
	a := f.item(legacyAgent(t))
	if err := a.SetEnabled(true); !errors.Is(err, ErrNeedsApproval) {
		t.Fatalf("SetEnabled(true) = %v, want ErrNeedsApproval", err)
	}
	if f.openSettings != 1 {
		t.Errorf("Login Items settings opened %d times, want 1", f.openSettings)
	}
	if !a.Enabled() {
		t.Error("a login item waiting for approval shows as off")
	}
}

func TestAppServiceItem_ReplacesLaunchAgent(t *testing.T) {
	legacy := legacyAgent(t)
	if err := legacy.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	f := &fakeAppService{status: smNotRegistered, afterOn: smEnabled}
	a := f.item(legacy)
	if !a.Enabled() {
		t.Fatal("the old LaunchAgent does not count as enabled")
	}
	if err := a.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(legacy.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the LaunchAgent %s is still there next to the login item (the app would start twice): %v", legacy.Path, err)
	}
	if !a.Enabled() || len(f.calls) != 1 {
		t.Errorf("Enabled() = %v after %v calls, want a registered login item", a.Enabled(), f.calls)
	}
}

// TestAppServiceItem_FailureKeepsTheLaunchAgent: when ServiceManagement
// refuses, the old LaunchAgent stays (it was removed before registering,
// leaving the user with nothing), or is written when there was none, so
// the app still starts at login; a later success replaces it.
func TestAppServiceItem_FailureKeepsTheLaunchAgent(t *testing.T) {
	for _, had := range []bool{true, false} {
		legacy := legacyAgent(t)
		if had {
			if err := legacy.SetEnabled(true); err != nil {
				t.Fatal(err)
			}
		}
		f := &fakeAppService{status: smNotRegistered, afterOn: smEnabled, err: errors.New("Operation not permitted")}
		a := f.item(legacy)
		if err := a.SetEnabled(true); err != nil {
			t.Fatalf("had a LaunchAgent %v: SetEnabled(true) = %v, want the LaunchAgent fallback", had, err)
		}
		if !legacy.Enabled() || !a.Enabled() {
			t.Fatalf("had a LaunchAgent %v: after a refused registration the LaunchAgent is %v, Enabled() %v; want both on", had, legacy.Enabled(), a.Enabled())
		}
		f.err = nil
		if err := a.SetEnabled(true); err != nil {
			t.Fatal(err)
		}
		if legacy.Enabled() || f.status != smEnabled {
			t.Errorf("had a LaunchAgent %v: after registering, LaunchAgent %v, status %d; want it replaced by the login item", had, legacy.Enabled(), f.status)
		}
	}
}

// TestAppServiceItem_ErrorSaysWhat: when the fallback cannot be written
// either, both reasons reach the menu.
func TestAppServiceItem_ErrorSaysWhat(t *testing.T) {
	legacy := legacyAgent(t)
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	legacy.Path = filepath.Join(blocker, "LaunchAgents", LaunchAgentLabel+".plist") // its directory cannot be made
	f := &fakeAppService{status: smNotRegistered, err: errors.New("Operation not permitted")}
	err := f.item(legacy).SetEnabled(true)
	if err == nil || !strings.HasPrefix(err.Error(), "launch at login: Operation not permitted (and the LaunchAgent fallback: ") {
		t.Errorf("SetEnabled(true) = %v, want the ServiceManagement error, prefixed, and the fallback's", err)
	}
}

// TestAppServiceItem_DisableRemovesBoth: turning it off unregisters the
// login item and removes a LaunchAgent (the fallback's or an old one's).
func TestAppServiceItem_DisableRemovesBoth(t *testing.T) {
	legacy := legacyAgent(t)
	if err := legacy.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	f := &fakeAppService{status: smEnabled}
	a := f.item(legacy)
	if err := a.SetEnabled(false); err != nil || a.Enabled() || legacy.Enabled() {
		t.Errorf("SetEnabled(false) = %v; Enabled() %v, LaunchAgent %v; want both off", err, a.Enabled(), legacy.Enabled())
	}
}

func TestBundledAgentPath(t *testing.T) {
	for exe, want := range map[string]string{
		"/Applications/modelbar.app/Contents/MacOS/modelbar": "/Applications/modelbar.app/Contents/Library/LaunchAgents/dev.modelbar.modelbar.plist",
		"/usr/local/bin/modelbar":                            "",
	} {
		got, ok := bundledAgentPath(exe)
		if got != want || ok != (want != "") {
			t.Errorf("bundledAgentPath(%q) = %q, %v; want %q", exe, got, ok, want)
		}
	}
}

func TestInAppBundle(t *testing.T) {
	for exe, want := range map[string]bool{
		"/Applications/modelbar.app/Contents/MacOS/modelbar":         true,
		"/Users/me/Downloads/modelbar 2.app/Contents/MacOS/modelbar": true,
		"/usr/local/bin/modelbar":                                    false,
		"/Applications/modelbar.app/Contents/MacOS/lib/x":            false,
		".app/Contents/MacOS/modelbar":                               false,
		filepath.Join("/opt", "modelbar"):                            false,
	} {
		if got := inAppBundle(exe); got != want {
			t.Errorf("inAppBundle(%q) = %v, want %v", exe, got, want)
		}
	}
}

// TestUserLoginSetting_Elsewhere: off macOS (and in a test binary, which is
// no app bundle) the setting is the LoginItem file.
func TestUserLoginSetting_Elsewhere(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	for _, goos := range []string{"linux", "darwin"} {
		s, err := UserLoginSetting(goos)
		if err != nil {
			t.Fatalf("UserLoginSetting(%s): %v", goos, err)
		}
		if _, ok := s.(LoginItem); !ok {
			t.Errorf("UserLoginSetting(%s) = %T, want the LoginItem file", goos, s)
		}
	}
}
