package testmodel_test

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
)

func TestWrite_MoEBadSpec(t *testing.T) {
	tests := map[string]testmodel.Spec{
		"experts on llama":        {NumExperts: 4},
		"mxfp4 without quant":     {Architecture: "gpt_oss", ExpertsMXFP4: true},
		"mxfp4 on qwen3_moe":      {Architecture: "qwen3_moe", ExpertsMXFP4: true, Quantization: &modelfile.Quantization{GroupSize: 32, Bits: 4}},
		"top k above experts":     {Architecture: "mixtral", NumExperts: 2, ExpertsPerTok: 3},
		"mlp only layers mixtral": {Architecture: "mixtral", MLPOnlyLayers: 1},
		"mlp bias gpt_oss":        {Architecture: "gpt_oss", MLPBias: true},
		"mxfp4 llama":             {Quantization: &modelfile.Quantization{GroupSize: 32, Bits: 4, Mode: "mxfp4"}},
		"mxfp4 8 bits":            {Architecture: "gpt_oss", Quantization: &modelfile.Quantization{GroupSize: 32, Bits: 8, Mode: "mxfp4"}},
	}
	for name, spec := range tests {
		if err := testmodel.Write(t.TempDir(), spec); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The written MoE models open with the configuration the Spec describes,
// and Original gives the experts' stacked shape.
func TestWrite_MoEOpens(t *testing.T) {
	tests := []struct {
		spec testmodel.Spec
		want modelfile.MoE
	}{
		{testmodel.Spec{Architecture: "qwen3_moe", NumLayers: 3, MLPOnlyLayers: 1 << 2},
			modelfile.MoE{Experts: 4, TopK: 2, IntermediateSize: 64, NormTopKProb: true, DenseLayers: []int{2}}},
		{testmodel.Spec{Architecture: "mixtral", NumExperts: 3, ExpertsPerTok: 1},
			modelfile.MoE{Experts: 3, TopK: 1, IntermediateSize: 128, NormTopKProb: true}},
		{testmodel.Spec{Architecture: "gpt_oss", ExpertsMXFP4: true, Quantization: &modelfile.Quantization{GroupSize: 64, Bits: 4}, Shards: 2},
			modelfile.MoE{Experts: 4, TopK: 2, IntermediateSize: 128, NormTopKProb: true, SwiGLULimit: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.spec.Architecture, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "m")
			if err := testmodel.Write(dir, tt.spec); err != nil {
				t.Fatal(err)
			}
			m, err := modelfile.Open(dir)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer m.Close()
			if d := cmp.Diff(&tt.want, m.Config().MoE); d != "" {
				t.Errorf("MoE config (-want +got):\n%s", d)
			}
			router, experts := "mlp.gate", "mlp.switch_mlp."
			switch tt.spec.Architecture {
			case "mixtral":
				router, experts = "block_sparse_moe.gate", "block_sparse_moe.switch_mlp."
			case "gpt_oss":
				router, experts = "mlp.router", "mlp.experts."
			}
			_, shape, ok := testmodel.Original(tt.spec, "model.layers.0."+experts+"down_proj.weight")
			if want := []int{tt.want.Experts, 64, tt.want.IntermediateSize}; !ok || !cmp.Equal(shape, want) {
				t.Errorf("Original(down_proj) shape %v, %v; want %v", shape, ok, want)
			}
			if _, ok := m.Tensor("model.layers.0." + router + ".weight"); !ok {
				t.Errorf("no router weight")
			}
		})
	}
}
