package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/balance"
)

func keyFor(ep endpoint, body string) balance.Key {
	return affinityKey(&call{endpoint: ep, body: []byte(body)})
}

// Requests of one conversation share a key; other conversations do not.
func TestAffinityKey(t *testing.T) {
	tests := []struct {
		name       string
		ep         endpoint
		a, b       string
		same, none bool
	}{
		{"openai: later turns keep the opening", chatCompletions,
			`{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}]}`,
			`{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"},{"role":"assistant","content":"yo"},{"role":"user","content":"more"}],"stream":true}`,
			true, false},
		{"openai: another opening", chatCompletions,
			`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"m","messages":[{"role":"user","content":"hello"}]}`, false, false},
		{"openai: another system prompt", chatCompletions,
			`{"model":"m","messages":[{"role":"system","content":"a"},{"role":"user","content":"hi"}]}`,
			`{"model":"m","messages":[{"role":"developer","content":"b"},{"role":"user","content":"hi"}]}`, false, false},
		{"openai: user beats the messages", chatCompletions,
			`{"model":"m","user":"alice","messages":[{"role":"user","content":"one"}]}`,
			`{"messages":[{"role":"user","content":"two"}],"user":"alice","model":"m"}`, true, false},
		{"openai: prompt_cache_key", chatCompletions,
			`{"model":"m","prompt_cache_key":"conv-1","user":"a","messages":[{"role":"user","content":"one"}]}`,
			`{"model":"m","prompt_cache_key":"conv-1","user":"b","messages":[{"role":"user","content":"two"}]}`, true, false},
		{"openai: an empty user is none", chatCompletions,
			`{"model":"m","user":"","messages":[{"role":"user","content":"one"}]}`,
			`{"model":"m","user":"","messages":[{"role":"user","content":"two"}]}`, false, false},
		{"anthropic: metadata.user_id", messages,
			`{"model":"m","metadata":{"user_id":"u1"},"messages":[{"role":"user","content":"one"}]}`,
			`{"model":"m","metadata":{"user_id":"u1"},"system":"x","messages":[{"role":"user","content":"two"}]}`, true, false},
		{"anthropic: system and first message", messages,
			`{"model":"m","system":"s","messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"m","system":"s","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"x"},{"role":"user","content":"y"}]}`, true, false},
		{"anthropic: another system", messages,
			`{"model":"m","system":"s","messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"m","system":"t","messages":[{"role":"user","content":"hi"}]}`, false, false},
		{"responses: instructions and first input", responsesEndpoint,
			`{"model":"m","instructions":"i","input":[{"role":"user","content":"hi"}]}`,
			`{"model":"m","instructions":"i","input":[{"role":"user","content":"hi"},{"role":"user","content":"more"}]}`, true, false},
		{"responses: user", responsesEndpoint,
			`{"model":"m","user":"u","input":"one"}`, `{"model":"m","user":"u","input":"two"}`, true, false},
		{"embeddings: none without user", embeddings,
			`{"model":"m","input":"x"}`, `{"model":"m","input":"x"}`, true, true},
		{"completions: user", completions,
			`{"model":"m","prompt":"a","user":"u"}`, `{"model":"m","prompt":"b","user":"u"}`, true, false},
	}
	for _, tt := range tests {
		a, b := keyFor(tt.ep, tt.a), keyFor(tt.ep, tt.b)
		if (a == b) != tt.same {
			t.Errorf("%s: same key %v, want %v", tt.name, a == b, tt.same)
		}
		if (a == balance.Key{}) != tt.none {
			t.Errorf("%s: zero key %v, want %v", tt.name, a == balance.Key{}, tt.none)
		}
	}
}

// Malformed or cut bodies give the zero key or some key, never a panic.
func TestAffinityKey_MalformedBodies(t *testing.T) {
	full := `{"model":"m","metadata":{"user_id":"u\"1"},"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":"hi \\ there"}],"n":12,"t":true}`
	for i := range len(full) {
		for _, ep := range []endpoint{chatCompletions, messages, responsesEndpoint} {
			keyFor(ep, full[:i])
		}
	}
	for _, body := range []string{"", "[]", `"x"`, "{", `{"messages":`, `{"messages":[{]}`, `{"a" 1}`, `{"user":"u",}`, `{,}`} {
		keyFor(chatCompletions, body)
	}
}

func BenchmarkAffinityKey(b *testing.B) {
	body := []byte(`{"model":"m","stream":true,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write a haiku about load balancers."},` +
		`{"role":"assistant","content":"Requests flow like streams / weighted paths, the quiet pick / caches stay warm there"},{"role":"user","content":"Another, please."}],"temperature":0.7}`)
	c := &call{endpoint: chatCompletions, body: body}
	b.ReportAllocs()
	for b.Loop() {
		affinityKey(c)
	}
}

// A long conversation is scanned, not decoded: the key of a 200 KB body
// costs a pass over its bytes.
func BenchmarkAffinityKey_LongConversation(b *testing.B) {
	var sb []byte
	sb = append(sb, `{"model":"m","messages":[{"role":"system","content":"You are terse."}`...)
	for i := range 400 {
		sb = append(sb, fmt.Sprintf(`,{"role":"user","content":"question %d with some \"quoted\" text and a path C:\\\\tmp %s"}`, i, strings.Repeat("lorem ipsum ", 40))...)
	}
	sb = append(sb, `],"stream":true,"user":"alice"}`...)
	c := &call{endpoint: chatCompletions, body: sb}
	b.SetBytes(int64(len(sb)))
	b.ReportAllocs()
	for b.Loop() {
		affinityKey(c)
	}
}

// On any valid JSON object the scanner sees the same top-level members as
// encoding/json; on anything else it never panics.
func FuzzTopLevel(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":"x\"y","c":[1,{"d":"]"}],"e":{"f":null}}`, `{}`, ` { "k" : true } `, `{"s":"\\\\"}`, `[1]`, `{"a":"\\"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := map[string]string{}
		ok := topLevel(b, func(k, v []byte) { got[string(k)] = string(v) })
		var want map[string]json.RawMessage
		if json.Unmarshal(b, &want) != nil || want == nil {
			return
		}
		if !ok {
			t.Fatalf("valid object %q not walked", b)
		}
		for k, v := range want {
			if strings.Contains(k, `\`) || strings.ContainsAny(k, "\ufffd") {
				continue // escaped keys are compared raw
			}
			if g, found := got[k]; !found || !json.Valid([]byte(g)) || !jsonEqual(g, string(v)) {
				t.Fatalf("%q: key %q = %q, want %q", b, k, g, v)
			}
		}
	})
}

func jsonEqual(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && fmt.Sprint(x) == fmt.Sprint(y)
}
