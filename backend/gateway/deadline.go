package gateway

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

// How long a backend may take to start answering before the next backend of
// the chain is tried, unless the first_byte_timeout_seconds setting says
// otherwise. A stream must produce its first event within
// firstEventTimeout; a non-streaming answer, which arrives whole, gets
// firstBodyTimeout (a long reasoning answer takes minutes).
const (
	firstEventTimeout = 2 * time.Minute
	firstBodyTimeout  = 10 * time.Minute
)

var (
	errFirstByteTimeout = errors.New("backend did not start answering in time")
	errRequestTimeout   = errors.New("request timed out before any backend answered")
	errStreamIdle       = errors.New("backend sent nothing for too long")
)

func (s *Server) firstByteTimeout(p policy, stream bool) time.Duration {
	switch {
	case s.opts.FirstByteTimeout > 0:
		return s.opts.FirstByteTimeout
	case p.firstByte > 0:
		return p.firstByte
	case stream:
		return firstEventTimeout
	}
	return firstBodyTimeout
}

// deadline derives a context cancelled with cause if it is not disarmed
// within d: the answer must start in time, however long it then takes.
// disarm stops the deadline once the answer is committed; release frees
// the context when the work is over.
func deadline(ctx context.Context, d time.Duration, cause error) (_ context.Context, disarm func(), release func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(d, func() { cancel(cause) })
	return ctx, func() { timer.Stop() }, func() { timer.Stop(); cancel(nil) }
}

// idleBody ends a response body that stays silent for longer than d once
// armed (at commit: before, the first-byte deadline rules): the attempt's
// context is cancelled with errStreamIdle, which unblocks the pending
// Read. Every byte, keep-alive comments included, restarts the clock.
type idleBody struct {
	io.ReadCloser
	d     time.Duration
	mu    sync.Mutex  // guards timer
	timer *time.Timer // nil until armed
	stop  bool        // closed: never arm again
	fire  func()
}

func watchIdle(body io.ReadCloser, d time.Duration, cancel context.CancelCauseFunc) *idleBody {
	return &idleBody{ReadCloser: body, d: d, fire: func() { cancel(errStreamIdle) }}
}

// arm starts the clock.
func (b *idleBody) arm() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer == nil && !b.stop {
		b.timer = time.AfterFunc(b.d, b.fire)
	}
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.mu.Lock()
		if b.timer != nil {
			b.timer.Reset(b.d)
		}
		b.mu.Unlock()
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.mu.Lock()
	b.stop = true
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Unlock()
	return b.ReadCloser.Close()
}
