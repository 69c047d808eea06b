package desktop

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LoginSetting is the launch-at-login setting the menu shows and toggles
// (tray.LoginItem): a LoginItem file, or on macOS 13 and later the app
// bundle's LaunchAgent registered through SMAppService. Enabled and SetEnabled do not block for long
// (a file, or one ServiceManagement call).
type LoginSetting interface {
	Enabled() bool
	SetEnabled(on bool) error
}

var (
	_ LoginSetting = LoginItem{}
	_ LoginSetting = appServiceItem{}
)

// ErrNeedsApproval says that the login item is registered but the user has
// to allow it in System Settings → General → Login Items, which has been
// opened for them.
var ErrNeedsApproval = errors.New("launch at login: allow modelbar in System Settings → General → Login Items")

// SMAppService.Status values (ServiceManagement, macOS 13).
const (
	smNotRegistered    = 0
	smEnabled          = 1
	smRequiresApproval = 2
	smNotFound         = 3
)

// appServiceItem is launch at login through SMAppService: the LaunchAgent
// that ships inside the app bundle (Contents/Library/LaunchAgents, see
// BundledAgentPlist), registered with agentServiceWithPlistName so that it
// starts the app with --hidden — mainAppService would start it without
// arguments, opening the window at every login. The user sees it and can
// remove it in System Settings → Login Items, instead of a LaunchAgent file
// the system shows as a background item of unknown origin. The functions
// are the ServiceManagement calls (darwin, cgo), replaceable in tests.
type appServiceItem struct {
	status       func() int          // SMAppService status
	set          func(on bool) error // register or unregister
	openSettings func()              // System Settings → Login Items
	// legacy is the LaunchAgent plist in ~/Library/LaunchAgents that an
	// older modelbar wrote, or this item's fallback when registering
	// fails: it counts as enabled, and is removed once the login item is
	// registered so the app does not start twice.
	legacy LoginItem
}

// Enabled reports whether the app is registered to open at login (also
// while waiting for the user's approval), or the old LaunchAgent is there.
func (a appServiceItem) Enabled() bool {
	return a.registered() || a.legacy.Enabled()
}

// registered reports whether the login item is registered (enabled, or
// waiting for the user's approval).
func (a appServiceItem) registered() bool {
	s := a.status()
	return s == smEnabled || s == smRequiresApproval
}

// SetEnabled registers or unregisters the app's login item. Turning it on
// registers first and removes the old LaunchAgent only once that worked;
// when registering fails it writes the LaunchAgent instead, so launch at
// login still works. When macOS wants the user's approval it opens the
// Login Items settings and returns ErrNeedsApproval. Turning it off
// unregisters and removes the LaunchAgent.
func (a appServiceItem) SetEnabled(on bool) error {
	if !on {
		return a.disable()
	}
	// Registering what is registered is left alone: only changes reach
	// ServiceManagement.
	if !a.registered() {
		if err := a.set(true); err != nil {
			if lerr := a.legacy.SetEnabled(true); lerr != nil {
				return fmt.Errorf("launch at login: %w (and the LaunchAgent fallback: %v)", err, lerr)
			}
			return nil
		}
	}
	if err := a.legacy.SetEnabled(false); err != nil {
		return err
	}
	return a.approval(on)
}

// disable unregisters the login item if it is registered (unregistering
// what is not registered is an error to ServiceManagement) and removes the
// LaunchAgent, reporting what failed.
func (a appServiceItem) disable() error {
	var errs []error
	if a.registered() {
		if err := a.set(false); err != nil {
			errs = append(errs, fmt.Errorf("launch at login: %w", err))
		}
	}
	if err := a.legacy.SetEnabled(false); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// approval is ErrNeedsApproval (with the settings opened) when the login
// item is on but waits for the user.
func (a appServiceItem) approval(on bool) error {
	if on && a.status() == smRequiresApproval {
		a.openSettings()
		return ErrNeedsApproval
	}
	return nil
}

// inAppBundle reports whether exe is an app bundle's main executable
// (X.app/Contents/MacOS/x): SMAppService describes the bundle, so a bare
// binary keeps the LaunchAgent.
func inAppBundle(exe string) bool {
	_, ok := bundleDir(exe)
	return ok
}

// bundleDir is the X.app directory whose main executable is exe.
func bundleDir(exe string) (string, bool) {
	dir, rest, ok := strings.Cut(exe, ".app/Contents/MacOS/")
	if !ok || dir == "" || rest == "" || strings.Contains(rest, "/") {
		return "", false
	}
	return dir + ".app", true
}

// BundleID is the app's CFBundleIdentifier (build/darwin/Info.plist).
const BundleID = "dev.modelbar.modelbar"

// BundledAgentPlist is the file name of the LaunchAgent that
// build/release/bundle.sh writes into the app bundle's
// Contents/Library/LaunchAgents and that SMAppService registers.
const BundledAgentPlist = BundleID + ".plist"

// bundledAgentPath is where the bundle holding exe keeps its LaunchAgent.
func bundledAgentPath(exe string) (string, bool) {
	app, ok := bundleDir(exe)
	if !ok {
		return "", false
	}
	return filepath.Join(app, "Contents", "Library", "LaunchAgents", BundledAgentPlist), true
}

// UserLoginSetting is the launch-at-login setting for this user and the
// running program: on macOS 13 and later, when running from an app bundle
// that holds its LaunchAgent (a release; see BundledAgentPlist), that
// agent registered through SMAppService; else UserLoginItem's file (a
// LaunchAgent in ~/Library/LaunchAgents on macOS 12 or for a bare binary
// or a bundle without it, an autostart entry on Linux).
func UserLoginSetting(goos string) (LoginSetting, error) {
	li, err := UserLoginItem(goos)
	if err != nil {
		return nil, err
	}
	exe, err := executable()
	if err != nil || goos != "darwin" {
		return li, nil
	}
	agent, ok := bundledAgentPath(exe)
	if !ok {
		return li, nil
	}
	if _, err := os.Stat(agent); err != nil {
		return li, nil
	}
	if s, ok := appService(li, BundledAgentPlist); ok {
		return s, nil
	}
	return li, nil
}
