package gateway

import (
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/reqlog"
)

// The defaults GET /api/settings shows are the ones in force: what the
// failover policy, the resource limits and the request log apply to an
// unset setting.
func TestSettingsDefaults_AreTheOnesApplied(t *testing.T) {
	p := newPolicy(config.Settings{})
	d := config.StaticDefaults
	s := time.Second
	for key, got := range map[string]time.Duration{
		"max_retries":                 time.Duration(p.MaxRetries),
		"retry_backoff_ms":            p.Backoff / time.Millisecond,
		"retry_backoff_max_ms":        p.BackoffMax / time.Millisecond,
		"request_timeout_seconds":     p.RequestTimeout / s,
		"connect_timeout_seconds":     p.ConnectTimeout / s,
		"first_byte_timeout_seconds":  p.FirstByteTimeout(true) / s,
		"stream_idle_timeout_seconds": p.StreamIdle / s,
		"cooldown_failures":           time.Duration(p.CooldownFailures),
		"cooldown_seconds":            p.Cooldown / s,
		"request_log_retention_days":  reqlog.DefaultRetention / (24 * time.Hour),
		"body_read_timeout_seconds":   defaultBodyReadTimeout / s,
		"max_connections":             defaultMaxConnections,
		"max_inflight_requests":       defaultMaxInflight,
		"translation_budget_mb":       defaultTranslationBudget >> 20,
	} {
		if int64(got) != d[key] {
			t.Errorf("%s: applied %d, shown %d", key, got, d[key])
		}
	}
}
