//go:build cgo && (linux || darwin)

package mlx

/*
#cgo linux LDFLAGS: -ldl
#include <stdlib.h>
#include "mlxc.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// handle is the cgo build's state of a loaded library.
type handle struct {
	dl unsafe.Pointer // dlopen handle
}

// cgoAvailable reports whether this build can load libmlxc at all.
const cgoAvailable = true

// symbolNames lists the mlx-c functions of the backend's symbol table.
func symbolNames() []string {
	n := int(C.mb_symbol_count())
	names := make([]string, n)
	for i := range n {
		names[i] = C.GoString(C.mb_symbol_name(C.int(i)))
	}
	return names
}

// dlopenLib dlopens name (a path, or a bare file name for the system search)
// with RTLD_NOW|RTLD_LOCAL. The error is dlerror's text.
func dlopenLib(name string) (unsafe.Pointer, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var cerr *C.char
	h := C.mb_dlopen(cname, &cerr)
	if h == nil {
		msg := "dlopen failed"
		if cerr != nil {
			msg = C.GoString(cerr)
			C.free(unsafe.Pointer(cerr))
		}
		return nil, errors.New(msg)
	}
	return h, nil
}

// lastError takes the calling thread's last MLX error message, or "".
func lastError() string {
	ce := C.mb_take_error()
	if ce == nil {
		return ""
	}
	defer C.free(unsafe.Pointer(ce))
	return strings.TrimSpace(C.GoString(ce))
}

// load opens path, checks the MLX version and checks that every required
// symbol resolves. It does not bind the backend's symbol table: that is
// bindLib's job, once per process.
func load(path string) (*Lib, error) {
	// MLX's error message is kept per OS thread: stay on one until it is read.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dl, err := dlopenLib(path)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			C.mb_dlclose(dl)
		}
	}()

	resolve := func(name string) (unsafe.Pointer, error) {
		cname := C.CString(name)
		defer C.free(unsafe.Pointer(cname))
		p := C.mb_dlsym(dl, cname)
		if p == nil {
			return nil, &SymbolError{Name: name, Path: path}
		}
		return p, nil
	}

	// The version read needs these; the error handler goes in first because
	// mlx-c's default handler prints and exits the process.
	var pre [5]unsafe.Pointer
	for i, name := range versionSymbols {
		if pre[i], err = resolve(name); err != nil {
			return nil, err
		}
	}
	C.mb_install_error_handler(pre[0])
	cv := C.mb_read_version(pre[1], pre[2], pre[3], pre[4])
	if cv == nil {
		msg := "mlx_version failed"
		if e := lastError(); e != "" {
			msg += ": " + e
		}
		return nil, &VersionError{Found: "", Supported: SupportedVersions, Path: path, Detail: msg}
	}
	version := C.GoString(cv)
	C.free(unsafe.Pointer(cv))
	if !supportedVersion(version) {
		return nil, &VersionError{Found: version, Supported: SupportedVersions, Path: path}
	}

	for _, name := range symbolNames() {
		if _, err := resolve(name); err != nil {
			return nil, err
		}
	}
	ok = true
	return &Lib{path: path, version: version, h: handle{dl: dl}}, nil
}

// bound is the library whose functions fill the process-wide symbol table
// (C's mb). MLX keeps process-wide state (its allocator, device threads), so
// one library serves every backend and stays loaded until the process ends.
var bound struct {
	mu  sync.Mutex // guards lib
	lib *Lib
}

// bindLib fills the symbol table from l, or checks that l is the library
// already bound.
func bindLib(l *Lib) error {
	// Lock order: the library, then the binding (as Lib.Close does).
	l.mu.RLock()
	defer l.mu.RUnlock()
	bound.mu.Lock()
	defer bound.mu.Unlock()
	if bound.lib != nil {
		if bound.lib.path != l.path {
			return fmt.Errorf("mlx: %s is already in use; cannot also use %s", bound.lib.path, l.path)
		}
		return nil
	}
	if l.closed {
		return errors.New("mlx: library closed")
	}
	if missing := C.mb_bind(l.h.dl); missing != nil {
		return &SymbolError{Name: C.GoString(missing), Path: l.path}
	}
	bound.lib = l
	return nil
}

// close dlcloses the library unless it is the bound one, which stays.
func (h *handle) close() error {
	if h.dl == nil {
		return nil
	}
	bound.mu.Lock()
	inUse := bound.lib != nil && bound.lib.h.dl == h.dl
	bound.mu.Unlock()
	if inUse {
		return nil
	}
	rc := C.mb_dlclose(h.dl)
	h.dl = nil
	if rc != 0 {
		return errors.New("mlx: dlclose failed")
	}
	return nil
}

// metalAvailable calls mlx_metal_is_available.
func (h *handle) metalAvailable() (bool, error) {
	runtime.LockOSThread() // the error message, if any, is this thread's
	defer runtime.UnlockOSThread()
	name := C.CString("mlx_metal_is_available")
	defer C.free(unsafe.Pointer(name))
	f := C.mb_dlsym(h.dl, name)
	if f == nil {
		return false, errors.New("mlx: mlx_metal_is_available is missing")
	}
	var res C.int
	if rc := C.mb_metal_is_available(f, &res); rc != 0 {
		msg := "mlx_metal_is_available failed"
		if e := lastError(); e != "" {
			msg += ": " + e
		}
		return false, fmt.Errorf("mlx: %s", msg)
	}
	return res != 0, nil
}
