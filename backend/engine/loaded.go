package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/modelbar/modelbar/backend/engine/generate"
	"github.com/modelbar/modelbar/backend/engine/llama"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/pool"
	"github.com/modelbar/modelbar/backend/engine/tensor"
	"github.com/modelbar/modelbar/backend/engine/toolcall"
)

// loaded is a model in memory: its files, tokenizer, chat template and
// compute graph. One request generates at a time; the others queue in
// arrival order (a channel's waiters are served first come, first served).
type loaded struct {
	name string
	*prompter
	files  *modelfile.Model
	model  *llama.Model
	stops  []int // end-of-turn tokens: config, generation config, tokenizer
	turn   chan struct{}
	memory int64     // the weights' (their size on disk)
	prefix *prefixes // KV caches, reused across requests (prefix.go)
	vocabs vocabs    // the grammar's view of the vocabulary, built on first use (structured.go)
}

// open loads en's weights; p is its tokenizer and chat template, which a
// count may have read already (window.go).
func open(en modelfile.Entry, b tensor.Backend, p *prompter) (_ *loaded, err error) {
	files, err := modelfile.Open(en.Path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			files.Close()
		}
	}()
	model, err := llama.Load(files.Config(), files, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", en.ID, err)
	}
	l := &loaded{name: en.ID, prompter: p, files: files, model: model, turn: make(chan struct{}, 1), memory: en.SizeOnDisk,
		prefix: newPrefixes(model, files.Config().MaxPositionEmbeddings)}
	l.stops = withTurnEnds(append(files.Config().EOSTokenIDs, p.tok.EOS()...), p.tok, p.template)
	return l, nil
}

// The pool's view of a loaded model's memory: its weights and its KV
// caches, those requests are using and those kept for reuse, as each was
// last noted (a request notes its cache's memory after every Forward
// step, so the total follows a prefill as it grows; see prefix.go).

var _ pool.Caches = (*loaded)(nil)

func (l *loaded) MemoryBytes() int64                 { return l.memory + l.prefix.bytes() }
func (l *loaded) CacheBytes() int64                  { return l.prefix.bytes() }
func (l *loaded) OldestIdleCache() (time.Time, bool) { return l.prefix.oldestIdle() }
func (l *loaded) DropIdleCache() bool                { return l.prefix.dropIdle() }

// Close frees the caches (waiting for those the pool dropped and a
// goroutine is still freeing), then the weights, then the files.
func (l *loaded) Close() error {
	caches := l.prefix.close()
	return errors.Join(caches, l.model.Close(), l.files.Close())
}

// take waits for this model's turn; the returned func gives it back.
func (l *loaded) take(ctx context.Context) (func(), error) {
	select {
	case l.turn <- struct{}{}:
		return func() { <-l.turn }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run generates req on a cache from the prefix cache (req.Cached set to
// what it reuses), calling start, if set, with that count before the
// first token. The cache goes back to the prefix cache holding exactly
// what was forwarded, after an answer or a client gone away (a cancelled
// Forward leaves the cache as it was); after another failure it is freed.
// The caller holds the model's turn.
func (l *loaded) run(ctx context.Context, req generate.Request, start func(cached int) error, emit func(string) error) (res generate.Result, err error) {
	seq, cached, err := l.prefix.take(req.Prompt)
	if err != nil {
		return generate.Result{}, err
	}
	defer func() { l.prefix.put(seq, err == nil || ctx.Err() != nil) }()
	req.Cached = cached
	if start != nil {
		if err := start(cached); err != nil {
			return generate.Result{CachedTokens: cached}, err
		}
	}
	return generate.Run(ctx, seq, l.tok.NewDecoder(), l.tok.VocabSize(), req, emit)
}

// callIDs makes ids for the tool calls of one answer. Mistral's templates
// accept only 9-character alphanumeric ids; other families take OpenAI's
// "call_" form.
func (l *loaded) callIDs() func() string {
	if l.syntax == toolcall.Mistral {
		return func() string { return mistralID(randomID()) }
	}
	return func() string { return "call_" + randomID() }
}

// mistralID maps any id to the 9 alphanumeric characters Mistral's
// templates require, the same id always to the same result (so a client's
// "toolu_..." or "call_..." ids match between a call and its result).
func mistralID(id string) string {
	if len(id) == 9 && strings.IndexFunc(id, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) < 0 {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	out := make([]byte, 9)
	for i := range out {
		out[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return string(out)
}
