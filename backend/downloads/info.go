package downloads

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// Info is what modelbar can tell of a Hub model before downloading it.
type Info struct {
	Repo          string `json:"repo"`
	Revision      string `json:"revision"`
	Commit        string `json:"commit"`
	Files         []File `json:"files"`
	TotalBytes    int64  `json:"total_bytes"`
	Architecture  string `json:"architecture"`
	Quantization  string `json:"quantization"`
	Params        string `json:"params"`
	ContextLength int    `json:"context_length"`
	// Supported and Reason are the engine's own check (modelfile's
	// config validation) run on the repo's config.json.
	Supported bool   `json:"supported"`
	Reason    string `json:"reason"`
	// Fits: NeededBytes = the weights + KVAllowanceBytes <= BudgetBytes.
	Fits             bool  `json:"fits"`
	NeededBytes      int64 `json:"needed_bytes"`
	KVAllowanceBytes int64 `json:"kv_allowance_bytes"`
	BudgetBytes      int64 `json:"budget_bytes"`
	FreeDiskBytes    int64 `json:"free_disk_bytes"` // where the cache is; -1 when unknown
	Downloaded       bool  `json:"downloaded"`      // this commit's snapshot is in the cache
	Gated            bool  `json:"gated"`
}

// KVAllowanceTokens is the context the memory check allows for: the KV
// cache of this many tokens (or the model's context length, when shorter)
// at 16 bits, i.e. 2 (K and V) × layers × KV heads × head dim × tokens × 2
// bytes. A longer conversation needs more; this is what a chat needs.
const KVAllowanceTokens = 4096

// Info looks a repo up on the Hub and says what it is, whether the engine
// can run it and whether it fits the memory budget, without downloading
// more than its config.json.
func (m *Manager) Info(ctx context.Context, repo, revision string) (Info, error) {
	if revision == "" {
		revision = "main"
	}
	if err := CheckRepo(repo, revision); err != nil {
		return Info{}, err
	}
	p, err := m.opts.Hub.Plan(ctx, repo, revision)
	if err != nil {
		return Info{}, err
	}
	in := Info{Repo: repo, Revision: revision, Commit: p.Commit, Files: p.Files, TotalBytes: p.TotalBytes(), Gated: p.Gated,
		Params: ParamsFromName(repo), Quantization: QuantFromName(repo), FreeDiskBytes: diskFree(m.opts.CacheDir)}
	if in.Files == nil {
		in.Files = []File{}
	}
	var weights int64
	for _, f := range weightFiles(p.Files) {
		weights += f.Size
	}
	cfg, reason := checkConfig(p.Config)
	if p.Denied != nil {
		reason = p.Denied.Message
	}
	in.Supported, in.Reason = reason == "" && weights > 0, reason
	if weights == 0 && reason == "" {
		in.Reason = "no MLX weights (*.safetensors) in this repo: pick an MLX conversion, e.g. from mlx-community"
	}
	if cfg != nil {
		in.Architecture, in.ContextLength = cfg.Architecture, cfg.MaxPositionEmbeddings
		if q := cfg.Quantization; q != nil {
			in.Quantization = fmt.Sprintf("%dbit g%d", q.Bits, q.GroupSize)
		}
		in.KVAllowanceBytes = kvAllowance(*cfg)
	}
	if in.Architecture == "" {
		in.Architecture = modelType(p.Config)
	}
	in.NeededBytes = weights + in.KVAllowanceBytes
	if m.opts.Budget != nil {
		in.BudgetBytes = m.opts.Budget()
	}
	in.Fits = in.NeededBytes > 0 && in.NeededBytes <= in.BudgetBytes
	if m.opts.CacheDir != "" && p.Commit != "" {
		snap := filepath.Join(m.opts.CacheDir, "models--"+strings.ReplaceAll(repo, "/", "--"), "snapshots", p.Commit)
		_, err := os.Stat(filepath.Join(snap, modelfile.ConfigFile))
		in.Downloaded = err == nil
	}
	return in, nil
}

// Search searches the Hub, adding params and quantization from each name.
func (m *Manager) Search(ctx context.Context, q SearchQuery) ([]Summary, error) {
	out, err := m.opts.Hub.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Params, out[i].Quantization = ParamsFromName(out[i].Repo), QuantFromName(out[i].Repo)
	}
	return out, nil
}

// checkConfig runs the engine's own config check (modelfile.ReadConfig,
// which Discover uses to decide a model is usable) on a fetched
// config.json; the reason names no temporary path.
func checkConfig(raw []byte) (*modelfile.Config, string) {
	if len(raw) == 0 {
		return nil, "the repo has no config.json"
	}
	dir, err := os.MkdirTemp("", "modelbar-config-")
	if err != nil {
		return nil, "could not check config.json: " + err.Error()
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, modelfile.ConfigFile), raw, 0o600); err != nil {
		return nil, "could not check config.json: " + err.Error()
	}
	cfg, err := modelfile.ReadConfig(dir)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), filepath.Join(dir, modelfile.ConfigFile), modelfile.ConfigFile)
		msg = strings.ReplaceAll(msg, dir, "the repo")
		if errors.Is(err, modelfile.ErrUnsupported) {
			return nil, "modelbar cannot run it yet: " + msg
		}
		return nil, msg
	}
	return &cfg, ""
}

// kvAllowance is the KV cache of KVAllowanceTokens (or the context
// length, when shorter) at 16 bits.
func kvAllowance(c modelfile.Config) int64 {
	tokens := int64(KVAllowanceTokens)
	if c.MaxPositionEmbeddings > 0 && int64(c.MaxPositionEmbeddings) < tokens {
		tokens = int64(c.MaxPositionEmbeddings)
	}
	return 2 * int64(c.NumLayers) * int64(c.NumKVHeads) * int64(c.HeadDim) * tokens * 2
}

var (
	paramsRe = regexp.MustCompile(`(?i)(?:^|[-_./])(\d+(?:\.\d+)?)([BM])(?:$|[-_.])`)
	quantRe  = regexp.MustCompile(`(?i)(?:^|[-_.])(\d+)-?bits?(?:$|[-_.])|(?:^|[-_.])(bf16|fp16|f16|fp32|f32)(?:$|[-_.])`)
)

// ParamsFromName reads the parameter count from a repo name
// ("Qwen2.5-0.5B-Instruct-4bit" → "0.5B"); "" when the name does not say.
func ParamsFromName(repo string) string {
	_, name, _ := strings.Cut(repo, "/")
	if m := paramsRe.FindStringSubmatch(name); m != nil {
		return m[1] + strings.ToUpper(m[2])
	}
	return ""
}

// QuantFromName reads the quantization from a repo name ("...-4bit" →
// "4bit", "...-bf16" → "bf16"); "" when the name does not say.
func QuantFromName(repo string) string {
	_, name, _ := strings.Cut(repo, "/")
	m := quantRe.FindStringSubmatch(name)
	switch {
	case m == nil:
		return ""
	case m[1] != "":
		return m[1] + "bit"
	}
	return strings.ToLower(m[2])
}

func isWeights(path string) bool { return strings.HasSuffix(path, ".safetensors") }

var modelTypeRe = regexp.MustCompile(`"model_type"\s*:\s*"([^"]*)"`)

// modelType is config.json's model_type when the engine's check could not
// read the config (an architecture it does not know).
func modelType(raw []byte) string {
	m := modelTypeRe.FindSubmatch(raw)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// LocalModel is a model on disk to remove, as the engine lists it.
type LocalModel struct {
	ID        string
	InHFCache bool   // in the Hugging Face cache (else the models dir)
	Path      string // its directory (for the cache, the snapshot)
	Revision  string // the cache snapshot's commit
}

// RemoveModel deletes a model from the disk: a cache snapshot through the
// Hub's cache layout (blobs another snapshot still links stay), or a
// directory of the models dir, never anything outside those two. Unloading
// it first is the caller's part. The engine rescans afterwards.
func (m *Manager) RemoveModel(ctx context.Context, lm LocalModel) error {
	if lm.InHFCache {
		if lm.Revision == "" {
			return errorf(Conflict, "%s has no snapshot in the Hugging Face cache to remove", lm.ID)
		}
		if err := m.opts.Hub.Remove(ctx, lm.ID, lm.Revision); err != nil {
			return fmt.Errorf("remove %s from the Hugging Face cache: %w", lm.ID, err)
		}
	} else {
		rel, err := filepath.Rel(m.opts.ModelsDir, lm.Path)
		if m.opts.ModelsDir == "" || err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return errorf(Conflict, "%s is not in modelbar's models dir or the Hugging Face cache: remove it by hand", lm.ID)
		}
		if err := os.RemoveAll(lm.Path); err != nil {
			return fmt.Errorf("remove %s: %w", lm.Path, err)
		}
	}
	if m.opts.Rescan != nil {
		m.opts.Rescan()
	}
	return nil
}
