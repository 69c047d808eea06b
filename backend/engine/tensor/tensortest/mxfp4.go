package tensortest

import (
	"encoding/binary"
	"math"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// fp4Values are the E2M1 values of the 16 codes (MLX's FP4 lookup table).
var fp4Values = [16]float64{0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6}

// MXFP4 is a stack of matrices in MLX's mxfp4 quantization and the values
// it stands for.
type MXFP4 struct {
	W, Scales modelfile.Tensor // U32 [experts, rows, cols/8], U8 [experts, rows, cols/32]
	Values    []float64        // the dequantized values, row-major
}

// QuantizeMXFP4 quantizes experts stacked rows×cols matrices (v holds
// them one after another) with modelfile.QuantizeMXFP4Row (MLX's
// quantize(mode="mxfp4")). name is the weight's ("x.weight"); the scales
// are "x.scales". Values are decoded here, independently of the
// backends, by DequantizeMXFP4.
func QuantizeMXFP4(name string, v []float32, experts, rows, cols int) MXFP4 {
	words := make([]uint32, len(v)/8)
	scales := make([]byte, len(v)/32)
	for r := range experts * rows {
		err := modelfile.QuantizeMXFP4Row(v[r*cols:(r+1)*cols], words[r*cols/8:(r+1)*cols/8], scales[r*cols/32:(r+1)*cols/32])
		if err != nil {
			panic(err)
		}
	}
	base := name[:len(name)-len(".weight")]
	m := MXFP4{
		W:      modelfile.Tensor{Name: name, DType: modelfile.U32, Shape: []int{experts, rows, cols / 8}, Data: u32Bytes(words)},
		Scales: modelfile.Tensor{Name: base + ".scales", DType: modelfile.U8, Shape: []int{experts, rows, cols / 32}, Data: scales},
	}
	m.Values = DequantizeMXFP4(m.W, m.Scales)
	return m
}

// DequantizeMXFP4 is value(code)·2^(scale−127) for every element.
func DequantizeMXFP4(w, scales modelfile.Tensor) []float64 {
	out := make([]float64, len(w.Data)*2)
	for i := range out {
		code := binary.LittleEndian.Uint32(w.Data[4*(i/8):]) >> (4 * (i % 8)) & 15
		out[i] = fp4Values[code] * math.Ldexp(1, int(scales.Data[i/32])-127)
	}
	return out
}

// Add puts the tensors in w.
func (m MXFP4) Add(w Weights) {
	w[m.W.Name], w[m.Scales.Name] = m.W, m.Scales
}
