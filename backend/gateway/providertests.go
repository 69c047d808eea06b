package gateway

import (
	"sync"
	"time"

	"github.com/modelbar/modelbar/backend/events"
)

// lastTest is a provider's latest connection test (POST
// /api/providers/{name}/test), shown as GET /api/providers' "last_test" so
// that the Connection column survives a reload. It holds what the test
// answered in plain words, never the key or the provider's raw error: the
// messages come from explainProbe, which works on errors the provider
// client has already cut the key out of.
type lastTest struct {
	At         time.Time `json:"at"`
	OK         bool      `json:"ok"`
	LatencyMS  int64     `json:"latency_ms"`
	ModelCount int       `json:"model_count,omitempty"` // when OK
	Error      string    `json:"error,omitempty"`       // what went wrong, when not OK
	Code       string    `json:"code,omitempty"`        // its kind (explainProbe)
	HTTPStatus int       `json:"http_status,omitempty"` // the provider's own status, when it answered
}

// providerTests keeps each provider's last test in memory: a restart
// forgets them (the next test says it again), and changing or deleting a
// provider forgets its own, which no longer describes it. The zero value
// is ready to use.
type providerTests struct {
	mu sync.Mutex
	m  map[string]lastTest
}

func (t *providerTests) set(name string, lt lastTest) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]lastTest)
	}
	t.m[name] = lt
}

// get returns name's last test, nil when it has none.
func (t *providerTests) get(name string) *lastTest {
	t.mu.Lock()
	defer t.mu.Unlock()
	lt, ok := t.m[name]
	if !ok {
		return nil
	}
	return &lt
}

func (t *providerTests) forget(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, name)
}

// recordTest keeps a test's outcome as name's last test and tells the
// change feed, so that every open Providers screen shows it.
func (s *Server) recordTest(name string, lt lastTest) {
	lt.At = lt.At.UTC().Truncate(time.Second)
	s.tests.set(name, lt)
	s.events.Publish(events.Providers, nil)
}
