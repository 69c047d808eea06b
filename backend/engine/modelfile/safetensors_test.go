package modelfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// file builds a safetensors file from a header and a data section.
func file(header string, data int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), make([]byte, data)...)
}

func TestReadHeader_Valid(t *testing.T) {
	f := file(`{"__metadata__": {"format": "mlx"}, "a": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]},
		"s": {"dtype": "F32", "shape": [], "data_offsets": [12, 16]}, "e": {"dtype": "U32", "shape": [0, 4], "data_offsets": [16, 16]}}  `, 16)
	got, err := readHeader("x.safetensors", bytes.NewReader(f), int64(len(f)))
	if err != nil {
		t.Fatal(err)
	}
	start := int64(len(f) - 16)
	if a := got["a"]; a.dtype != BF16 || a.begin != start || a.end != start+12 || len(got) != 3 {
		t.Errorf("got %+v", got)
	}
}

func TestReadHeader_Corrupt(t *testing.T) {
	tests := []struct {
		name, tensor, want string
		file               []byte
	}{
		{"empty file", "", "too short", nil},
		{"length past the end", "", "header length", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...)},
		{"huge length", "", "header length", binary.LittleEndian.AppendUint64(nil, 1<<62)},
		{"not JSON", "", "not a JSON object", file(`{"a": `, 0)},
		{"JSON array", "", "not a JSON object", file(`[]`, 0)},
		{"unknown dtype", "a", "unknown dtype", file(`{"a": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}}`, 1)},
		{"no shape", "a", "no shape", file(`{"a": {"dtype": "U8", "data_offsets": [0, 1]}}`, 1)},
		{"one offset", "a", "data_offsets", file(`{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0]}}`, 1)},
		{"end before begin", "a", "outside", file(`{"a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 0]}}`, 1)},
		{"negative offset", "a", "outside", file(`{"a": {"dtype": "U8", "shape": [1], "data_offsets": [-1, 0]}}`, 1)},
		{"truncated data", "a", "truncated", file(`{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}`, 8)},
		{"size mismatch", "a", "needs 8 bytes", file(`{"a": {"dtype": "F16", "shape": [4], "data_offsets": [0, 6]}}`, 8)},
		{"negative dim", "a", "negative or too large", file(`{"a": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}}`, 0)},
		{"overflowing shape", "a", "negative or too large", file(`{"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}}`, 0)},
		{"entry not an object", "a", "bad entry", file(`{"a": 5}`, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readHeader("x.safetensors", bytes.NewReader(tt.file), int64(len(tt.file)))
			var te *TensorError
			if !errors.As(err, &te) || !errors.Is(err, ErrCorrupt) || te.File != "x.safetensors" || te.Tensor != tt.tensor {
				t.Fatalf("err = %#v, want a *TensorError for %q wrapping ErrCorrupt", err, tt.tensor)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to say %q", err, tt.want)
			}
		})
	}
}

// FuzzReadHeader: no input panics, and whatever is accepted lies inside
// the file with a byte length matching its shape.
func FuzzReadHeader(f *testing.F) {
	f.Add(file(`{"a": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]}}`, 12))
	f.Add(file(`{"__metadata__": {}, "w": {"dtype": "U32", "shape": [4, 1], "data_offsets": [0, 16]}, "s": {"dtype": "F16", "shape": [4], "data_offsets": [16, 24]}}`, 24))
	f.Add(file(`{"a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}`, 3))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		tensors, err := readHeader("fuzz", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		for name, info := range tensors {
			n := numElements(info.shape, 1<<62)
			if info.begin < 8 || info.end < info.begin || info.end > int64(len(data)) || n < 0 || n*elemSize(info.dtype) != info.end-info.begin {
				t.Fatalf("%s: accepted %+v in a file of %d bytes", name, info, len(data))
			}
		}
	})
}
