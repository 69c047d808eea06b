package modelfile

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// maxHeaderSize bounds a safetensors JSON header, as the reference
// implementation does (100 MB), so a corrupt length cannot exhaust memory.
const maxHeaderSize = 100 << 20

// tensorInfo is one header entry, with offsets made absolute in the file.
type tensorInfo struct {
	dtype      DType
	shape      []int
	begin, end int64
	stored     string // the name in the file when the catalog renamed it (gemma3's language_model.)
}

// elemSize is the byte size of a safetensors dtype, or 0 when unknown. It
// knows the dtypes modelfile does not use too, so that a stray tensor of
// another type does not make a file unreadable.
func elemSize(d DType) int64 {
	if n := d.Size(); n > 0 {
		return int64(n)
	}
	switch d {
	case "BOOL", "I8", "F8_E4M3", "F8_E5M2":
		return 1
	case "I16", "U16":
		return 2
	case "F64", "I64", "U64":
		return 8
	}
	return 0
}

// numElements is the product of a shape, or -1 when a dimension is
// negative or the product overflows limit.
func numElements(shape []int, limit int64) int64 {
	n := int64(1)
	for _, d := range shape {
		if d < 0 || (d > 0 && n > limit/int64(d)) {
			return -1
		}
		n *= int64(d)
	}
	return n
}

// readHeader reads and validates the header of a safetensors file of the
// given size: an 8-byte little-endian length, then that many bytes of JSON
// mapping tensor names to {dtype, shape, data_offsets} (offsets relative
// to the end of the header; "__metadata__" is skipped). Every tensor must
// have a known dtype and lie inside the file, its byte length matching its
// shape. Errors are *TensorErrors naming path and, where it applies, the
// tensor; they wrap ErrCorrupt.
func readHeader(path string, r io.ReaderAt, size int64) (map[string]tensorInfo, error) {
	corrupt := func(tensor, format string, args ...any) error {
		return &TensorError{File: path, Tensor: tensor, Err: wrapf(ErrCorrupt, format, args...)}
	}
	var lenBuf [8]byte
	if size < 8 {
		return nil, corrupt("", "file of %d bytes is too short for a header", size)
	}
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeaderSize || int64(n) > size-8 {
		return nil, corrupt("", "header length %d exceeds the file's %d bytes (or the %d limit)", n, size, maxHeaderSize)
	}
	if n < 2 {
		return nil, corrupt("", "header length %d is too short for a JSON object", n)
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, 8); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(buf, &entries); err != nil || entries == nil {
		return nil, corrupt("", "header is not a JSON object: %v", err)
	}
	dataStart := 8 + int64(n)
	tensors := make(map[string]tensorInfo, len(entries))
	for _, name := range sortedKeys(entries) {
		if name == "__metadata__" {
			continue
		}
		info, err := parseEntry(entries[name], size-dataStart)
		if err != nil {
			return nil, corrupt(name, "%v", err)
		}
		info.begin += dataStart
		info.end += dataStart
		tensors[name] = info
	}
	return tensors, nil
}

// parseEntry validates one header entry against the data section's size.
func parseEntry(raw json.RawMessage, dataSize int64) (tensorInfo, error) {
	var e struct {
		DType   DType   `json:"dtype"`
		Shape   *[]int  `json:"shape"`
		Offsets []int64 `json:"data_offsets"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return tensorInfo{}, fmt.Errorf("bad entry: %v", err)
	}
	size := elemSize(e.DType)
	switch {
	case size == 0:
		return tensorInfo{}, fmt.Errorf("unknown dtype %q", e.DType)
	case e.Shape == nil:
		return tensorInfo{}, fmt.Errorf("no shape")
	case len(e.Offsets) != 2:
		return tensorInfo{}, fmt.Errorf("data_offsets %v is not [begin, end]", e.Offsets)
	}
	begin, end := e.Offsets[0], e.Offsets[1]
	if begin < 0 || end < begin || end > dataSize {
		return tensorInfo{}, fmt.Errorf("data_offsets [%d, %d] outside the data section of %d bytes (file truncated?)", begin, end, dataSize)
	}
	shape := *e.Shape
	count := numElements(shape, math.MaxInt64/size)
	if count < 0 {
		return tensorInfo{}, fmt.Errorf("shape %v is negative or too large", shape)
	}
	if count*size != end-begin {
		return tensorInfo{}, fmt.Errorf("%s %v needs %d bytes, data_offsets give %d", e.DType, shape, count*size, end-begin)
	}
	return tensorInfo{dtype: e.DType, shape: shape, begin: begin, end: end}, nil
}
