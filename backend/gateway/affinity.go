package gateway

import (
	"bytes"
	"crypto/sha256"
	"hash"

	"github.com/modelbar/modelbar/backend/balance"
	"github.com/modelbar/modelbar/backend/protocol"
)

// Conversation affinity: the key that keeps a conversation's requests on
// one member of a group, so a prefix cache at that engine (vLLM,
// llama.cpp, a provider's prompt cache) keeps hitting. The key is the
// client's own name for the conversation or its user — OpenAI's user or
// prompt_cache_key, Anthropic's metadata.user_id, the Responses API's
// user or prompt_cache_key — else a hash of what every turn of a
// conversation repeats: the system prompt (or instructions) and the first
// message. The body is scanned, not decoded: a long conversation's
// messages are skipped over, and only the ones hashed are read.

// affinityKey is c's conversation key; the zero key when the request
// names none (an embedding, a completion without user, an empty body).
func affinityKey(c *call) balance.Key {
	var f affinityFields
	if !topLevel(c.body, f.note) {
		return balance.Key{}
	}
	if id := f.clientID(c.endpoint.protocol); id != nil {
		return hashKey('u', id)
	}
	switch {
	case c.endpoint.protocol == protocol.Anthropic && f.messages != nil:
		return hashKey('a', f.system, firstItem(f.messages))
	case c.endpoint.protocol == protocol.Responses && (f.input != nil || f.instructions != nil):
		first := f.input
		if len(first) > 0 && first[0] == '[' {
			first = firstItem(first)
		}
		return hashKey('r', f.instructions, first)
	case c.endpoint == chatCompletions && f.messages != nil:
		return hashKey('o', openAIOpening(f.messages))
	}
	return balance.Key{}
}

// affinityFields are the raw values of the top-level fields a key may
// come from; nil when absent.
type affinityFields struct {
	user, promptCacheKey, metadata        []byte
	system, instructions, messages, input []byte
}

func (f *affinityFields) note(key, value []byte) {
	switch string(key) {
	case "user":
		f.user = value
	case "prompt_cache_key":
		f.promptCacheKey = value
	case "metadata":
		f.metadata = value
	case "system":
		f.system = value
	case "instructions":
		f.instructions = value
	case "messages":
		f.messages = value
	case "input":
		f.input = value
	}
}

// clientID is the client's own conversation or user id: a non-empty JSON
// string, raw.
func (f *affinityFields) clientID(p protocol.Protocol) []byte {
	if p == protocol.Anthropic {
		var id []byte
		if f.metadata != nil {
			topLevel(f.metadata, func(k, v []byte) {
				if string(k) == "user_id" {
					id = v
				}
			})
		}
		return nonEmptyString(id)
	}
	if id := nonEmptyString(f.promptCacheKey); id != nil {
		return id
	}
	return nonEmptyString(f.user)
}

func nonEmptyString(v []byte) []byte {
	if len(v) > 2 && v[0] == '"' {
		return v
	}
	return nil
}

// openAIOpening is the part of an OpenAI messages array every turn
// repeats: its leading system and developer messages and the first
// message after them, as one raw span.
func openAIOpening(messages []byte) []byte {
	end := -1
	forEachItem(messages, func(item []byte, at int) bool {
		end = at + len(item)
		var role []byte
		topLevel(item, func(k, v []byte) {
			if string(k) == "role" {
				role = v
			}
		})
		return bytes.Equal(role, []byte(`"system"`)) || bytes.Equal(role, []byte(`"developer"`))
	})
	if end < 0 {
		return nil
	}
	return messages[:end]
}

// firstItem is the first element of a JSON array, raw; nil if none.
func firstItem(array []byte) []byte {
	var first []byte
	forEachItem(array, func(item []byte, _ int) bool {
		first = item
		return false
	})
	return first
}

// hashKey hashes a kind and the parts (nil parts count as absent, not as
// empty) into a key.
func hashKey(kind byte, parts ...[]byte) balance.Key {
	h := sha256.New()
	h.Write([]byte{kind})
	for _, p := range parts {
		writePart(h, p)
	}
	var sum [sha256.Size]byte
	var k balance.Key
	copy(k[:], h.Sum(sum[:0]))
	return k
}

func writePart(h hash.Hash, p []byte) {
	n := len(p)
	if p == nil {
		n = -1
	}
	h.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), byte(n >> 63)})
	h.Write(p)
}

// topLevel calls visit with each key (raw, without quotes) and raw value
// of the JSON object obj. It reports whether obj is an object it could
// walk; on malformed input it stops and reports false, never panics.
func topLevel(obj []byte, visit func(key, value []byte)) bool {
	i := skipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i = skipWS(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return true
	}
	for i < len(obj) && obj[i] == '"' {
		keyStart := i
		keyEnd := scanValue(obj, i)
		if keyEnd < 0 {
			return false
		}
		i = skipWS(obj, keyEnd)
		if i >= len(obj) || obj[i] != ':' {
			return false
		}
		i = skipWS(obj, i+1)
		end := scanValue(obj, i)
		if end < 0 {
			return false
		}
		visit(obj[keyStart+1:keyEnd-1], obj[i:end])
		i = skipWS(obj, end)
		switch {
		case i >= len(obj):
			return false
		case obj[i] == '}':
			return true
		case obj[i] != ',':
			return false
		}
		i = skipWS(obj, i+1)
	}
	return false
}

// forEachItem calls visit with each element of the JSON array arr (raw)
// and its offset in arr, until visit returns false or the array ends.
func forEachItem(arr []byte, visit func(item []byte, at int) bool) {
	i := skipWS(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return
	}
	for i = skipWS(arr, i+1); i < len(arr) && arr[i] != ']'; {
		end := scanValue(arr, i)
		if end < 0 || !visit(arr[i:end], i) {
			return
		}
		i = skipWS(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i = skipWS(arr, i+1)
		}
	}
}

// escaped reports whether the quote at b[i] is escaped: an odd run of
// backslashes before it.
func escaped(b []byte, i int) bool {
	n := 0
	for i--; i >= 0 && b[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// scanValue returns the offset just past the JSON value at b[i], or -1
// when it does not end within b. It finds the value's end; it does not
// check what lies inside (the envelope parser has checked the body).
func scanValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		for i++; i < len(b); {
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				return -1
			}
			i += j
			if !escaped(b, i) {
				return i + 1
			}
			i++
		}
		return -1
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end := scanValue(b, i)
				if end < 0 {
					return -1
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	start := i // a number, true, false or null
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			if i == start {
				return -1
			}
			return i
		}
	}
	if i == start {
		return -1
	}
	return i
}
