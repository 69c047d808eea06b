//go:build darwin && cgo

package desktop

/*
#cgo CFLAGS: -x objective-c -fobjc-arc
#cgo LDFLAGS: -framework Cocoa
#import <Cocoa/Cocoa.h>

// Wails makes the app a regular (Dock) app at launch, whatever Info.plist
// says. These switch the activation policy on the main thread: accessory
// (menu bar only) while the window is hidden, regular while it shows.
static void modelbarShowInDock(int show) {
	dispatch_async(dispatch_get_main_queue(), ^{
		if (show) {
			[NSApp setActivationPolicy:NSApplicationActivationPolicyRegular];
			[NSApp activateIgnoringOtherApps:YES];
		} else {
			[NSApp setActivationPolicy:NSApplicationActivationPolicyAccessory];
		}
	});
}

// Closing the window hides the whole app (Wails' HideWindowOnClose calls
// [NSApp hide:]): leave the Dock then.
static void modelbarLeaveDockOnHide(void) {
	dispatch_async(dispatch_get_main_queue(), ^{
		[[NSNotificationCenter defaultCenter] addObserverForName:NSApplicationDidHideNotification
			object:nil queue:[NSOperationQueue mainQueue] usingBlock:^(NSNotification *note) {
				[NSApp setActivationPolicy:NSApplicationActivationPolicyAccessory];
			}];
	});
}
*/
import "C"

// ShowInDock makes the app a regular app with a Dock icon (and brings it
// to the front), or a menu-bar-only accessory app. Safe from any
// goroutine: the change runs on the main thread's run loop.
func ShowInDock(show bool) {
	if show {
		C.modelbarShowInDock(1)
		return
	}
	C.modelbarShowInDock(0)
}

// LeaveDockOnHide makes hiding the app (closing its window) drop the Dock
// icon. Call it once, after the app's run loop has started.
func LeaveDockOnHide() { C.modelbarLeaveDockOnHide() }
