//go:build !unix

package hub

import "errors"

var errNoSpace = errors.New("no space left on device")

// diskFree is unknown here; the download is not refused up front.
func diskFree(string) (int64, error) { return 0, errors.ErrUnsupported }
