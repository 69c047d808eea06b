//go:build ignore

// appicon writes build/appicon.png, the application icon `wails build`
// turns into the macOS .icns (and Windows .ico). The artwork is drawn in
// Go by backend/tray, like the menu-bar icons; nothing is downloaded.
//
//	go run build/appicon.go
package main

import (
	"log"
	"os"

	"github.com/modelbar/modelbar/backend/tray"
)

func main() {
	if err := os.WriteFile("build/appicon.png", tray.AppIcon(1024), 0o644); err != nil {
		log.Fatal(err)
	}
}
