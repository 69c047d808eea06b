package tensor

import "fmt"

// Added for gemma3 (issue 16).

// CheckRopePartial validates the arguments of Ops.RopePartial: a row of
// cols values in heads of headDim, of which a Rope of dims turns the
// first dims.
func CheckRopePartial(cols, headDim, dims, offset int) error {
	if headDim <= 0 || dims > headDim || cols%headDim != 0 || offset < 0 {
		return fmt.Errorf("RopePartial: %d columns in heads of %d rotated over %d at offset %d", cols, headDim, dims, offset)
	}
	return nil
}
