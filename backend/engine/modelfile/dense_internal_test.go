package modelfile

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Added for gemma3 (issue 16, dense).

// TestRenameNested: both layouts of a gemma3 checkpoint — mlx-lm/mlx-vlm's
// language_model.model.* and transformers' model.language_model.* — give
// the flat names, vision tensors are dropped, and a name that flattens
// onto another is an error.
func TestRenameNested(t *testing.T) {
	mc := &modelConfig{weightPrefix: nestedWeightPrefix}
	tests := []struct {
		name  string
		files []string
		want  map[string]string // flat name → stored name
	}{
		{"mlx layout", []string{"language_model.model.embed_tokens.weight", "language_model.lm_head.weight",
			"vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight", "multi_modal_projector.mm_input_projection_weight"},
			map[string]string{"model.embed_tokens.weight": "language_model.model.embed_tokens.weight", "lm_head.weight": "language_model.lm_head.weight"}},
		{"transformers layout", []string{"model.language_model.embed_tokens.weight", "lm_head.weight",
			"model.vision_tower.vision_model.post_layernorm.weight", "model.multi_modal_projector.mm_soft_emb_norm.weight"},
			map[string]string{"model.embed_tokens.weight": "model.language_model.embed_tokens.weight", "lm_head.weight": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh := shard{path: "model.safetensors", tensors: map[string]tensorInfo{}}
			for _, n := range tt.files {
				sh.tensors[n] = tensorInfo{dtype: BF16}
			}
			c := &catalog{shards: []shard{sh}}
			if err := c.renameNested(mc); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for name, info := range c.shards[0].tensors {
				got[name] = info.stored
				if _, ok := c.where[name]; !ok {
					t.Errorf("%s is not in the catalog's index", name)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("renamed (-want +got):\n%s", diff)
			}
		})
	}
	c := &catalog{shards: []shard{{path: "model.safetensors", tensors: map[string]tensorInfo{
		"model.norm.weight": {}, "language_model.model.norm.weight": {},
	}}}}
	if err := c.renameNested(mc); !errors.Is(err, ErrCorrupt) {
		t.Errorf("two tensors named model.norm.weight: err = %v, want ErrCorrupt", err)
	}
}
