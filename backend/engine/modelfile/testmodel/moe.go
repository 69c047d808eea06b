package testmodel

import (
	"bufio"
	"encoding/binary"
	"fmt"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// Mixture-of-experts models (issue 16): qwen3_moe, mixtral and gpt_oss
// with their experts stacked [experts, out, in] as mlx-lm stores them.

func moeArch(a string) bool { return a == "qwen3_moe" || a == "mixtral" || a == "gpt_oss" }

// moeDefaults fills the MoE fields of an MoE architecture's Spec.
func (s Spec) moeDefaults() Spec {
	if !moeArch(s.Architecture) {
		return s
	}
	if s.NumExperts == 0 {
		s.NumExperts = 4
	}
	if s.ExpertsPerTok == 0 {
		s.ExpertsPerTok = 2
	}
	if s.MoEIntermediateSize == 0 {
		s.MoEIntermediateSize = s.IntermediateSize / 2
	}
	if s.Architecture == "gpt_oss" {
		s.AttentionBias = true
		if s.SlidingWindow == 0 {
			s.SlidingWindow = 128
		}
		if s.RopeScaling == nil {
			s.RopeScaling = &modelfile.RopeScaling{Type: "yarn", Factor: 32, BetaFast: 32, BetaSlow: 1, OriginalMaxPositionEmbeddings: 4096, NoTruncate: true}
		}
	}
	return s
}

// validateMoE rejects MoE fields Write cannot express.
func (s Spec) validateMoE() []error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	if !moeArch(s.Architecture) {
		check(s.NumExperts == 0 && !s.ExpertsMXFP4, "experts are for qwen3_moe, mixtral and gpt_oss")
		check(s.Quantization == nil || s.Quantization.Mode == "", "quantization mode %q is for the MoE architectures", modeOf(s.Quantization))
		return errs
	}
	check(s.ExpertsPerTok > 0 && s.ExpertsPerTok <= s.NumExperts, "ExpertsPerTok %d of %d experts", s.ExpertsPerTok, s.NumExperts)
	check(!s.ExpertsMXFP4 || (s.Quantization != nil && s.Architecture == "gpt_oss"), "ExpertsMXFP4 is for gpt_oss with a Quantization")
	if q := s.Quantization; q != nil && q.Mode == "mxfp4" {
		check(q.GroupSize == 32 && q.Bits == 4 && s.HiddenSize%32 == 0 && s.IntermediateSize%32 == 0 && (s.NumHeads*s.HeadDim)%32 == 0,
			"mxfp4 quantization needs group 32, 4 bits and sizes that are multiples of 32")
	}
	check(!s.ExpertsMXFP4 || (s.HiddenSize%32 == 0 && s.expertInter()%32 == 0), "mxfp4 experts need sizes that are multiples of 32")
	check(s.Architecture == "qwen3_moe" || s.MLPOnlyLayers == 0, "MLPOnlyLayers is for qwen3_moe")
	check(s.NumLayers <= 64 || s.MLPOnlyLayers == 0, "MLPOnlyLayers covers 64 layers")
	check(s.Architecture != "gpt_oss" || s.HeadDim*s.NumHeads != 0, "gpt_oss needs heads")
	return errs
}

// expertInter is each expert's intermediate size.
func (s Spec) expertInter() int {
	if s.Architecture == "qwen3_moe" {
		return s.MoEIntermediateSize
	}
	return s.IntermediateSize
}

// sparse reports whether layer i has experts.
func (s Spec) sparse(i int) bool {
	return moeArch(s.Architecture) && (i >= 64 || s.MLPOnlyLayers&(1<<i) == 0)
}

// moeDefs are a sparse layer's router and experts (and gpt-oss's sinks,
// which sit in the attention).
func (s Spec) moeDefs(p string) []tensorDef {
	h, inter, n := s.HiddenSize, s.expertInter(), s.NumExperts
	router, ex := "mlp.gate", "mlp.switch_mlp."
	switch s.Architecture {
	case "mixtral":
		router, ex = "block_sparse_moe.gate", "block_sparse_moe.switch_mlp."
	case "gpt_oss":
		router, ex = "mlp.router", "mlp.experts."
	}
	defs := []tensorDef{{p + router, matrix, n, h, 0},
		{p + ex + "gate_proj", matrix, inter, h, n},
		{p + ex + "up_proj", matrix, inter, h, n},
		{p + ex + "down_proj", matrix, h, inter, n}}
	if s.Architecture == "gpt_oss" {
		defs = append(defs, tensorDef{p + router + ".bias", bias, 1, n, 0},
			tensorDef{p + ex + "gate_proj.bias", bias, 1, inter, n},
			tensorDef{p + ex + "up_proj.bias", bias, 1, inter, n},
			tensorDef{p + ex + "down_proj.bias", bias, 1, h, n},
			tensorDef{p + "self_attn.sinks", bias, 1, s.NumHeads, 0})
	}
	return defs
}

// expertShape is the stored shape of an expert stack or its biases.
func expertShape(d tensorDef) []int {
	if d.kind == matrix {
		return []int{d.experts, d.rows, d.cols}
	}
	return []int{d.experts, d.cols}
}

// mxfp4 reports whether d is stored in mxfp4: an expert stack of
// ExpertsMXFP4, or any matrix of a Quantization of mode "mxfp4".
func (s Spec) mxfp4(d tensorDef) bool {
	if d.kind != matrix {
		return false
	}
	return (s.ExpertsMXFP4 && d.experts > 0) || (s.Quantization != nil && s.Quantization.Mode == "mxfp4")
}

// storedExperts lists the tensors of an expert stack or its biases.
func (s Spec) storedExperts(d tensorDef) []stored {
	n, rows, cols := d.experts, d.rows, d.cols
	switch {
	case d.kind != matrix:
		return []stored{{d.name, s.DType, expertShape(d)}}
	case s.mxfp4(d):
		return []stored{{d.name + ".weight", modelfile.U32, []int{n, rows, cols / 8}}, {d.name + ".scales", modelfile.U8, []int{n, rows, cols / 32}}}
	case !s.quantized(d):
		return []stored{{d.name + ".weight", s.DType, expertShape(d)}}
	}
	q := s.Quantization
	return []stored{
		{d.name + ".weight", modelfile.U32, []int{n, rows, cols * q.Bits / 32}},
		{d.name + ".scales", s.DType, []int{n, rows, cols / q.GroupSize}},
		{d.name + ".biases", s.DType, []int{n, rows, cols / q.GroupSize}},
	}
}

// writeMXFP4 writes an mxfp4 expert stack: the packed rows, then the
// scales.
func (s Spec) writeMXFP4(w *bufio.Writer, d tensorDef) error {
	packed, scales := make([]uint32, d.cols/8), make([]byte, d.cols/32)
	var all []byte
	buf := make([]byte, 0, d.cols/2)
	for row := range s.rows(d) {
		if err := modelfile.QuantizeMXFP4Row(row, packed, scales); err != nil {
			return err
		}
		buf = buf[:0]
		for _, word := range packed {
			buf = binary.LittleEndian.AppendUint32(buf, word)
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		all = append(all, scales...)
	}
	_, err := w.Write(all)
	return err
}

// moeConfig adds the MoE fields of config.json as transformers writes
// them for each architecture.
func (s Spec) moeConfig(c map[string]any) {
	if !moeArch(s.Architecture) {
		return
	}
	c["num_experts_per_tok"] = s.ExpertsPerTok
	switch s.Architecture {
	case "qwen3_moe":
		c["num_experts"], c["moe_intermediate_size"], c["decoder_sparse_step"] = s.NumExperts, s.MoEIntermediateSize, 1
		c["mlp_only_layers"], c["norm_topk_prob"] = s.denseLayers(), true
	case "mixtral":
		c["num_local_experts"] = s.NumExperts
		c["sliding_window"] = nil
		if s.SlidingWindow > 0 {
			c["sliding_window"] = s.SlidingWindow
		}
	case "gpt_oss":
		c["num_local_experts"], c["experts_per_token"], c["swiglu_limit"] = s.NumExperts, s.ExpertsPerTok, 7.0
		c["attention_bias"], c["sliding_window"] = true, s.SlidingWindow
		types := make([]string, s.NumLayers)
		for i := range types {
			types[i] = map[bool]string{true: "sliding_attention", false: "full_attention"}[i%2 == 0]
		}
		c["layer_types"] = types
		if rs := s.RopeScaling; rs != nil && rs.Type == "yarn" {
			c["rope_scaling"] = map[string]any{"rope_type": "yarn", "factor": rs.Factor, "beta_fast": rs.BetaFast, "beta_slow": rs.BetaSlow,
				"original_max_position_embeddings": rs.OriginalMaxPositionEmbeddings, "truncate": !rs.NoTruncate}
		}
		if s.ExpertsMXFP4 {
			q := c["quantization"].(map[string]any)
			for i := range s.NumLayers {
				for _, proj := range []string{"gate_proj", "up_proj", "down_proj"} {
					q[fmt.Sprintf("model.layers.%d.mlp.experts.%s", i, proj)] = map[string]any{"group_size": 32, "bits": 4, "mode": "mxfp4"}
				}
			}
		}
	}
}

// denseLayers lists the layers MLPOnlyLayers marks.
func (s Spec) denseLayers() []int {
	dense := []int{}
	for i := range min(s.NumLayers, 64) {
		if s.MLPOnlyLayers&(1<<i) != 0 {
			dense = append(dense, i)
		}
	}
	return dense
}

func modeOf(q *modelfile.Quantization) string {
	if q == nil {
		return ""
	}
	return q.Mode
}
