package modelfile_test

import (
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
)

// writeModel writes spec's model into a new temp dir.
func writeModel(t *testing.T, spec testmodel.Spec) string {
	t.Helper()
	dir := t.TempDir()
	if err := testmodel.Write(dir, spec); err != nil {
		t.Fatal(err)
	}
	return dir
}

// openModel opens dir and closes it when the test ends.
func openModel(t *testing.T, dir string) *modelfile.Model {
	t.Helper()
	m, err := modelfile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// tinyConfig is the Config of testmodel's zero Spec.
func tinyConfig(f func(c *modelfile.Config)) modelfile.Config {
	bos := testmodel.BeginOfText
	c := modelfile.Config{Architecture: "llama", HiddenSize: 64, IntermediateSize: 128, NumLayers: 2, NumHeads: 4,
		NumKVHeads: 2, HeadDim: 16, VocabSize: testmodel.TokenizerSize, RMSNormEps: 1e-5, RopeTheta: 10000,
		MaxPositionEmbeddings: 2048, BOSTokenID: &bos, EOSTokenIDs: []int{testmodel.EOT, testmodel.IMEnd}}
	f(&c)
	return c
}

func quant(bits, group int) *modelfile.Quantization {
	return &modelfile.Quantization{GroupSize: group, Bits: bits}
}

var llama3 = &modelfile.RopeScaling{Type: "llama3", Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192}

func TestOpen_RoundTrip(t *testing.T) {
	qwen := func(c *modelfile.Config) {
		c.RopeTheta, c.EOSTokenIDs = 1e6, []int{testmodel.IMEnd, testmodel.EOT}
	}
	tests := []struct {
		name string
		spec testmodel.Spec
		want modelfile.Config
	}{
		{"llama bf16", testmodel.Spec{}, tinyConfig(func(c *modelfile.Config) {})},
		{"llama f32, llama3 rope, tied", testmodel.Spec{DType: modelfile.F32, RopeScaling: llama3, TieWordEmbeddings: true, RopeTheta: 500000},
			tinyConfig(func(c *modelfile.Config) { c.RopeScaling, c.TieWordEmbeddings, c.RopeTheta = llama3, true, 500000 })},
		{"llama 4-bit g64, untied: lm_head quantized", testmodel.Spec{Quantization: quant(4, 64)},
			tinyConfig(func(c *modelfile.Config) { c.Quantization = quant(4, 64) })},
		{"llama attention and MLP biases, 8-bit g32", testmodel.Spec{AttentionBias: true, MLPBias: true, Quantization: quant(8, 32)},
			tinyConfig(func(c *modelfile.Config) { c.AttentionBias, c.Quantization = true, quant(8, 32) })},
		{"mistral f16, 2 shards", testmodel.Spec{Architecture: "mistral", DType: modelfile.F16, Shards: 2, NumKVHeads: 4},
			tinyConfig(func(c *modelfile.Config) { c.Architecture, c.NumKVHeads = "mistral", 4 })},
		{"qwen2 4-bit g64, tied", testmodel.Spec{Architecture: "qwen2", Quantization: quant(4, 64), TieWordEmbeddings: true},
			tinyConfig(func(c *modelfile.Config) {
				qwen(c)
				c.Architecture, c.AttentionBias, c.TieWordEmbeddings, c.Quantization = "qwen2", true, true, quant(4, 64)
			})},
		{"qwen2 8-bit g32 f16, 2 shards", testmodel.Spec{Architecture: "qwen2", Quantization: quant(8, 32), DType: modelfile.F16, Shards: 2},
			tinyConfig(func(c *modelfile.Config) {
				qwen(c)
				c.Architecture, c.AttentionBias, c.Quantization = "qwen2", true, quant(8, 32)
			})},
		{"qwen3 head_dim 32, 4-bit g32 f32 scales, tied", testmodel.Spec{Architecture: "qwen3", HeadDim: 32, Quantization: quant(4, 32), DType: modelfile.F32, TieWordEmbeddings: true},
			tinyConfig(func(c *modelfile.Config) {
				qwen(c)
				c.Architecture, c.QKNorm, c.HeadDim, c.TieWordEmbeddings, c.Quantization = "qwen3", true, 32, true, quant(4, 32)
			})},
		{"qwen3 8-bit g128: only 128-wide inputs quantized", testmodel.Spec{Architecture: "qwen3", Quantization: quant(8, 128)},
			tinyConfig(func(c *modelfile.Config) {
				qwen(c)
				c.Architecture, c.QKNorm, c.Quantization = "qwen3", true, quant(8, 128)
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := openModel(t, writeModel(t, tt.spec))
			if diff := cmp.Diff(tt.want, m.Config()); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			checkShapes(t, m, tt.want)
			checkValues(t, m, tt.spec)
			if m.SizeOnDisk() <= 0 {
				t.Errorf("SizeOnDisk = %d", m.SizeOnDisk())
			}
		})
	}
}

// checkShapes checks a few tensors by hand, independently of Open's own
// checks.
func checkShapes(t *testing.T, m *modelfile.Model, c modelfile.Config) {
	t.Helper()
	dt := m.Config().Quantization
	wantShape := func(name string, shape ...int) {
		t.Helper()
		tensor, ok := m.Tensor(name)
		if !ok || !slices.Equal(tensor.Shape, shape) || len(tensor.Data) != tensor.NumElements()*tensor.DType.Size() {
			t.Errorf("%s: %v %v (%d bytes), want %v", name, ok, tensor.Shape, len(tensor.Data), shape)
		}
	}
	matrix := func(prefix string, out, in int) {
		t.Helper()
		if q, ok := m.LayerQuantization(prefix); ok {
			wantShape(prefix+".weight", out, in*q.Bits/32)
			wantShape(prefix+".scales", out, in/q.GroupSize)
			wantShape(prefix+".biases", out, in/q.GroupSize)
		} else {
			wantShape(prefix+".weight", out, in)
			if dt != nil && in%dt.GroupSize == 0 {
				t.Errorf("%s is not quantized", prefix)
			}
		}
	}
	matrix("model.embed_tokens", c.VocabSize, c.HiddenSize)
	matrix("model.layers.1.self_attn.k_proj", c.NumKVHeads*c.HeadDim, c.HiddenSize)
	matrix("model.layers.1.self_attn.o_proj", c.HiddenSize, c.NumHeads*c.HeadDim)
	matrix("model.layers.0.mlp.down_proj", c.HiddenSize, c.IntermediateSize)
	wantShape("model.norm.weight", c.HiddenSize)
	if _, ok := m.Tensor("lm_head.weight"); ok == c.TieWordEmbeddings {
		t.Errorf("lm_head.weight present = %v with tie_word_embeddings %v", ok, c.TieWordEmbeddings)
	}
	if !c.TieWordEmbeddings {
		matrix("lm_head", c.VocabSize, c.HiddenSize)
	}
	if c.AttentionBias {
		wantShape("model.layers.0.self_attn.q_proj.bias", c.NumHeads*c.HeadDim)
		wantShape("model.layers.1.self_attn.v_proj.bias", c.NumKVHeads*c.HeadDim)
	}
	if _, ok := m.Tensor("model.layers.0.self_attn.o_proj.bias"); ok != (c.AttentionBias && c.Architecture == "llama") {
		t.Errorf("o_proj.bias present = %v", ok)
	}
	if c.QKNorm {
		wantShape("model.layers.1.self_attn.k_norm.weight", c.HeadDim)
	}
}

// checkValues compares every stored tensor with testmodel's float32
// originals: float tensors exactly after rounding to their dtype,
// quantized ones within a step (MLX's clamping at a group's far end) plus
// what rounding the scale and bias to their storage type costs (q times
// the scale's error, plus the bias's).
func checkValues(t *testing.T, m *modelfile.Model, spec testmodel.Spec) {
	t.Helper()
	for _, name := range m.Names() {
		prefix, isWeight := strings.CutSuffix(name, ".weight")
		if strings.HasSuffix(name, ".scales") || strings.HasSuffix(name, ".biases") {
			continue
		}
		want, _, ok := testmodel.Original(spec, name)
		if !ok {
			t.Fatalf("%s: testmodel has no original", name)
		}
		tensor, _ := m.Tensor(name)
		if q, quantized := m.LayerQuantization(prefix); isWeight && quantized {
			scales, _ := m.Tensor(prefix + ".scales")
			biases, _ := m.Tensor(prefix + ".biases")
			got, err := modelfile.Dequantize(tensor, scales, biases, q.Bits, q.GroupSize)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := scales.Float32s()
			b, _ := biases.Float32s()
			rel := map[modelfile.DType]float64{modelfile.F32: 1e-7, modelfile.F16: 0x1p-10, modelfile.BF16: 0x1p-8}[scales.DType]
			for i := range want {
				sc, bi := math.Abs(float64(s[i/q.GroupSize])), math.Abs(float64(b[i/q.GroupSize]))
				if e := math.Abs(float64(got[i] - want[i])); e > sc*(1+rel*float64(int(1)<<q.Bits))+bi*rel+1e-6 {
					t.Fatalf("%s[%d] = %v, original %v", name, i, got[i], want[i])
				}
			}
			continue
		}
		got, err := tensor.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if r := roundTo(tensor.DType, want[i]); got[i] != r {
				t.Fatalf("%s[%d] = %v, want %v (original %v)", name, i, got[i], r, want[i])
			}
		}
	}
}

func roundTo(dt modelfile.DType, v float32) float32 {
	switch dt {
	case modelfile.F16:
		return modelfile.Float16ToFloat32(modelfile.Float32ToFloat16(v))
	case modelfile.BF16:
		return modelfile.BFloat16ToFloat32(modelfile.Float32ToBFloat16(v))
	}
	return v
}

func TestModel_LayerQuantizationMixed(t *testing.T) {
	m := openModel(t, writeModel(t, testmodel.Spec{Architecture: "qwen3", Quantization: quant(8, 128)}))
	for prefix, want := range map[string]bool{
		"model.embed_tokens": false, "model.layers.0.self_attn.q_proj": false, "model.layers.0.mlp.down_proj": true, "nope": false,
	} {
		if q, ok := m.LayerQuantization(prefix); ok != want || (ok && *quant(8, 128) != q) {
			t.Errorf("LayerQuantization(%s) = %v, %v; want quantized %v", prefix, q, ok, want)
		}
	}
}

func TestModel_Close(t *testing.T) {
	m, err := modelfile.Open(writeModel(t, testmodel.Spec{}))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for _, name := range m.Names() {
				if tensor, ok := m.Tensor(name); !ok || len(tensor.Data) == 0 {
					t.Errorf("%s: missing", name)
				}
			}
		})
	}
	wg.Wait()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Tensor("model.norm.weight"); ok {
		t.Error("Tensor after Close succeeded")
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestModel_Accessors(t *testing.T) {
	dir := writeModel(t, testmodel.Spec{RopeScaling: llama3})
	m := openModel(t, dir)
	if m.Dir() != dir {
		t.Errorf("Dir = %q", m.Dir())
	}
	c := m.Config()
	c.RopeScaling.Factor, c.EOSTokenIDs[0] = 1, 0
	if d := cmp.Diff(llama3, m.Config().RopeScaling); d != "" || m.Config().EOSTokenIDs[0] != testmodel.EOT {
		t.Errorf("Config returned shared state: %s", d)
	}
}
