package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNotFound is wrapped by the Get*, Update* and Delete* methods when the
// requested row does not exist. Test for it with errors.Is.
var ErrNotFound = errors.New("not found")

// SchemaTooNewError reports a database file written by a newer modelbar: its
// schema version Found is above the Supported version of this build. Open
// returns it wrapped (use errors.As) and leaves the file unaltered.
type SchemaTooNewError struct {
	Path             string
	Found, Supported int
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("database %s has schema version %d, newer than this modelbar supports (%d): upgrade modelbar or use another --data-dir",
		e.Path, e.Found, e.Supported)
}

// InUseError reports that a provider cannot be deleted because the routes
// RouteIDs (ascending) name it as their backend or in their fallbacks.
// DeleteProvider returns it wrapped (use errors.As).
type InUseError struct {
	Provider string
	RouteIDs []int64
}

func (e *InUseError) Error() string {
	ids := make([]string, len(e.RouteIDs))
	for i, id := range e.RouteIDs {
		ids[i] = strconv.FormatInt(id, 10)
	}
	return fmt.Sprintf("provider %q is used by routes %s", e.Provider, strings.Join(ids, ", "))
}
