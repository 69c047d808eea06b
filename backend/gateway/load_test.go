package gateway_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoad_OpenLoop sends 10,000 requests at 1,000 per second (open loop:
// each is sent on schedule whether or not earlier ones have answered)
// through the gateway to a fake provider: every one must succeed.
func TestLoad_OpenLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: skipped with -short")
	}
	const total, rate = 10_000, 1_000
	h := newHarness(t)
	up := newFake(t, okChat("ok"))
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}}
	defer client.CloseIdleConnections()

	var failures atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	start := time.Now()
	for i := range total {
		<-tick.C
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, h.url("/v1/chat/completions"), strings.NewReader(chatBody))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"ok"`)) {
					err = fmt.Errorf("request %d: status %d: %s", i, resp.StatusCode, body)
				}
			}
			if err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		})
	}
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed; first: %v", n, total, firstErr.Load())
	}
	if n := len(up.requests()); n != total {
		t.Errorf("provider received %d requests, want %d", n, total)
	}
	t.Logf("%d requests in %v", total, time.Since(start).Round(time.Millisecond))
}

// TestLoad_ConcurrentStreams runs 200 streams at once, each of 64 events:
// every client gets every event, in order, and the end of the stream.
func TestLoad_ConcurrentStreams(t *testing.T) {
	const streams, events = 200, 64
	h := newHarness(t)
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		for i := range events {
			writeEvent(w, chunk(fmt.Sprintf("e%02d", i)))
		}
		writeEvent(w, done)
	})
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: streams}}
	defer client.CloseIdleConnections()

	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for s := range streams {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, h.url("/v1/chat/completions"), strings.NewReader(streamBody))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			want := 0
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				line := sc.Text()
				switch {
				case line == "data: [DONE]":
					if want != events {
						errs <- fmt.Errorf("stream %d: [DONE] after %d events, want %d", s, want, events)
					}
					return
				case strings.HasPrefix(line, "data: "):
					if tag := fmt.Sprintf(`"content":"e%02d"`, want); !strings.Contains(line, tag) {
						errs <- fmt.Errorf("stream %d: event %d is %s, want %s", s, want, line, tag)
						return
					}
					want++
				}
			}
			errs <- fmt.Errorf("stream %d: ended after %d events without [DONE]: %v", s, want, sc.Err())
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
