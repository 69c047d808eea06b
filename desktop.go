//go:build (desktop || dev) && !bindings

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/runtime"

	"github.com/modelbar/modelbar/backend/cli"
	"github.com/modelbar/modelbar/backend/desktop"
	"github.com/modelbar/modelbar/backend/server"
	"github.com/modelbar/modelbar/backend/tray"
)

// The desktop app: the Wails window and the menu-bar icon over the same
// server `modelbar serve` runs. This file is the one place that touches
// the Wails runtime; the logic lives in backend/desktop and backend/tray.

const shutdownTimeout = 10 * time.Second

func desktopApp(ui fs.FS) func(context.Context, []string, io.Writer) int {
	return func(ctx context.Context, args []string, stderr io.Writer) int {
		return runDesktop(ctx, args, stderr, ui)
	}
}

func runDesktop(ctx context.Context, args []string, stderr io.Writer, ui fs.FS) int {
	opts, err := desktop.ParseArgs(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if !desktop.HasDisplay(goruntime.GOOS, os.Getenv) {
		fmt.Fprintln(stderr, desktop.NoDisplay)
		return 1
	}
	log, err := opts.Logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "modelbar:", err)
		return 2
	}
	gw := desktop.NewGateway()
	sh := &shell{log: log}
	var login tray.LoginItem
	if li, err := desktop.UserLoginSetting(goruntime.GOOS); err != nil {
		log.Warn("launch at login unavailable", "err", err)
	} else {
		login = li
	}
	stopTray := tray.Start(ctx, tray.NewController(gw.CallAdmin, sh, login), gw, tray.DefaultTiming)

	err = wails.Run(&options.App{
		Title:             "modelbar",
		Width:             1100,
		Height:            720,
		MinWidth:          800,
		MinHeight:         520,
		StartHidden:       opts.Hidden,
		HideWindowOnClose: true,
		AssetServer:       &assetserver.Options{Assets: ui, Middleware: assetserver.ChainMiddleware(underUI, inference(gw))},
		Bind:              []any{&App{gateway: gw}},
		SingleInstanceLock: &options.SingleInstanceLock{
			UniqueId:               instanceID(opts.DataDir),
			OnSecondInstanceLaunch: func(options.SecondInstanceData) { sh.ShowWindow() },
		},
		OnStartup: func(wctx context.Context) {
			sh.started(wctx, opts.Hidden)
			sh.serve(wctx, gw, server.Options{Addr: opts.Addr, DataDir: opts.DataDir, Version: cli.Version, Log: log, UI: ui})
			go desktop.Forward(wctx, gw, runtime.EventsEmit) // the change feed, to the window's live views
			startTestHook(wctx, log)                         // desktoptest builds only
		},
		OnShutdown: func(context.Context) { stopTray() },
	})
	code := int(sh.code.Load())
	if err != nil {
		fmt.Fprintln(stderr, "modelbar:", err)
		code = 1
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := gw.Shutdown(shutdownCtx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	return code
}

// shell is the app around the tray, over the Wails runtime: the window,
// the clipboard, the browser, quitting.
type shell struct {
	log  *slog.Logger
	ctx  atomic.Pointer[context.Context] // the Wails context, once started
	code atomic.Int32                    // the exit code
}

var _ tray.Shell = (*shell)(nil)

func (s *shell) started(wctx context.Context, hidden bool) {
	s.ctx.Store(&wctx)
	desktop.ShowInDock(!hidden)
	desktop.LeaveDockOnHide()
}

// wctx is the Wails context; nil before start-up (a click that early does
// nothing).
func (s *shell) wctx() context.Context {
	if p := s.ctx.Load(); p != nil {
		return *p
	}
	return nil
}

// serve starts the server and quits the app when it stops, or on SIGINT
// or SIGTERM. A server that cannot start is reported in a dialog.
func (s *shell) serve(wctx context.Context, gw *desktop.Gateway, opts server.Options) {
	if err := gw.Start(wctx, opts); err != nil {
		s.log.Error("modelbar did not start", "err", err)
		s.code.Store(1)
		runtime.MessageDialog(wctx, runtime.MessageDialogOptions{
			Type: runtime.ErrorDialog, Title: "modelbar did not start", Message: err.Error(),
		})
		runtime.Quit(wctx)
		return
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		select {
		case <-sig:
		case err := <-gw.Done():
			s.log.Error("server stopped", "err", err)
			s.code.Store(1)
		}
		runtime.Quit(wctx)
	}()
}

func (s *shell) ShowWindow() {
	if wctx := s.wctx(); wctx != nil {
		desktop.ShowInDock(true)
		runtime.WindowShow(wctx)
		runtime.WindowUnminimise(wctx)
	}
}

// ShowScreen shows the window at a screen of the UI: the frontend routes
// by the location's hash (#/chat), and follows hashchange, so setting it
// is all it takes, with no binding or event of its own.
func (s *shell) ShowScreen(screen string) {
	if wctx := s.wctx(); wctx != nil {
		runtime.WindowExecJS(wctx, "location.hash = "+strconv.Quote("#/"+screen))
		s.ShowWindow()
	}
}

func (s *shell) CopyText(text string) error {
	if wctx := s.wctx(); wctx != nil {
		return runtime.ClipboardSetText(wctx, text)
	}
	return errors.New("modelbar is starting")
}

// OpenURL hands url to the default browser. Wails reports no failure (it
// logs one), so nil says only that the URL was handed over.
func (s *shell) OpenURL(url string) error {
	if wctx := s.wctx(); wctx != nil {
		runtime.BrowserOpenURL(wctx, url)
		return nil
	}
	return errors.New("modelbar is starting")
}

func (s *shell) Quit() {
	if wctx := s.wctx(); wctx != nil {
		runtime.Quit(wctx)
	}
}

// instanceID names the single running instance per data dir.
func instanceID(dataDir string) string {
	sum := sha256.Sum256([]byte(dataDir))
	return "dev.modelbar.modelbar.d" + hex.EncodeToString(sum[:6])
}

// inference hands the window's /v1 requests (its chat, sent to its own
// origin) to the server in process: no key in the window, and none needed
// when inference keys are required.
func inference(gw *desktop.Gateway) assetserver.Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/v1/") {
				gw.ServeInference(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// underUI serves the frontend at /ui/ in the window too, as `modelbar
// serve` does, so a build whose asset paths start with /ui/ works in both.
func underUI(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := strings.CutPrefix(r.URL.Path, "/ui/"); ok {
			r = r.Clone(r.Context())
			r.URL.Path = "/" + p
		}
		next.ServeHTTP(w, r)
	})
}
