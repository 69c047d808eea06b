package llama

import (
	"context"
	"errors"
	"fmt"

	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// prefillChunk bounds the tokens of one backend step: a long prompt is
// prefilled in chunks so that a step's working set (and a lazy backend's
// graph) stays bounded, and other sequences get turns in between.
const prefillChunk = 256

// Cache is one sequence's state: the keys and values of every layer for
// up to MaxLen positions, and the logits of its last step. It is used by
// one goroutine at a time.
type Cache struct {
	m      *Model
	kv     []tensor.KVCache
	len    int
	maxLen int
	logits []float32

	// The step in progress, read by run; bound once so that a decode step
	// allocates nothing.
	chunk      []int
	wantLogits bool
	run        func() error
}

// NewCache makes a cache for maxLen positions (the model's context
// length when maxLen ≤ 0), storing keys and values as KVDType. The
// backend takes memory as positions are stored: Bytes grows with Len.
func (m *Model) NewCache(maxLen int) (*Cache, error) {
	if maxLen <= 0 {
		maxLen = m.cfg.MaxPositionEmbeddings
	}
	if maxLen <= 0 {
		return nil, fmt.Errorf("llama: cache of %d positions", maxLen)
	}
	c := &Cache{m: m, maxLen: maxLen, logits: make([]float32, m.cfg.VocabSize)}
	c.run = c.step
	err := m.b.Run(func() error {
		c.kv = make([]tensor.KVCache, m.cfg.NumLayers)
		for i := range c.kv {
			kv, err := m.b.NewKVCache(m.cfg.NumKVHeads, m.cfg.HeadDim, maxLen, m.kvType)
			if err != nil {
				c.free()
				return err
			}
			c.kv[i] = kv
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	return c, nil
}

// Len is the number of positions the cache holds.
func (c *Cache) Len() int { return c.len }

// MaxLen is the number of positions the cache can hold.
func (c *Cache) MaxLen() int { return c.maxLen }

// Bytes is the backend memory the cache's keys and values hold now (what
// the memory budget counts): it grows with the positions stored.
func (c *Cache) Bytes() int64 {
	var n int64
	for _, kv := range c.kv {
		n += kv.Bytes()
	}
	return n
}

// Truncate forgets every position from n on (n ≤ Len), so a sequence
// sharing the first n tokens can continue from there.
func (c *Cache) Truncate(n int) error {
	if n < 0 || n > c.len {
		return fmt.Errorf("llama: truncate a cache of %d positions to %d", c.len, n)
	}
	c.len = n
	return nil
}

// CopyPrefix makes a new cache holding c's first n positions (n ≤ Len),
// as if their tokens had been forwarded on it, with c's MaxLen: a
// sequence that shares them continues from there while c keeps what it
// holds. The backend copies keys and values (no compute); the copy's
// memory is that of n positions. c is unchanged, and must not be used by
// another goroutine meanwhile.
func (c *Cache) CopyPrefix(n int) (*Cache, error) {
	if c.kv == nil {
		return nil, errors.New("llama: copy of a closed cache")
	}
	if n < 0 || n > c.len {
		return nil, fmt.Errorf("llama: copy %d positions of a cache of %d", n, c.len)
	}
	out := &Cache{m: c.m, maxLen: c.maxLen, logits: make([]float32, len(c.logits))}
	out.run = out.step
	b := c.m.b
	err := b.Run(func() error {
		out.kv = make([]tensor.KVCache, len(c.kv))
		for i, kv := range c.kv {
			cp, err := b.CopyKVCache(kv, n)
			if err != nil {
				out.free()
				return err
			}
			out.kv[i] = cp
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	out.len = n
	return out, nil
}

// Close frees the cache's backend storage.
func (c *Cache) Close() error {
	return c.m.b.Run(func() error { c.free(); return nil })
}

func (c *Cache) free() {
	for _, kv := range c.kv {
		if kv != nil {
			kv.Free()
		}
	}
	c.kv, c.len = nil, 0
}

// Forward runs tokens through the model after the cache's positions,
// stores their keys and values in the cache, and returns the logits of
// the last token. It serves prefill (many tokens) and decode (one). The
// logits belong to the cache and are overwritten by its next Forward.
// On error the cache keeps its previous length.
func (m *Model) Forward(tokens []int, c *Cache) ([]float32, error) {
	return m.ForwardContext(context.Background(), tokens, c)
}

// ForwardContext is Forward that stops between prefill chunks once ctx
// ends (a long prompt's prefill takes minutes on a CPU) and returns ctx's
// error, the cache keeping its previous length.
func (m *Model) ForwardContext(ctx context.Context, tokens []int, c *Cache) ([]float32, error) {
	if err := m.checkForward(tokens, c); err != nil {
		return nil, err
	}
	before := c.len
	for start := 0; start < len(tokens); start += prefillChunk {
		if err := ctx.Err(); err != nil {
			c.len = before
			return nil, err
		}
		end := min(start+prefillChunk, len(tokens))
		c.chunk, c.wantLogits = tokens[start:end], end == len(tokens)
		err := m.b.Run(c.run)
		c.chunk = nil
		if err != nil {
			c.len = before
			return nil, fmt.Errorf("llama: forward: %w", err)
		}
		c.len += end - start
	}
	return c.logits, nil
}

func (m *Model) checkForward(tokens []int, c *Cache) error {
	switch {
	case c == nil || c.m != m || c.kv == nil:
		return errors.New("llama: Forward with a closed cache or another model's")
	case len(tokens) == 0:
		return errors.New("llama: Forward with no tokens")
	case c.len+len(tokens) > c.maxLen:
		return fmt.Errorf("%w: %d positions + %d tokens > %d", ErrContextFull, c.len, len(tokens), c.maxLen)
	}
	for _, t := range tokens {
		if t < 0 || t >= m.cfg.VocabSize {
			return fmt.Errorf("llama: token %d outside the vocabulary of %d", t, m.cfg.VocabSize)
		}
	}
	return nil
}

// step runs c.chunk through every layer inside Run and reads the logits
// of its last position when c.wantLogits.
func (c *Cache) step() error {
	m, b := c.m, c.m.b
	x := b.Embed(m.embed, c.chunk)
	if m.embedScale != 0 {
		x = m.scaleEmbeddings(x)
	}
	for i := range m.layers {
		x = m.block(&m.layers[i], x, c.kv[i], c.len)
	}
	if !c.wantLogits {
		return b.Eval(x)
	}
	last := b.SliceRows(x, len(c.chunk)-1, 1)
	h := b.RMSNorm(last, m.norm, m.eps)
	logits := b.MatMul(h, m.lmHead)
	if m.softcap != 0 {
		logits = m.softcapLogits(logits)
	}
	return b.Read(logits, c.logits)
}

// block is one transformer block: x + attention(norm(x)), then
// + mlp(norm(·)). It releases x and everything it made but its result.
func (m *Model) block(l *layer, x tensor.Array, kv tensor.KVCache, offset int) tensor.Array {
	b := m.b
	h := b.RMSNorm(x, l.attnNorm, m.eps)
	a := m.attention(l, h, kv, offset)
	if l.postAttnNorm != nil {
		a = m.postNorm(a, l.postAttnNorm)
	}
	x2 := b.Add(x, a)
	release(b, x, h, a)
	h = b.RMSNorm(x2, l.mlpNorm, m.eps)
	f := m.mlp(l, h)
	if l.postMLPNorm != nil {
		f = m.postNorm(f, l.postMLPNorm)
	}
	y := b.Add(x2, f)
	release(b, x2, h, f)
	return y
}

// attention projects h to queries, keys and values, normalizes and
// rotates them, attends over the cache and projects back.
func (m *Model) attention(l *layer, h tensor.Array, kv tensor.KVCache, offset int) tensor.Array {
	b := m.b
	q, k, v := m.linear3(h, &l.q, &l.k, &l.v)
	if l.qNorm != nil {
		q, k = m.headNorm(q, l.qNorm), m.headNorm(k, l.kNorm)
	}
	qr, kr := q, k
	if l.rope != nil && l.ropeHead != 0 {
		qr, kr = b.RopePartial(q, l.rope, l.ropeHead, offset), b.RopePartial(k, l.rope, l.ropeHead, offset)
		release(b, q, k)
	} else if l.rope != nil {
		qr, kr = b.Rope(q, l.rope, offset), b.Rope(k, l.rope, offset)
		release(b, q, k)
	}
	a := b.Attention(qr, kr, v, kv, offset, tensor.AttentionOpts{Scale: m.scale, Window: l.window, Sinks: l.sinks})
	out := m.linear(a, l.o)
	release(b, v, qr, kr, a)
	return out
}

// mlp is down(act(gate(h)) · up(h)), act being SiLU (gemma3: GELU-tanh).
func (m *Model) mlp(l *layer, h tensor.Array) tensor.Array {
	b := m.b
	if l.moe != nil {
		return m.sparseMLP(l.moe, h)
	}
	g, u, _ := m.linear3(h, &l.gate, &l.up, nil)
	s := m.act(g)
	p := b.Mul(s, u)
	out := m.linear(p, l.down)
	release(b, g, u, s, p)
	return out
}

// linear is x·Wᵀ + bias.
func (m *Model) linear(x tensor.Array, l linear) tensor.Array {
	y := m.b.MatMul(x, l.w)
	if l.bias == nil {
		return y
	}
	yb := m.b.AddBias(y, l.bias)
	m.b.Release(y)
	return yb
}

// linear3 is linear for two or three projections of the same x (c may be
// nil), computed in one dispatch where the backend can (tensor.MatMuls).
func (m *Model) linear3(x tensor.Array, a, b, c *linear) (ya, yb, yc tensor.Array) {
	ls := [3]*linear{a, b, c}
	n := 2
	m.fusedW[0], m.fusedW[1] = a.w, b.w
	if c != nil {
		n = 3
		m.fusedW[2] = c.w
	}
	tensor.MatMuls(m.b, x, m.fusedW[:n], m.fusedOut[:n])
	for i, l := range ls[:n] {
		if l.bias != nil {
			y := m.fusedOut[i]
			m.fusedOut[i] = m.b.AddBias(y, l.bias)
			m.b.Release(y)
		}
	}
	ya, yb, yc = m.fusedOut[0], m.fusedOut[1], m.fusedOut[2]
	m.fusedW, m.fusedOut = [3]tensor.Weight{}, [3]tensor.Array{}
	return ya, yb, yc
}

// headNorm applies RMSNorm to each head_dim-wide head of x (qwen3's q_norm
// and k_norm) and releases x.
func (m *Model) headNorm(x tensor.Array, w tensor.Weight) tensor.Array {
	b := m.b
	rows, cols := x.Shape()
	hd := m.cfg.HeadDim
	heads := b.Reshape(x, rows*cols/hd, hd)
	normed := b.RMSNorm(heads, w, m.eps)
	out := b.Reshape(normed, rows, cols)
	release(b, x, heads, normed)
	return out
}

func release(b tensor.Backend, xs ...tensor.Array) {
	for _, x := range xs {
		b.Release(x)
	}
}
