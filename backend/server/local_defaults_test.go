package server

import (
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/config"
)

// Unset settings give the engine the machine's budget and the idle TTL
// GET /api/settings shows as the default.
func TestLimits_DefaultsAreTheOnesShown(t *testing.T) {
	budget, ttl := limits(config.Settings{}, 3<<30)
	if budget != 3<<30 || ttl != time.Duration(config.StaticDefaults["idle_ttl_minutes"])*time.Minute {
		t.Errorf("limits of unset settings: budget %d, ttl %v", budget, ttl)
	}
}
