package llama

// RopeFrequencies exposes ropeFrequencies to the external tests.
var RopeFrequencies = ropeFrequencies
