package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
)

// The Anthropic SDK lists and gets models in Anthropic's own shape (it sends
// anthropic-version), paging through them; OpenAI clients keep theirs.
func TestModels_AnthropicSDK(t *testing.T) {
	e := newSDKEnv(t, wireOpenAI)
	for i := range 25 {
		e.h.route(fmt.Sprintf("m-%02d", i), e.backend)
	}
	c := anthropicClient(e)
	var ids []string
	iter := c.Models.ListAutoPaging(t.Context(), anthropic.ModelListParams{Limit: anthropic.Int(10)})
	for iter.Next() {
		m := iter.Current()
		if m.Type != "model" || m.DisplayName == "" || m.CreatedAt.IsZero() {
			t.Errorf("model %+v: want type, display name and creation time", m)
		}
		ids = append(ids, m.ID)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for i := range 25 {
		want[fmt.Sprintf("m-%02d", i)] = true
	}
	for _, id := range ids {
		delete(want, id)
	}
	if len(want) != 0 || len(ids) != 25 {
		t.Errorf("listed %d models %v; missing %v", len(ids), ids, want)
	}
	m, err := c.Models.Get(t.Context(), "m-03", anthropic.ModelGetParams{})
	if err != nil || m.ID != "m-03" || m.Type != "model" {
		t.Errorf("Get m-03 = %+v, %v", m, err)
	}
	// Without anthropic-version the answer stays OpenAI's.
	resp, body := e.h.do(e.h.request(http.MethodGet, "/v1/models", nil))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"object":"list"`) {
		t.Errorf("OpenAI list: %d %s", resp.StatusCode, body)
	}
}
