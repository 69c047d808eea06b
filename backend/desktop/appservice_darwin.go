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
// linked and every use sits behind @available.

// The main app's login item status, or -1 before macOS 13.
static int modelbarLoginStatus(void) {
	if (@available(macOS 13.0, *)) {
		return (int)[SMAppService mainAppService].status;
	}
	return -1;
}

// Registers (on) or unregisters the main app as a login item: NULL, or an
// error message to free.
static char *modelbarLoginSet(int on) {
	if (@available(macOS 13.0, *)) {
		NSError *err = nil;
		BOOL ok = on ? [[SMAppService mainAppService] registerAndReturnError:&err]
		             : [[SMAppService mainAppService] unregisterAndReturnError:&err];
		if (ok) {
			return NULL;
		}
		const char *msg = err.localizedDescription.UTF8String;
		return strdup(msg ? msg : "SMAppService failed");
	}
	return strdup("SMAppService needs macOS 13");
}

static void modelbarOpenLoginItemsSettings(void) {
	if (@available(macOS 13.0, *)) {
		[SMAppService openSystemSettingsLoginItems];
	}
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// appService is the SMAppService login item of the running app bundle, or
// false before macOS 13 (legacy stays the setting then).
func appService(legacy LoginItem) (LoginSetting, bool) {
	if C.modelbarLoginStatus() < 0 {
		return nil, false
	}
	return appServiceItem{
		status: func() int { return int(C.modelbarLoginStatus()) },
		set: func(on bool) error {
			v := C.int(0)
			if on {
				v = 1
			}
			if msg := C.modelbarLoginSet(v); msg != nil {
				defer C.free(unsafe.Pointer(msg))
				return errors.New(C.GoString(msg))
			}
			return nil
		},
		openSettings: func() { C.modelbarOpenLoginItemsSettings() },
		legacy:       legacy,
	}, true
}
