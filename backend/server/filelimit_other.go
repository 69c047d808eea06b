//go:build !unix

package server

// fileLimit is unknown here: the default connection cap applies.
func fileLimit() int { return 0 }
