package desktop

import (
	"errors"
	"fmt"
	"strings"
)

// LoginSetting is the launch-at-login setting the menu shows and toggles
// (tray.LoginItem): a LoginItem file, or on macOS 13 and later the app's
// SMAppService login item. Enabled and SetEnabled do not block for long
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

// appServiceItem is launch at login through SMAppService.mainAppService:
// the system's own login item for the app bundle, which the user sees and
// can remove in System Settings, instead of a LaunchAgent file the system
// shows as a background item of unknown origin. The functions are the
// ServiceManagement calls (darwin, cgo), replaceable in tests.
type appServiceItem struct {
	status       func() int          // SMAppService status
	set          func(on bool) error // register or unregister
	openSettings func()              // System Settings → Login Items
	// legacy is the LaunchAgent plist an older modelbar (or the fallback)
	// wrote: it counts as enabled until the setting next changes, when it
	// is removed so the app does not start twice.
	legacy LoginItem
}

// Enabled reports whether the app is registered to open at login (also
// while waiting for the user's approval), or the old LaunchAgent is there.
func (a appServiceItem) Enabled() bool {
	s := a.status()
	return s == smEnabled || s == smRequiresApproval || a.legacy.Enabled()
}

// SetEnabled registers or unregisters the app's login item and removes the
// old LaunchAgent. When macOS wants the user's approval it opens the Login
// Items settings and returns ErrNeedsApproval.
func (a appServiceItem) SetEnabled(on bool) error {
	if err := a.legacy.SetEnabled(false); err != nil {
		return err
	}
	// Unregistering what is not registered is an error to ServiceManagement:
	// call it only for a change.
	s := a.status()
	if registered := s == smEnabled || s == smRequiresApproval; on != registered {
		if err := a.set(on); err != nil {
			return fmt.Errorf("launch at login: %w", err)
		}
	}
	return a.approval(on)
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
// (X.app/Contents/MacOS/x): SMAppService.mainAppService describes the
// bundle, so a bare binary keeps the LaunchAgent.
func inAppBundle(exe string) bool {
	dir, _, ok := strings.Cut(exe, ".app/Contents/MacOS/")
	return ok && dir != "" && !strings.Contains(exe[len(dir)+len(".app/Contents/MacOS/"):], "/")
}

// UserLoginSetting is the launch-at-login setting for this user and the
// running program: the app's SMAppService login item on macOS 13 and later
// when running from an app bundle, else UserLoginItem's file (a LaunchAgent
// on older macOS, an autostart entry on Linux).
func UserLoginSetting(goos string) (LoginSetting, error) {
	li, err := UserLoginItem(goos)
	if err != nil {
		return nil, err
	}
	exe, err := executable()
	if err != nil || goos != "darwin" || !inAppBundle(exe) {
		return li, nil
	}
	if s, ok := appService(li); ok {
		return s, nil
	}
	return li, nil
}
