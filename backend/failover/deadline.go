package failover

import (
	"context"
	"io"
	"sync"
	"time"
)

// Deadline cancels a context with a cause unless it is disarmed in time:
// an answer must start (or be committed) in time, however long it then
// takes. Safe for concurrent use.
type Deadline struct {
	timer  *time.Timer
	cancel context.CancelCauseFunc
}

// NewDeadline derives a context that is cancelled with cause after d
// unless Disarm is called first. Release frees it when the work is over.
func NewDeadline(ctx context.Context, d time.Duration, cause error) (context.Context, *Deadline) {
	ctx, cancel := context.WithCancelCause(ctx)
	return ctx, &Deadline{timer: time.AfterFunc(d, func() { cancel(cause) }), cancel: cancel}
}

// Disarm stops the deadline; the context lives on until Release.
func (d *Deadline) Disarm() { d.timer.Stop() }

// Release stops the deadline and cancels the context.
func (d *Deadline) Release() {
	d.timer.Stop()
	d.cancel(nil)
}

// IdleWatch ends a response body that stays silent for longer than d once
// armed (at commit: before, the first-byte deadline rules) by calling
// fire, which cancels the attempt's context with ErrStreamIdle and so
// unblocks the pending Read. Every byte, keep-alive comments included,
// restarts the clock. Read and Close are for one reader goroutine; Arm may
// be called from any.
type IdleWatch struct {
	io.ReadCloser
	d    time.Duration
	fire func()

	mu      sync.Mutex  // guards timer and stopped
	timer   *time.Timer // nil until armed
	stopped bool        // closed: never arm again
}

// WatchIdle wraps body; cancel is the attempt context's cancel function.
func WatchIdle(body io.ReadCloser, d time.Duration, cancel context.CancelCauseFunc) *IdleWatch {
	return &IdleWatch{ReadCloser: body, d: d, fire: func() { cancel(ErrStreamIdle) }}
}

// Arm starts the clock.
func (b *IdleWatch) Arm() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer == nil && !b.stopped {
		b.timer = time.AfterFunc(b.d, b.fire)
	}
}

func (b *IdleWatch) Read(p []byte) (int, error) {
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

// Close stops the clock for good and closes the body.
func (b *IdleWatch) Close() error {
	b.mu.Lock()
	b.stopped = true
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Unlock()
	return b.ReadCloser.Close()
}
