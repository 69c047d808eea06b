package gateway

import (
	"context"
	"testing"

	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/providers"
)

// A timeout cannot be provoked in a test without waiting out the probe's
// 15 s: its wording is checked on the error the client gives.
func TestExplainProbe_Timeout(t *testing.T) {
	p := config.Provider{Name: "slow", Type: "openai", BaseURL: "https://llm.example.com/v1"}
	f := explainProbe(p, &providers.Error{Provider: "slow", Kind: providers.KindTimeout, Err: context.DeadlineExceeded})
	want := "No answer from llm.example.com:443 within 15 s: the server is busy or hung, or a firewall drops the connection"
	if f.Code != "timeout" || f.Message != want {
		t.Errorf("got %q %q, want timeout %q", f.Code, f.Message, want)
	}
}
