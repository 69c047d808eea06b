package generate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Model is what generation needs of a loaded model. Forward runs tokens
// through the model after those already in its cache and returns the
// logits of the last position; the slice is the caller's to modify until
// the next call. It blocks for the computation and returns ctx's error if
// ctx ends first.
type Model interface {
	Forward(ctx context.Context, tokens []int) ([]float32, error)
	ContextLength() int
}

// Detokenizer turns tokens into text incrementally: Add returns only
// complete UTF-8 text, Flush what is left.
type Detokenizer interface {
	Add(id int) string
	Flush() string
}

// Request is one generation.
type Request struct {
	Prompt []int
	// Cached is how many of Prompt's first tokens the model's state
	// already holds (a prefix reused from an earlier sequence): Run
	// forwards only the rest. 0 ≤ Cached < len(Prompt), so that the last
	// prompt token is always forwarded and gives the first logits.
	Cached     int
	MaxTokens  int // 0: until the context is full
	StopTokens []int
	Stop       []string // stop sequences: the text ends before the first one
	Sampling   Sampling
	// Constraint, if set, restricts the tokens sampled (structured
	// output); nil: any token.
	Constraint Constraint
}

// Constraint restricts which tokens may be sampled, step by step (a
// grammar). Run calls Done, then Mask on the step's logits, then Accept
// with the token picked unless it is a stop token. Used by one generation
// at a time.
type Constraint interface {
	// Mask sets the logits of the tokens that may not come next to -Inf,
	// stop tokens included while the output is incomplete; left is how
	// many tokens may follow this one within the budget. At least one
	// logit stays finite; when none may (no token continues the output),
	// it returns an error instead, and generation fails with it.
	Mask(logits []float32, left int) error
	// Accept advances past the token picked; an error means the token
	// was not allowed.
	Accept(id int) error
	// Done reports that the output is complete and nothing may follow:
	// generation ends as at a stop token.
	Done() bool
	// Complete reports that the output so far is whole (more may still
	// follow). Stop sequences are looked for only in the text of tokens
	// sampled once it is, so that one cannot cut the output short (a
	// "\n" between JSON tokens).
	Complete() bool
}

// FinishReason is why generation ended.
type FinishReason string

const (
	FinishStop         FinishReason = "stop"          // a stop token (end of turn)
	FinishStopSequence FinishReason = "stop_sequence" // a stop sequence
	FinishLength       FinishReason = "length"        // MaxTokens, or the context is full
)

// Result is the outcome of a finished generation.
type Result struct {
	Finish           FinishReason
	StopSequence     string // the matched stop sequence, for FinishStopSequence
	PromptTokens     int
	CachedTokens     int // the part of PromptTokens not forwarded: Request.Cached
	CompletionTokens int
}

// ErrPromptTooLong: the prompt leaves no room in the model's context.
var ErrPromptTooLong = errors.New("the prompt is longer than the model's context")

// Run generates from req, calling emit with each new piece of text as soon
// as it is certain (no partial UTF-8 character, no prefix of a stop
// sequence). It stops at a stop token, a stop sequence, MaxTokens, the end
// of the context, an emit error, or when ctx ends (checked before every
// token, so a disconnected client stops generation within one token).
func Run(ctx context.Context, m Model, d Detokenizer, vocab int, req Request, emit func(string) error) (Result, error) {
	res := Result{PromptTokens: len(req.Prompt), CachedTokens: req.Cached}
	if len(req.Prompt) == 0 {
		return res, errors.New("generate: empty prompt")
	}
	if req.Cached < 0 || req.Cached >= len(req.Prompt) {
		return res, fmt.Errorf("generate: %d cached tokens of a %d-token prompt", req.Cached, len(req.Prompt))
	}
	room := m.ContextLength() - len(req.Prompt)
	if room <= 0 {
		return res, fmt.Errorf("%w (%d tokens, context %d)", ErrPromptTooLong, len(req.Prompt), m.ContextLength())
	}
	budget := room
	if req.MaxTokens > 0 {
		budget = min(budget, req.MaxTokens)
	}
	smp := newSampler(req.Sampling, vocab, req.Prompt)
	out := &holdback{stops: req.Stop, emit: emit, look: true}
	input := req.Prompt[req.Cached:]
	for res.CompletionTokens < budget {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		logits, err := m.Forward(ctx, input)
		if err != nil {
			return res, err
		}
		if c := req.Constraint; c != nil {
			if err := c.Mask(logits, budget-res.CompletionTokens-1); err != nil {
				return res, fmt.Errorf("generate: %w", err)
			}
		}
		id := smp.pick(logits)
		if slices.Contains(req.StopTokens, id) {
			res.Finish = FinishStop
			return res, out.finish(d.Flush())
		}
		if c := req.Constraint; c != nil {
			// No stop sequence ends a document that this token still
			// continues: stop sequences are looked for in text that
			// follows a complete one.
			out.look = c.Complete()
			if err := c.Accept(id); err != nil {
				return res, fmt.Errorf("generate: %w", err)
			}
		}
		res.CompletionTokens++
		smp.seen(id)
		stop, err := out.add(d.Add(id))
		if err != nil || stop != "" {
			res.Finish, res.StopSequence = FinishStopSequence, stop
			return res, err
		}
		if c := req.Constraint; c != nil && c.Done() { // complete, and nothing may follow: as at a stop token
			res.Finish = FinishStop
			return res, out.finish(d.Flush())
		}
		input = append(input[:0:0], id)
	}
	res.Finish = FinishLength
	return res, out.finish(d.Flush())
}

// holdback releases text only once it cannot be the start of a stop
// sequence, and ends it before the first stop sequence it completes.
type holdback struct {
	stops   []string
	pending string
	emit    func(string) error
	look    bool // whether stop sequences are looked for in the text added
}

// add appends text; it returns the stop sequence if one completed. While
// look is false it releases all it holds and finds no stop sequence.
func (h *holdback) add(text string) (string, error) {
	h.pending += text
	if !h.look {
		all := h.pending
		h.pending = ""
		return "", h.send(all)
	}
	if at, stop := firstStop(h.pending, h.stops); stop != "" {
		return stop, h.send(h.pending[:at])
	}
	keep := longestStopPrefix(h.pending, h.stops)
	release := h.pending[:len(h.pending)-keep]
	h.pending = h.pending[len(release):]
	return "", h.send(release)
}

// finish releases what is held at the end of generation.
func (h *holdback) finish(tail string) error {
	if stop, err := h.add(tail); stop != "" || err != nil {
		return err
	}
	rest := h.pending
	h.pending = ""
	return h.send(rest)
}

func (h *holdback) send(s string) error {
	if s == "" {
		return nil
	}
	return h.emit(s)
}

// firstStop finds the earliest complete stop sequence in s.
func firstStop(s string, stops []string) (int, string) {
	at, found := -1, ""
	for _, st := range stops {
		if st == "" {
			continue
		}
		if i := strings.Index(s, st); i >= 0 && (at < 0 || i < at) {
			at, found = i, st
		}
	}
	return at, found
}

// longestStopPrefix is the length of the longest suffix of s that is a
// proper prefix of a stop sequence: text that must wait for the next token.
func longestStopPrefix(s string, stops []string) int {
	best := 0
	for _, st := range stops {
		for n := min(len(st)-1, len(s)); n > best; n-- {
			if strings.HasSuffix(s, st[:n]) {
				best = n
				break
			}
		}
	}
	return best
}
