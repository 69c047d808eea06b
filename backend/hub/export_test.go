package hub

// SetFreeSpace replaces the disk-space probe until the returned func runs.
func SetFreeSpace(f func(string) (int64, error)) (restore func()) {
	old := freeSpace
	freeSpace = f
	return func() { freeSpace = old }
}
