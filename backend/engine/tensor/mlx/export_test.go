package mlx

// Internals for the external tests.
var (
	OpenFirst    = openFirst
	OpenFrom     = openFrom
	Candidates   = candidates
	LibName      = libName
	ChooseDevice = chooseDevice
)
