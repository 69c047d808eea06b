package modelfile

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error Open and ReadConfig return names the file;
// one about a file's content wraps one of these (test with errors.Is),
// most inside a *FieldError or *TensorError that names the field or
// tensor too. Errors of the file system (a shard missing, a file
// unreadable) wrap the os error instead.
var (
	// ErrNoConfig: the directory has no config.json.
	ErrNoConfig = errors.New("no config.json")
	// ErrNoWeights: the directory has no model.safetensors, no
	// model.safetensors.index.json and no model*.safetensors.
	ErrNoWeights = errors.New("no safetensors weights")
	// ErrUnsupported: a valid setting modelfile does not handle, such as
	// an architecture other than llama, mistral, qwen2 and qwen3, a RoPE
	// scaling other than llama3 or 3-bit quantization.
	ErrUnsupported = errors.New("not supported")
	// ErrInvalidConfig: a config file's field is missing, of the wrong
	// type or out of range.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrCorrupt: a safetensors file is truncated or its header is not
	// valid (bad JSON, unknown dtype, offsets outside the file or not
	// matching the shape).
	ErrCorrupt = errors.New("corrupt safetensors")
	// ErrMissingTensor: a tensor the architecture needs is absent.
	ErrMissingTensor = errors.New("missing tensor")
	// ErrTensorShape: a tensor has the wrong dtype or shape for the
	// config, or is one the architecture does not have.
	ErrTensorShape = errors.New("wrong tensor")
)

// FieldError says which field of which config file is wrong and why.
type FieldError struct {
	File  string // path of config.json or generation_config.json
	Field string // JSON field path, e.g. "rope_scaling.factor"; "" for the whole file
	Err   error  // wraps ErrInvalidConfig or ErrUnsupported
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.File, e.Field, e.Err)
}

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// TensorError says which tensor of which file is wrong and why. Tensor is
// empty for a problem with the file as a whole (such as a truncated
// header); File is the model directory for a tensor found in no file.
type TensorError struct {
	File   string
	Tensor string
	Err    error // wraps ErrCorrupt, ErrMissingTensor or ErrTensorShape
}

func (e *TensorError) Error() string {
	if e.Tensor == "" {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s: tensor %q: %v", e.File, e.Tensor, e.Err)
}

// Unwrap returns the cause.
func (e *TensorError) Unwrap() error { return e.Err }

// wrapf returns an error that wraps sentinel, with a formatted detail.
func wrapf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
