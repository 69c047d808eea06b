// Package generate turns a model's logits into text: sampling (temperature,
// top-k, top-p, min-p, repetition penalty, seed), stop tokens and stop
// sequences (also across token boundaries), a token budget, cancellation,
// and a stream of text events that never splits a UTF-8 character or shows
// a piece of a stop sequence. It knows no tensors and no HTTP: the model and
// the detokenizer come in as small interfaces.
package generate

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Sampling controls how the next token is picked. The zero value is greedy
// decoding (temperature 0).
type Sampling struct {
	Temperature       float64 // 0: always the most likely token
	TopK              int     // 0: off
	TopP              float64 // 0 or 1: off
	MinP              float64 // 0: off; keep tokens with p >= MinP * p(max)
	RepetitionPenalty float64 // 0 or 1: off; >1 discourages tokens already in the context
	Seed              *uint64 // nil: a random seed; the same seed gives the same tokens
}

// sampler picks tokens; it owns scratch space so a decode step allocates
// nothing. Not safe for concurrent use.
type sampler struct {
	s       Sampling
	rng     *rand.Rand
	cands   []cand
	penalty map[int]bool // tokens seen, for the repetition penalty
}

type cand struct {
	id int
	p  float64
}

func newSampler(s Sampling, vocab int, context []int) *sampler {
	seed := rand.Uint64()
	if s.Seed != nil {
		seed = *s.Seed
	}
	sm := &sampler{s: s, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), cands: make([]cand, 0, vocab)}
	if s.RepetitionPenalty > 0 && s.RepetitionPenalty != 1 {
		sm.penalty = make(map[int]bool, len(context))
		for _, t := range context {
			sm.penalty[t] = true
		}
	}
	return sm
}

// seen records a generated token for the repetition penalty.
func (sm *sampler) seen(id int) {
	if sm.penalty != nil {
		sm.penalty[id] = true
	}
}

// pick chooses the next token from logits (which it may modify).
func (sm *sampler) pick(logits []float32) int {
	sm.applyPenalty(logits)
	if sm.s.Temperature <= 0 {
		return argmax(logits)
	}
	sm.softmax(logits)
	if sm.s.TopK > 0 || sm.s.MinP > 0 || (sm.s.TopP > 0 && sm.s.TopP < 1) {
		sm.rank()
		sm.truncate()
	}
	return sm.draw()
}

// applyPenalty is the CTRL/HF repetition penalty: a seen token's logit is
// divided by the penalty when positive, multiplied when negative.
func (sm *sampler) applyPenalty(logits []float32) {
	if sm.penalty == nil {
		return
	}
	p := float32(sm.s.RepetitionPenalty)
	for id := range sm.penalty {
		if id < 0 || id >= len(logits) {
			continue
		}
		if logits[id] > 0 {
			logits[id] /= p
		} else {
			logits[id] *= p
		}
	}
}

// softmax fills cands with every token's probability at the temperature.
func (sm *sampler) softmax(logits []float32) {
	maxL := logits[argmax(logits)]
	sm.cands = sm.cands[:0]
	var sum float64
	for id, l := range logits {
		p := math.Exp(float64(l-maxL) / sm.s.Temperature)
		sm.cands = append(sm.cands, cand{id, p})
		sum += p
	}
	for i := range sm.cands {
		sm.cands[i].p /= sum
	}
}

// negligible is the probability, relative to the most likely token's,
// below which a token is dropped before ranking: with vocabularies of
// 150,000 tokens a full sort per step would cost more than the model's
// matmuls, and such tokens cannot survive top-k, min-p or any top-p short
// of 1 - 1e-6 in practice.
const negligible = 1e-6

// rank sorts the candidates that matter, most likely first. With top-k,
// only the k best are selected (in linear time) and sorted.
func (sm *sampler) rank() {
	if k := sm.s.TopK; k > 0 && k < len(sm.cands) {
		selectTop(sm.cands, k)
		sm.cands = sm.cands[:k]
	}
	var pmax float64
	for _, c := range sm.cands {
		pmax = max(pmax, c.p)
	}
	sm.cands = slices.DeleteFunc(sm.cands, func(c cand) bool { return c.p < negligible*pmax })
	slices.SortFunc(sm.cands, func(a, b cand) int {
		switch {
		case a.p > b.p:
			return -1
		case a.p < b.p:
			return 1
		}
		return a.id - b.id
	})
}

// truncate applies top-k, min-p and top-p to the sorted candidates; at
// least one always remains.
func (sm *sampler) truncate() {
	c := sm.cands
	if k := sm.s.TopK; k > 0 && k < len(c) {
		c = c[:k]
	}
	if mp := sm.s.MinP; mp > 0 {
		floor := mp * c[0].p
		n := 1
		for n < len(c) && c[n].p >= floor {
			n++
		}
		c = c[:n]
	}
	if tp := sm.s.TopP; tp > 0 && tp < 1 {
		var cum float64
		n := 0
		for n < len(c) {
			cum += c[n].p
			n++
			if cum >= tp {
				break
			}
		}
		c = c[:n]
	}
	sm.cands = c
}

// draw samples from the remaining candidates in proportion to their
// probabilities.
func (sm *sampler) draw() int {
	var total float64
	for _, c := range sm.cands {
		total += c.p
	}
	r := sm.rng.Float64() * total
	last := sm.cands[len(sm.cands)-1].id
	for _, c := range sm.cands {
		if r < c.p {
			return c.id
		}
		r -= c.p
		if c.p > 0 {
			last = c.id // rounding left r over: the last token with any chance, never a masked one
		}
	}
	return last
}

func argmax(xs []float32) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best
}

// selectTop moves the k most likely candidates to the front of c, in no
// order (quickselect: linear on average).
func selectTop(c []cand, k int) {
	lo, hi := 0, len(c)-1
	for lo < hi {
		pivot := c[(lo+hi)/2].p
		i, j := lo, hi
		for i <= j {
			for c[i].p > pivot {
				i++
			}
			for c[j].p < pivot {
				j--
			}
			if i <= j {
				c[i], c[j] = c[j], c[i]
				i++
				j--
			}
		}
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}
