//go:build !darwin || !cgo

package desktop

// appService is unavailable here: SMAppService is macOS's (and needs cgo).
func appService(LoginItem, string) (LoginSetting, bool) { return nil, false }
