//go:build race

package engine

// raceEnabled: the race detector slows the property tests on the large
// real vocabularies (131k-201k tokens per step) about tenfold.
const raceEnabled = true
