package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// oddKey has every character some encoding writes differently.
const oddKey = `sk-a/b<c>&d"e\f+g=h?i%j k`

func TestNeedles_Forms(t *testing.T) {
	jsonHTML, _ := json.Marshal(oddKey)
	tests := []struct {
		name   string
		secret string
		want   []string // among the needles
		count  int      // -1: not checked
	}{
		{"too short", "abc", nil, 0},
		{"short: raw only", "sk-abcd", []string{"sk-abcd"}, 1},
		{"plain key: raw and base64", "sk-abcdefgh", []string{"sk-abcdefgh", base64.StdEncoding.EncodeToString([]byte("sk-abcdefgh"))}, -1},
		{"json, html-escaped", oddKey, []string{string(jsonHTML[1 : len(jsonHTML)-1])}, -1},
		{"json, plain", oddKey, []string{`sk-a/b<c>&d\"e\\f+g=h?i%j k`}, -1},
		{"json, slash escaped", oddKey, []string{`sk-a\/b<c>&d\"e\\f+g=h?i%j k`, `sk-a\/b\u003cc\u003e\u0026d\"e\\f+g=h?i%j k`}, -1},
		{"percent-encoded", oddKey, []string{url.QueryEscape(oddKey), url.PathEscape(oddKey)}, -1},
		{"base64 whole", oddKey, []string{
			base64.StdEncoding.EncodeToString([]byte(oddKey)), base64.URLEncoding.EncodeToString([]byte(oddKey)),
			base64.RawStdEncoding.EncodeToString([]byte(oddKey)), base64.RawURLEncoding.EncodeToString([]byte(oddKey)),
		}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Needles(tt.secret)
			if tt.count >= 0 && len(got) != tt.count {
				t.Errorf("Needles(%q) has %d needles, want %d: %q", tt.secret, len(got), tt.count, got)
			}
			for _, w := range tt.want {
				if !containsNeedle(got, w) {
					t.Errorf("Needles(%q) lacks %q: %q", tt.secret, w, got)
				}
			}
			seen := map[string]bool{}
			for _, n := range got {
				if seen[string(n)] {
					t.Errorf("needle %q listed twice", n)
				}
				seen[string(n)] = true
			}
		})
	}
}

func containsNeedle(needles [][]byte, s string) bool {
	for _, n := range needles {
		if string(n) == s {
			return true
		}
	}
	return false
}

// TestNeedles_FindTheKeyInsideLongerBase64 encodes documents that hold the
// key at every byte alignment, in every alphabet, and checks that what the
// Cutter leaves no longer decodes to most of the key.
func TestNeedles_FindTheKeyInsideLongerBase64(t *testing.T) {
	keys := []string{"sk-proj-Abc123_-XYZ789abcdefghijklmnop", "sk-ant-api03-" + strings.Repeat("Zz9~", 9), oddKey}
	wrappers := []string{"%s", "u%s", "us%s", "user:%s", "user:%s\n", `{"api_key":"%s","n":1}`, "Bearer %s!!"}
	encodings := map[string]*base64.Encoding{"std": base64.StdEncoding, "url": base64.URLEncoding, "raw std": base64.RawStdEncoding, "raw url": base64.RawURLEncoding}
	for _, key := range keys {
		c := NewCutter(Needles(key))
		for _, w := range wrappers {
			for name, enc := range encodings {
				doc := fmt.Sprintf(w, key)
				encoded := enc.EncodeToString([]byte(doc))
				got := string(c.Cut([]byte("<" + encoded + ">")))
				if leak := leakedForm(got, key); leak != "" {
					t.Errorf("key %q in %q, %s base64: %q still shows %q", key, w, name, got, leak)
				}
				if !strings.Contains(got, redacted) || got[0] != '<' || got[len(got)-1] != '>' {
					t.Errorf("key %q in %q, %s base64: got %q", key, w, name, got)
				}
			}
		}
	}
}

// leakedForm returns a form of key found in s, or "": the key itself, its
// middle (key minus 3 bytes at each end) raw, and the base64 characters
// that encode its middle alone at each alignment, in either alphabet. Any
// of these would let a reader recover all but 6 bytes of the key. It is
// worked out independently of Needles, as a check on it.
func leakedForm(s, key string) string {
	mid := key[3 : len(key)-3]
	probes := []string{key, mid}
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		for pad := range 3 {
			e := enc.EncodeToString([]byte(strings.Repeat("\x00", pad) + mid))
			probes = append(probes, e[3:len(e)-2]) // drop characters mixed with the neighbours
		}
	}
	for _, p := range probes {
		if strings.Contains(s, p) {
			return p
		}
	}
	return ""
}

func TestCutter_CutIsLeftmostLongest(t *testing.T) {
	tests := []struct {
		name    string
		needles []string
		in      string
		want    string
	}{
		{"none", []string{"secret"}, "nothing here", "nothing here"},
		{"one", []string{"secret"}, "a secret b", "a [REDACTED] b"},
		{"several", []string{"secret"}, "secretsecret secret", "[REDACTED][REDACTED] [REDACTED]"},
		{"longest at a position", []string{"abc", "abcdef"}, "xabcdefy", "x[REDACTED]y"},
		{"shorter when the longer fails", []string{"abc", "abcdef"}, "xabcdey", "x[REDACTED]dey"},
		{"leftmost beats longer later", []string{"bcd", "cdefgh"}, "abcdefgh", "a[REDACTED]efgh"},
		{"overlap restarts after the match", []string{"aab"}, "aaab", "a[REDACTED]"},
		{"at the ends", []string{"key1"}, "key1 key1", "[REDACTED] [REDACTED]"},
		{"empty input", []string{"key1"}, "", ""},
		{"empty needle ignored", []string{"", "key1"}, "a key1", "a [REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var needles [][]byte
			for _, n := range tt.needles {
				needles = append(needles, []byte(n))
			}
			c := NewCutter(needles)
			if got := string(c.Cut([]byte(tt.in))); got != tt.want {
				t.Errorf("Cut(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := c.CutString(tt.in); got != tt.want {
				t.Errorf("CutString(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := refCut(needles, []byte(tt.in), true); string(got) != tt.want {
				t.Errorf("the reference cuts %q to %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCutter_CleanInputIsNotCopied(t *testing.T) {
	for _, key := range []string{"sk-proj-abcdefghijklmnopqrstuvwxyz0123456789", oddKey} {
		c := NewCutter(Needles(key))
		b := []byte("application/json; charset=utf-8, and a value longer than 32 bytes")
		if got := c.Cut(b); &got[0] != &b[0] {
			t.Error("Cut copied input that holds no needle")
		}
		s := string(b)
		if n := testing.AllocsPerRun(100, func() { _ = c.CutString(s); _ = c.Cut(b) }); n != 0 {
			t.Errorf("%d needles: Cut and CutString of clean input allocate %v times", len(c.needles), n)
		}
	}
}

func TestCutter_NilCutsNothingAndPrintsNoSecret(t *testing.T) {
	if c := NewCutter(Needles("ab")); c != nil {
		t.Fatalf("NewCutter of a too-short secret = %v, want nil", c)
	}
	var c *Cutter
	if string(c.Cut([]byte("ab"))) != "ab" || c.CutString("ab") != "ab" {
		t.Error("a nil Cutter changed its input")
	}
	c = NewCutter(Needles(oddKey))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		got := fmt.Sprintf(verb, struct{ C *Cutter }{c})
		if !strings.Contains(got, redacted) || strings.Contains(got, "sk-a") {
			t.Errorf("Sprintf(%q) = %q", verb, got)
		}
	}
}

// refCut is the specification the Cutter and its reader are checked
// against, written for clarity, not speed: scanning from the start, unless
// final, stop where the rest could grow into a needle; where needles
// start, replace the longest; otherwise keep the byte.
func refCut(needles [][]byte, in []byte, final bool) []byte {
	out := []byte{}
	for i := 0; i < len(in); {
		rest := in[i:]
		longest := 0
		for _, n := range needles {
			if len(n) == 0 {
				continue
			}
			if !final && len(n) > len(rest) && bytes.HasPrefix(n, rest) {
				return out
			}
			if len(n) > longest && bytes.HasPrefix(rest, n) {
				longest = len(n)
			}
		}
		if longest > 0 {
			out = append(out, redacted...)
			i += longest
			continue
		}
		out = append(out, in[i])
		i++
	}
	return out
}

func TestRefCut_HoldsWhatCouldGrowIntoANeedle(t *testing.T) {
	needles := [][]byte{[]byte("abc"), []byte("abcdef")}
	for in, want := range map[string]string{"xab": "x", "xabc": "x", "xabcdef": "x[REDACTED]", "xabcx": "x[REDACTED]x", "abd": "abd"} {
		if diff := cmp.Diff(want, string(refCut(needles, []byte(in), false))); diff != "" {
			t.Errorf("refCut(%q) (-want +got):\n%s", in, diff)
		}
	}
}
