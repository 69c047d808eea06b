//go:build !darwin || !cgo

package desktop

// ShowInDock does nothing here: only macOS has a Dock to leave.
func ShowInDock(bool) {}

// LeaveDockOnHide does nothing here.
func LeaveDockOnHide() {}
