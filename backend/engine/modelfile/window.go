package modelfile

import "encoding/json"

// windowRule is how an architecture's config.json says which layers use
// sliding-window attention. Every rule ends in Config.LayerWindows, where
// a layer with window w lets the query at position p see the keys j with
// p−w < j ≤ p: transformers' sliding_window_overlay (kv_idx > q_idx −
// sliding_window), which is also mlx-lm's create_causal_mask and
// RotatingKVCache of max_size sliding_window. In every rule an explicit
// layer_types wins over the rule's default layer pattern.
type windowRule int

const (
	// windowsLayerTypes (llama): layer_types alone says which layers slide,
	// by sliding_window positions, as mlx-lm's llama.py does; without
	// layer_types no layer does.
	windowsLayerTypes windowRule = iota
	// windowsEvery (mistral, mixtral, phi3): every layer slides by
	// sliding_window when it is set (null or absent: no window;
	// transformers' MistralConfig would default an absent one to 4096, but
	// Mistral's own configs always write it, and null since v0.2).
	windowsEvery
	// windowsQwen (qwen2, qwen3, qwen3_moe, smollm3): transformers'
	// Qwen2Config and Qwen3Config. sliding_window (default 4096) counts
	// only when use_sliding_window is true; layer_types, when absent,
	// makes layers i ≥ max_window_layers (default 28) sliding. A sliding
	// layer without an effective sliding_window attends to everything, as
	// in transformers.
	windowsQwen
	// windowsAlternate (gpt_oss): transformers' GptOssConfig. Layers
	// alternate, sliding first; sliding_window defaults to 128.
	windowsAlternate
	// windowsPattern (gemma3): transformers' Gemma3TextConfig. Every
	// sliding_window_pattern-th layer (default 6) is global, the others
	// slide; sliding_window defaults to 4096.
	windowsPattern
)

// windows fills LayerWindows from sliding_window, use_sliding_window,
// max_window_layers, sliding_window_pattern and layer_types by the
// architecture's rule. It returns nil when no layer has a window.
func (f *fields) windows(rule windowRule, raw *rawConfig, layers int) []int {
	size := f.slidingWindow(raw)
	types := raw.LayerTypes
	if types != nil && len(types) != layers {
		f.fail("layer_types", ErrInvalidConfig, "%d entries for %d layers", len(types), layers)
		return nil
	}
	for i, t := range types {
		if t != "full_attention" && t != "sliding_attention" {
			f.fail("layer_types", ErrUnsupported, "layer %d is %q (only full_attention and sliding_attention)", i, t)
			return nil
		}
	}
	switch rule {
	case windowsEvery:
		if types == nil && size > 0 {
			types = fullEvery(layers, 0)
		}
	case windowsQwen:
		if !raw.UseSlidingWindow {
			size = 0
		} else if raw.SlidingWindow == nil { // absent; null means none
			size = 4096
		}
		if types == nil && size > 0 {
			first := f.positive("max_window_layers", raw.MaxWindowLayers, 28)
			types = repeat("full_attention", layers)
			for i := first; i < layers; i++ {
				types[i] = "sliding_attention"
			}
		}
	case windowsAlternate:
		size = defaultWindow(raw, size, 128)
		if types == nil {
			types = fullEvery(layers, 2)
		}
	case windowsPattern:
		size = defaultWindow(raw, size, 4096)
		pattern := f.positive("sliding_window_pattern", raw.SlidingWindowPattern, 6)
		if types == nil && pattern > 0 {
			types = fullEvery(layers, pattern)
		}
	}
	return f.layerWindows(rule, types, size)
}

// fullEvery is the layer types of n layers in which every k-th layer
// (counting from 1) is full_attention and the others slide, as
// transformers writes gemma3's and gpt_oss's default layer_types; k ≤ 0
// makes every layer slide.
func fullEvery(n, k int) []string {
	types := repeat("sliding_attention", n)
	for i := k - 1; k > 0 && i < n; i += k {
		types[i] = "full_attention"
	}
	return types
}

// defaultWindow is size, or def when sliding_window is absent or null
// (gemma3's and gpt_oss's configs always have a window).
func defaultWindow(raw *rawConfig, size, def int) int {
	if isNull(raw.SlidingWindow) {
		return def
	}
	return size
}

// layerWindows turns layer types into windows of size positions.
func (f *fields) layerWindows(rule windowRule, types []string, size int) []int {
	var out []int
	for i, t := range types {
		if t != "sliding_attention" {
			continue
		}
		if size == 0 {
			if rule != windowsQwen {
				f.fail("sliding_window", ErrInvalidConfig, "required: layer_types makes layer %d sliding_attention", i)
			}
			return nil
		}
		if out == nil {
			out = make([]int, len(types))
		}
		out[i] = size
	}
	return out
}

// slidingWindow reads sliding_window: 0 when absent or null.
func (f *fields) slidingWindow(raw *rawConfig) int {
	if isNull(raw.SlidingWindow) {
		return 0
	}
	var w int
	if err := json.Unmarshal(raw.SlidingWindow, &w); err != nil || w <= 0 {
		f.fail("sliding_window", ErrInvalidConfig, "want a positive number of positions or null, got %s", raw.SlidingWindow)
		return 0
	}
	return w
}

// repeat is n copies of v.
func repeat[T any](v T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}
