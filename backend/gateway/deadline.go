package gateway

import (
	"context"
	"errors"
	"time"
)

// How long a backend may take to start answering before the next backend of
// the chain is tried. A stream must produce its first event within
// firstEventTimeout; a non-streaming answer, which arrives whole, gets
// firstBodyTimeout (a long reasoning answer takes minutes).
const (
	firstEventTimeout = 2 * time.Minute
	firstBodyTimeout  = 10 * time.Minute
)

var errFirstByteTimeout = errors.New("backend did not start answering in time")

func (s *Server) firstByteTimeout(stream bool) time.Duration {
	switch {
	case s.opts.FirstByteTimeout > 0:
		return s.opts.FirstByteTimeout
	case stream:
		return firstEventTimeout
	}
	return firstBodyTimeout
}

// firstByteDeadline derives an attempt's context, cancelled (with cause
// errFirstByteTimeout) if the backend has not started answering within d.
// disarm stops the deadline once the answer is committed; release frees
// the context when the attempt is over.
func firstByteDeadline(ctx context.Context, d time.Duration) (_ context.Context, disarm func(), release func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(d, func() { cancel(errFirstByteTimeout) })
	return ctx, func() { timer.Stop() }, func() { timer.Stop(); cancel(nil) }
}
