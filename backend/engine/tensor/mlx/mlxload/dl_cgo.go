//go:build cgo && (linux || darwin)

package mlxload

/*
#cgo linux LDFLAGS: -ldl
#include <stdlib.h>
#include <dlfcn.h>
#include <string.h>

#include "mlxc.h"

// Last MLX error message of this OS thread. MLX work runs on one locked OS
// thread, so a thread-local buffer keeps messages from different threads apart.
static __thread char mb_last_error[1024];

static void mb_error_handler(const char *msg, void *data) {
	(void)data;
	if (msg == NULL) {
		msg = "unknown MLX error";
	}
	strncpy(mb_last_error, msg, sizeof mb_last_error - 1);
	mb_last_error[sizeof mb_last_error - 1] = '\0';
}

static void *mb_dlopen(const char *path, char **err) {
	*err = NULL;
	dlerror();
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		*err = strdup(e ? e : "dlopen failed");
	}
	return h;
}

static void *mb_dlsym(void *h, const char *name) {
	dlerror();
	return dlsym(h, name);
}

static int mb_dlclose(void *h) { return dlclose(h); }

static void mb_install_error_handler(void *set_handler) {
	((mb_mlx_set_error_handler_fn)set_handler)(mb_error_handler, NULL, NULL);
}

static char *mb_take_error(void) {
	if (mb_last_error[0] == '\0') {
		return NULL;
	}
	char *s = strdup(mb_last_error);
	mb_last_error[0] = '\0';
	return s;
}

static char *mb_version(void *newf, void *versionf, void *dataf, void *freef) {
	mb_mlx_string s = ((mb_mlx_string_new_fn)newf)();
	if (((mb_mlx_version_fn)versionf)(&s) != 0) {
		((mb_mlx_string_free_fn)freef)(s);
		return NULL;
	}
	const char *d = ((mb_mlx_string_data_fn)dataf)(s);
	char *out = strdup(d ? d : "");
	((mb_mlx_string_free_fn)freef)(s);
	return out;
}

static int mb_metal_is_available(void *f, int *res) {
	bool b = false;
	int rc = ((mb_mlx_metal_is_available_fn)f)(&b);
	*res = b ? 1 : 0;
	return rc;
}
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"
)

// handle is the cgo build's state of a loaded library.
type handle struct {
	dl   unsafe.Pointer            // dlopen handle
	syms map[string]unsafe.Pointer // resolved required symbols, by name
}

// cgoAvailable reports whether this build can load libmlxc at all.
const cgoAvailable = true

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
		return nil, fmt.Errorf("%s", msg)
	}
	return h, nil
}

// load opens path, checks the MLX version and resolves every required
// symbol. path is what the search produced; tried is recorded in errors.
func load(path string) (*Lib, error) {
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

	syms := make(map[string]unsafe.Pointer, len(RequiredSymbols))
	resolve := func(name string) (unsafe.Pointer, error) {
		if p, ok := syms[name]; ok {
			return p, nil
		}
		cname := C.CString(name)
		defer C.free(unsafe.Pointer(cname))
		p := C.mb_dlsym(dl, cname)
		if p == nil {
			return nil, &SymbolError{Name: name, Path: path}
		}
		syms[name] = p
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
	cv := C.mb_version(pre[1], pre[2], pre[3], pre[4])
	if cv == nil {
		msg := "mlx_version failed"
		if ce := C.mb_take_error(); ce != nil {
			msg += ": " + C.GoString(ce)
			C.free(unsafe.Pointer(ce))
		}
		return nil, &VersionError{Found: "", Supported: SupportedVersions, Path: path, Detail: msg}
	}
	version := C.GoString(cv)
	C.free(unsafe.Pointer(cv))
	if !supportedVersion(version) {
		return nil, &VersionError{Found: version, Supported: SupportedVersions, Path: path}
	}

	for _, name := range RequiredSymbols {
		if _, err := resolve(name); err != nil {
			return nil, err
		}
	}
	ok = true
	return &Lib{path: path, version: version, h: handle{dl: dl, syms: syms}}, nil
}

// close dlcloses the library.
func (h *handle) close() error {
	if h.dl == nil {
		return nil
	}
	rc := C.mb_dlclose(h.dl)
	h.dl = nil
	h.syms = nil
	if rc != 0 {
		return fmt.Errorf("mlxload: dlclose failed")
	}
	return nil
}

// metalAvailable calls mlx_metal_is_available.
func (h *handle) metalAvailable() (bool, error) {
	var res C.int
	if rc := C.mb_metal_is_available(h.syms["mlx_metal_is_available"], &res); rc != 0 {
		msg := "mlx_metal_is_available failed"
		if ce := C.mb_take_error(); ce != nil {
			msg += ": " + strings.TrimSpace(C.GoString(ce))
			C.free(unsafe.Pointer(ce))
		}
		return false, fmt.Errorf("mlxload: %s", msg)
	}
	return res != 0, nil
}
