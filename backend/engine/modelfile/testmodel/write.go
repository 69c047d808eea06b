package testmodel

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// writeWeights writes the safetensors file, or two shards and an index.
func (s Spec) writeWeights(dir string) error {
	defs := s.defs()
	if s.Shards == 1 {
		return s.writeShard(filepath.Join(dir, modelfile.WeightsFile), defs)
	}
	split, total := splitDefs(s, defs)
	weightMap := map[string]string{}
	for i, part := range [][]tensorDef{defs[:split], defs[split:]} {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, 2)
		if err := s.writeShard(filepath.Join(dir, name), part); err != nil {
			return err
		}
		for _, d := range part {
			for _, t := range s.storedOf(d) {
				weightMap[t.name] = name
			}
		}
	}
	index := map[string]any{"metadata": map[string]any{"total_size": total}, "weight_map": weightMap}
	return writeJSON(filepath.Join(dir, modelfile.WeightsIndexFile), index)
}

// splitDefs finds where the data passes half its total size, leaving at
// least one tensor in each shard.
func splitDefs(s Spec, defs []tensorDef) (int, int64) {
	sizes := make([]int64, len(defs))
	var total, sum int64
	for i, d := range defs {
		for _, t := range s.storedOf(d) {
			sizes[i] += t.bytes()
		}
		total += sizes[i]
	}
	for i := range defs[:len(defs)-1] {
		if sum += sizes[i]; 2*sum >= total {
			return i + 1, total
		}
	}
	return len(defs) - 1, total
}

// writeShard writes one safetensors file: the 8-byte header length, the
// JSON header padded with spaces to a multiple of 8, then each tensor's
// data in order, generated and converted a row at a time.
func (s Spec) writeShard(path string, defs []tensorDef) (err error) {
	header := map[string]any{"__metadata__": map[string]string{"format": "mlx"}}
	var offset int64
	for _, d := range defs {
		for _, t := range s.storedOf(d) {
			header[t.name] = map[string]any{"dtype": t.dtype, "shape": t.shape, "data_offsets": []int64{offset, offset + t.bytes()}}
			offset += t.bytes()
		}
	}
	hdr, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(hdr))))
	w.Write(hdr)
	for _, d := range defs {
		if err := s.writeData(w, d); err != nil {
			return fmt.Errorf("%s: %s: %w", path, d.name, err)
		}
	}
	return w.Flush()
}

// writeData writes one def's tensors in storedOf's order. A quantized
// matrix's packed rows go straight out; its scales and biases (1/8 to
// 1/32 of that size) wait in memory until the weight is written.
func (s Spec) writeData(w *bufio.Writer, d tensorDef) error {
	buf := make([]byte, 0, 4*d.cols)
	if s.mxfp4(d) { // issue 16
		return s.writeMXFP4(w, d)
	}
	if !s.quantized(d) {
		for row := range s.rows(d) {
			buf = buf[:0]
			for _, v := range row {
				buf = modelfile.AppendFloat(buf, s.DType, v)
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	}
	q := s.Quantization
	groups := d.cols / q.GroupSize
	packed, scales, biases := make([]uint32, d.cols*q.Bits/32), make([]float32, groups), make([]float32, groups)
	var scaleBytes, biasBytes []byte
	for row := range s.rows(d) {
		if err := modelfile.QuantizeRow(row, q.Bits, q.GroupSize, packed, scales, biases); err != nil {
			return err
		}
		buf = buf[:0]
		for _, word := range packed {
			buf = binary.LittleEndian.AppendUint32(buf, word)
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		for g := range groups {
			scaleBytes = modelfile.AppendFloat(scaleBytes, s.DType, scales[g])
			biasBytes = modelfile.AppendFloat(biasBytes, s.DType, biases[g])
		}
	}
	w.Write(scaleBytes)
	_, err := w.Write(biasBytes)
	return err
}

// writeJSON writes v as indented JSON.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
