package tokenizer

import (
	"strings"
	"sync"
	"unicode/utf8"
)

// bpe is the byte-pair-encoding model: it turns one word (a piece from the
// pre-tokenizer) into token ids by starting from single characters (or
// bytes) and applying the merges, lowest rank first.
type bpe struct {
	// merges maps a pair of ids (pairKey) to rank<<32 | merged id.
	merges map[uint64]uint64

	// byteMode is set for byte-level tokenizers (a ByteLevel
	// pre-tokenizer): words are raw bytes and each byte starts as the token
	// of its character in GPT-2's alphabet (byteIDs). Otherwise words are
	// text and each character starts as its own token (charIDs).
	byteMode bool
	byteIDs  [256]int32
	charIDs  map[rune]int32

	// byteFallback writes a character missing from the vocabulary as the
	// tokens <0xNN> of its UTF-8 bytes (fallbackIDs), when they all exist;
	// otherwise it becomes unk (-1: none), consecutive ones fused into one
	// with fuseUnk.
	byteFallback bool
	fallbackIDs  [256]int32
	unk          int32
	fuseUnk      bool

	// ignoreMerges emits a word that is itself a token whole (words maps a
	// word, raw bytes in byte mode, to its id).
	ignoreMerges bool
	words        map[string]int32

	cache wordCache
	work  sync.Pool // *bpeWork
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// symbol is one token of a word being merged, in a doubly linked list.
type symbol struct {
	id         int32
	prev, next int32 // indexes into the word's symbols, -1 at the ends
	gone       bool  // merged into its left neighbour
}

// bpeWork is the scratch space of one merge, reused through a pool.
type bpeWork struct {
	syms []symbol
	heap mergeHeap
	ids  []int32
}

// appendWord appends the ids of word to dst.
func (m *bpe) appendWord(dst []int, word string) []int {
	if word == "" {
		return dst
	}
	if m.ignoreMerges {
		if id, ok := m.words[word]; ok {
			return append(dst, int(id))
		}
	}
	if ids, ok := m.cache.get(word); ok {
		return appendIDs(dst, ids)
	}
	w, _ := m.work.Get().(*bpeWork)
	if w == nil {
		w = new(bpeWork)
	}
	m.symbols(w, word)
	m.mergeAll(w)
	w.ids = w.ids[:0]
	for i := int32(0); i >= 0 && int(i) < len(w.syms); i = w.syms[i].next {
		w.ids = append(w.ids, w.syms[i].id)
	}
	dst = appendIDs(dst, w.ids)
	m.cache.put(word, w.ids)
	m.work.Put(w)
	return dst
}

func appendIDs(dst []int, ids []int32) []int {
	for _, id := range ids {
		dst = append(dst, int(id))
	}
	return dst
}

// symbols fills w.syms with the word's starting tokens.
func (m *bpe) symbols(w *bpeWork, word string) {
	w.syms = w.syms[:0]
	add := func(id int32) {
		n := int32(len(w.syms))
		w.syms = append(w.syms, symbol{id: id, prev: n - 1, next: n + 1})
	}
	if m.byteMode {
		for i := 0; i < len(word); i++ {
			if id := m.byteIDs[word[i]]; id >= 0 {
				add(id)
			}
		}
	} else {
		for i := 0; i < len(word); {
			r, n := utf8.DecodeRuneInString(word[i:])
			if id, ok := m.charIDs[r]; ok && (r != utf8.RuneError || n > 1) {
				add(id)
			} else if !m.addFallback(word[i:i+n], add) && m.unk >= 0 {
				if l := len(w.syms); !m.fuseUnk || l == 0 || w.syms[l-1].id != m.unk {
					add(m.unk)
				}
			}
			i += n
		}
	}
	if l := len(w.syms); l > 0 {
		w.syms[l-1].next = -1
	}
}

// addFallback adds the <0xNN> tokens of the bytes of an unknown character,
// if byte fallback is on and they all exist.
func (m *bpe) addFallback(char string, add func(int32)) bool {
	if !m.byteFallback {
		return false
	}
	for i := 0; i < len(char); i++ {
		if m.fallbackIDs[char[i]] < 0 {
			return false
		}
	}
	for i := 0; i < len(char); i++ {
		add(m.fallbackIDs[char[i]])
	}
	return true
}

// mergeAll applies the merges to w.syms, the lowest rank first and, among
// equal ranks, the leftmost first: a heap of candidate pairs, each checked
// when it comes out (its symbols may have merged since), so a word of n
// symbols takes O(n log n).
func (m *bpe) mergeAll(w *bpeWork) {
	syms := w.syms
	w.heap = w.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if v, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			w.heap.push(v>>32<<32 | uint64(i))
		}
	}
	for len(w.heap) > 0 {
		top := w.heap.pop()
		rank, pos := top>>32, int32(uint32(top))
		s := &syms[pos]
		if s.gone || s.next < 0 {
			continue
		}
		v, ok := m.merges[pairKey(s.id, syms[s.next].id)]
		if !ok || v>>32 != rank {
			continue // stale: a symbol of the pair has changed
		}
		right := &syms[s.next]
		right.gone = true
		s.id = int32(uint32(v))
		s.next = right.next
		if s.next >= 0 {
			syms[s.next].prev = pos
			if v, ok := m.merges[pairKey(s.id, syms[s.next].id)]; ok {
				w.heap.push(v>>32<<32 | uint64(pos))
			}
		}
		if s.prev >= 0 {
			if v, ok := m.merges[pairKey(syms[s.prev].id, s.id)]; ok {
				w.heap.push(v>>32<<32 | uint64(s.prev))
			}
		}
	}
}

// mergeHeap is a binary min-heap of rank<<32 | position.
type mergeHeap []uint64

func (h *mergeHeap) push(x uint64) {
	*h = append(*h, x)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p] <= a[i] {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *mergeHeap) pop() uint64 {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < n && a[l] < a[small] {
			small = l
		}
		if r := l + 1; r < n && a[r] < a[small] {
			small = r
		}
		if small == i {
			break
		}
		a[i], a[small] = a[small], a[i]
		i = small
	}
	*h = a
	return top
}

// wordCache remembers the ids of words seen before. It is safe for
// concurrent use; when full it starts again empty.
type wordCache struct {
	mu sync.RWMutex // guards m
	m  map[string][]int32
}

const (
	cacheWords   = 1 << 15 // entries before the cache is emptied
	cacheWordLen = 256     // longer words are not cached
)

func (c *wordCache) get(word string) ([]int32, bool) {
	if len(word) > cacheWordLen {
		return nil, false
	}
	c.mu.RLock()
	ids, ok := c.m[word]
	c.mu.RUnlock()
	return ids, ok
}

// reset empties the cache.
func (c *wordCache) reset() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

func (c *wordCache) put(word string, ids []int32) {
	if len(word) > cacheWordLen {
		return
	}
	word, ids = strings.Clone(word), append([]int32(nil), ids...)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= cacheWords {
		c.m = make(map[string][]int32)
	}
	c.m[word] = ids
	c.mu.Unlock()
}
