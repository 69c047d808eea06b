// Package mlx is the MLX tensor backend: Apple's MLX, through the mlx-c C
// API, computing the local engine's forward pass on the Metal GPU (or MLX's
// own CPU device where Metal is absent).
//
// The binary never links mlx-c: libmlxc is opened at run time with
// dlopen(RTLD_NOW|RTLD_LOCAL) and its functions are resolved with dlsym, so
// modelbar builds and runs where MLX is absent and the engine then falls back
// to the pure-Go CPU backend. The functions are declared in the package's own
// header (mlxc.h), pinned to the mlx-c 0.6.0 ABI. mlx_version reports the MLX
// core version, which for mlx-c 0.6.0 is 0.31.x; other versions are refused
// before any call whose signature might differ.
//
// This is the one package of modelbar that imports "C" (see STYLE.md); the
// rest of the engine sees tensor.Backend and the pure-Go API below. Without
// cgo every Open returns an error matching ErrNotFound that says so.
package mlx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// EnvLib names the environment variable that points at a libmlxc file. When
// it is set, it is the only place Open looks.
const EnvLib = "MODELBAR_MLX_LIB"

// SupportedVersions describes the MLX core versions this package accepts:
// the series that mlx-c 0.6.0 builds against.
const SupportedVersions = "MLX core 0.31.x (mlx-c 0.6.0)"

// supportedSeries is the major.minor prefix accepted by supportedVersion.
const supportedSeries = "0.31."

// fallback ends every error message: what the engine does instead.
const fallback = "the engine falls back to the CPU backend"

// versionSymbols are resolved before the version is read, in the order the
// cgo loader uses them: error handler first, then the version read.
var versionSymbols = [...]string{
	"mlx_set_error_handler",
	"mlx_string_new",
	"mlx_version",
	"mlx_string_data",
	"mlx_string_free",
}

// RequiredSymbols lists every mlx-c 0.6.0 function that must resolve for the
// library to be used (the backend's whole symbol table). A missing one gives
// a *SymbolError. It is empty in a build without cgo.
func RequiredSymbols() []string { return symbolNames() }

// ErrNotFound is matched (errors.Is) by every error saying that no usable
// libmlxc file was found; the concrete error is a *NotFoundError.
var ErrNotFound = errors.New("mlx: libmlxc not found")

// Attempt is one place Open looked and why it was not used.
type Attempt struct {
	Path   string // a file path, or a bare library name for the system search
	Reason string // e.g. "no such file" or dlopen's message
}

// NotFoundError says that libmlxc was not found; Tried lists every place
// looked, in order. It matches ErrNotFound.
type NotFoundError struct {
	Tried []Attempt
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	b.WriteString("mlx: libmlxc not found, " + fallback + "; tried: ")
	for i, a := range e.Tried {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%s)", a.Path, a.Reason)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// VersionError says that the library reports an unsupported MLX version.
type VersionError struct {
	Found     string // what mlx_version answered; empty if it failed
	Supported string // SupportedVersions
	Path      string // the library file
	Detail    string // why the version could not be read, if it could not
}

func (e *VersionError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("mlx: %s: cannot read the MLX version (%s); supported: %s; %s",
			e.Path, e.Detail, e.Supported, fallback)
	}
	return fmt.Sprintf("mlx: %s reports MLX %q, supported: %s; %s",
		e.Path, e.Found, e.Supported, fallback)
}

// SymbolError says that a required mlx-c function is missing from the library.
type SymbolError struct {
	Name string // the missing symbol
	Path string // the library file
}

func (e *SymbolError) Error() string {
	return fmt.Sprintf("mlx: %s lacks the mlx-c symbol %s (need mlx-c 0.6.0); %s",
		e.Path, e.Name, fallback)
}

// Lib is a loaded, version-checked libmlxc with all RequiredSymbols resolved.
// Its methods are safe for concurrent use; Close waits for calls in flight.
type Lib struct {
	path    string
	version string
	skipped []Attempt // libraries found earlier in the search that did not load

	mu     sync.RWMutex // guards h and closed: calls hold it shared, Close exclusively
	h      handle
	closed bool
}

// Path returns the file (or library name) that was opened.
func (l *Lib) Path() string { return l.path }

// Version returns the MLX core version the library reported, e.g. "0.31.1".
func (l *Lib) Version() string { return l.version }

// Skipped lists the files found before this one in Open's search that did
// not load (a wrong version, a missing symbol, dlopen's error), in order;
// places where nothing was found are left out. A release's own library
// (lib/, Contents/Frameworks) that is broken shows here when another, such
// as Homebrew's, loaded instead, so the status can say so.
func (l *Lib) Skipped() []Attempt { return l.skipped }

// MetalAvailable reports mlx_metal_is_available: whether the Metal GPU
// device can be used (false on Linux builds of MLX).
func (l *Lib) MetalAvailable() (bool, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return false, errors.New("mlx: library closed")
	}
	return l.h.metalAvailable()
}

// Close unloads the library. Nothing obtained from it may be used afterwards.
// Calling Close again does nothing.
func (l *Lib) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return l.h.close()
}

// libName is the platform's file name of libmlxc.
func libName() string {
	if runtime.GOOS == "darwin" {
		return "libmlxc.dylib"
	}
	return "libmlxc.so"
}

// candidates lists where Open looks, in order, given the value of EnvLib and
// the executable's path (either may be empty; Open passes it with symlinks
// resolved). A set EnvLib is the only candidate. The last entry is a bare
// name for dlopen's own search.
func candidates(env, exe string) []string {
	if env != "" {
		return []string{env}
	}
	name := libName()
	var c []string
	if exe != "" {
		dir := filepath.Dir(exe)
		c = append(c,
			// A release tarball: <dir>/modelbar beside <dir>/lib holding
			// libmlxc and the libmlx it finds through its $ORIGIN run path.
			// First, so an unpacked release uses what it shipped with even
			// where another MLX is installed system-wide.
			filepath.Join(dir, "lib", name),
			// macOS app bundle: Contents/MacOS/<exe> next to Contents/Frameworks.
			filepath.Join(dir, "..", "Frameworks", name),
		)
	}
	c = append(c,
		filepath.Join("/opt/homebrew/lib", name),
		filepath.Join("/usr/local/lib", name),
		name,
	)
	return c
}

// Open finds and loads libmlxc: the file named by MODELBAR_MLX_LIB if that is
// set (and nothing else), otherwise lib/ beside the executable (symlinks
// resolved, so a link in a bin directory finds the release it points into),
// the app bundle's Contents/Frameworks next to the executable,
// /opt/homebrew/lib, /usr/local/lib and finally the system library path. A
// library that is found but has the wrong version or lacks a symbol does not
// stop the search; if nothing loads, the first such error is returned, else a
// *NotFoundError listing every place tried.
func Open() (*Lib, error) {
	exe, _ := os.Executable()
	return openFrom(os.Getenv(EnvLib), exe)
}

// openFrom is Open for a given EnvLib value and executable path, which is
// resolved through symlinks first (left as it is when that fails).
func openFrom(env, exe string) (*Lib, error) {
	if exe != "" {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
	}
	return openFirst(candidates(env, exe))
}

// OpenPath loads the libmlxc file at path. A path without a slash is handed
// to dlopen's own search, as dlopen does.
func OpenPath(path string) (*Lib, error) {
	return openFirst([]string{path})
}

// openFirst tries each candidate in turn and returns the first that loads.
func openFirst(paths []string) (*Lib, error) {
	nf := &NotFoundError{}
	var firstBad error
	var found []Attempt // candidates that exist but did not load
	for _, p := range paths {
		if !cgoAvailable {
			nf.Tried = append(nf.Tried, Attempt{Path: p, Reason: "built without cgo (CGO_ENABLED=0 or an unsupported OS), so libmlxc cannot be loaded"})
			continue
		}
		if strings.ContainsRune(p, '/') {
			if _, err := os.Stat(p); err != nil {
				reason := err.Error()
				if errors.Is(err, fs.ErrNotExist) {
					reason = "no such file"
				}
				nf.Tried = append(nf.Tried, Attempt{Path: p, Reason: reason})
				continue
			}
		}
		lib, err := load(p)
		if err == nil {
			lib.skipped = found
			return lib, nil
		}
		// Kept for Skipped, where a later library did load: no fallback.
		found = append(found, Attempt{Path: p, Reason: strings.TrimSuffix(err.Error(), "; "+fallback)})
		var ve *VersionError
		var se *SymbolError
		if errors.As(err, &ve) || errors.As(err, &se) {
			if firstBad == nil {
				firstBad = err
			}
			nf.Tried = append(nf.Tried, Attempt{Path: p, Reason: err.Error()})
			continue
		}
		nf.Tried = append(nf.Tried, Attempt{Path: p, Reason: err.Error()})
	}
	if firstBad != nil {
		return nil, firstBad
	}
	return nil, nf
}

// supportedVersion reports whether v (mlx_version's answer) is in the 0.31.x
// series: "0.31." followed by a numeric patch, optionally with a suffix such as
// ".dev20260101+abcdef" of a development build.
func supportedVersion(v string) bool {
	rest, ok := strings.CutPrefix(v, supportedSeries)
	return ok && rest != "" && rest[0] >= '0' && rest[0] <= '9'
}
