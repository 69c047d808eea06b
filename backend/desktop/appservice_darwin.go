//go:build darwin && cgo

package desktop

/*
#cgo CFLAGS: -x objective-c -fobjc-arc -mmacosx-version-min=12.0
#cgo LDFLAGS: -framework Foundation -framework ServiceManagement
#import <Foundation/Foundation.h>
#import <ServiceManagement/ServiceManagement.h>
#include <stdlib.h>
#include <string.h>

// SMAppService is macOS 13 API; built for macOS 12 its class is weakly
// linked and every use sits behind @available. plist names the LaunchAgent
// in the bundle's Contents/Library/LaunchAgents. Each function drains its
// own autorelease pool: they run on Go threads, which have none.

// The bundled agent's login item status, or -1 before macOS 13.
static int modelbarLoginStatus(const char *plist) {
	@autoreleasepool {
		if (@available(macOS 13.0, *)) {
			SMAppService *agent = [SMAppService agentServiceWithPlistName:@(plist)];
			return (int)agent.status;
		}
		return -1;
	}
}

// Registers (on) or unregisters the bundled agent as a login item: NULL,
// or an error message to free.
static char *modelbarLoginSet(const char *plist, int on) {
	@autoreleasepool {
		if (@available(macOS 13.0, *)) {
			SMAppService *agent = [SMAppService agentServiceWithPlistName:@(plist)];
			NSError *err = nil;
			BOOL ok = on ? [agent registerAndReturnError:&err]
			             : [agent unregisterAndReturnError:&err];
			if (ok) {
				return NULL;
			}
			const char *msg = err.localizedDescription.UTF8String;
			return strdup(msg ? msg : "SMAppService failed");
		}
		return strdup("SMAppService needs macOS 13");
	}
}

// Opens System Settings → Login Items, on the main thread (as the Dock
// calls in dock_darwin.go do).
static void modelbarOpenLoginItemsSettings(void) {
	dispatch_async(dispatch_get_main_queue(), ^{
		@autoreleasepool {
			if (@available(macOS 13.0, *)) {
				[SMAppService openSystemSettingsLoginItems];
			}
		}
	});
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// appService is the SMAppService login item of the LaunchAgent plist in the
// running app bundle, or false before macOS 13 (legacy stays the setting
// then).
func appService(legacy LoginItem, plist string) (LoginSetting, bool) {
	name := C.CString(plist) // for the process's life: one small string
	if C.modelbarLoginStatus(name) < 0 {
		C.free(unsafe.Pointer(name))
		return nil, false
	}
	return appServiceItem{
		status: func() int { return int(C.modelbarLoginStatus(name)) },
		set: func(on bool) error {
			v := C.int(0)
			if on {
				v = 1
			}
			if msg := C.modelbarLoginSet(name, v); msg != nil {
				defer C.free(unsafe.Pointer(msg))
				return errors.New(C.GoString(msg))
			}
			return nil
		},
		openSettings: func() { C.modelbarOpenLoginItemsSettings() },
		legacy:       legacy,
	}, true
}
