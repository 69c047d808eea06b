package mlx

// Internals for the external tests.
var (
	OpenFirst = openFirst
	LibName   = libName
)
