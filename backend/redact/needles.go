package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
)

const (
	// minSecret is the shortest secret that is cut at all: a shorter one
	// would match ordinary text everywhere.
	minSecret = 4
	// minEncoded is the shortest secret whose encoded forms are cut too:
	// the base64 of a short secret is a handful of characters that turn up
	// by chance in any long base64 string.
	minEncoded = 8
)

// Needles returns the forms of secret a careless server may echo, for a
// Cutter to cut: the secret itself and, for secrets of 8 bytes or more,
//
//   - its JSON-escaped forms (Go's json.Marshal with and without HTML
//     escaping, and either with "/" written as `\/`, as PHP does);
//   - its percent-encoded forms (url.QueryEscape, url.PathEscape);
//   - its base64 in the standard and URL alphabets, padded and unpadded;
//   - and, for both alphabets and each of the three byte alignments, the
//     base64 characters that only the secret's bits determine, which is how
//     the secret shows inside a longer base64 string ("user:"+secret in a
//     Basic credential, a JSON document holding it). Up to one character at
//     each end of such a run mixes the secret's bits with its neighbours'
//     and is left in place: at most 4 bits of the secret per end.
//
// Forms equal to one already listed are left out. A secret shorter than 4
// bytes has no needles: it would match ordinary text everywhere.
func Needles(secret string) [][]byte {
	if len(secret) < minSecret {
		return nil
	}
	forms := []string{secret}
	if len(secret) >= minEncoded {
		forms = append(forms, jsonForms(secret)...)
		forms = append(forms, url.QueryEscape(secret), url.PathEscape(secret))
		forms = append(forms, base64Forms(secret)...)
	}
	seen := make(map[string]bool, len(forms))
	needles := make([][]byte, 0, len(forms))
	for _, f := range forms {
		if f != "" && !seen[f] {
			seen[f] = true
			needles = append(needles, []byte(f))
		}
	}
	return needles
}

// jsonForms are the ways a JSON encoder may write s inside a string.
func jsonForms(s string) []string {
	html, _ := json.Marshal(s) // a string always marshals
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	forms := []string{unquote(html), unquote(bytes.TrimSuffix(plain.Bytes(), []byte("\n")))}
	for _, f := range forms[:2] {
		forms = append(forms, strings.ReplaceAll(f, "/", `\/`))
	}
	return forms
}

func unquote(quoted []byte) string { return string(quoted[1 : len(quoted)-1]) }

// base64Forms are s's whole encodings and the runs of characters that
// encode s alone wherever it starts inside a longer encoded string.
func base64Forms(s string) []string {
	var forms []string
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		forms = append(forms, enc.EncodeToString([]byte(s)))
	}
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		for align := range 3 {
			forms = append(forms, alignedRun(enc, s, align))
		}
	}
	return forms
}

// alignedRun encodes s as if it started align bytes into a longer string
// and keeps the characters whose 6 bits all come from s: character i holds
// bits [6i, 6i+6), s holds bits [8*align, 8*(align+len(s))).
func alignedRun(enc *base64.Encoding, s string, align int) string {
	b := make([]byte, align+len(s)) // the leading zero bytes stand for any neighbours
	copy(b[align:], s)
	encoded := enc.EncodeToString(b)
	first := (8*align + 5) / 6
	end := 8 * (align + len(s)) / 6
	return encoded[first:end]
}
