package tokenizer

// GPT-2's byte-level alphabet: every byte is written as one printable
// character, so that a byte-level vocabulary can hold any byte sequence as a
// string. Bytes that are printable Latin-1 (except the space and the soft
// hyphen) stand for themselves; the others are shifted to U+0100 onwards.
var (
	byteToRune [256]rune
	runeToByte = make(map[rune]byte, 256)
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		r := rune(b)
		if !(b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF) {
			r = rune(256 + n)
			n++
		}
		byteToRune[b] = r
		runeToByte[r] = byte(b)
	}
}

// byteLevelDecode maps a byte-level token back to the bytes it stands for.
// ok is false when the token holds a character outside the alphabet.
func byteLevelDecode(token string) (out []byte, ok bool) {
	out = make([]byte, 0, len(token))
	for _, r := range token {
		b, found := runeToByte[r]
		if !found {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}
