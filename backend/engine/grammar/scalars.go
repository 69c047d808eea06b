package grammar

// Strings, numbers and literals: frames that never push.

func literal(f *frame, b byte) result {
	lits := f.n.lits
	lo, hi := f.lo, f.hi
	for lo < hi && (len(lits[lo]) <= int(f.pos) || lits[lo][f.pos] < b) {
		lo++
	}
	nhi := lo
	for nhi < hi && len(lits[nhi]) > int(f.pos) && lits[nhi][f.pos] == b {
		nhi++
	}
	if lo == nhi {
		if len(lits[f.lo]) == int(f.pos) {
			return pass
		}
		return reject
	}
	f.lo, f.hi = lo, nhi
	f.pos++
	if nhi-lo == 1 && len(lits[lo]) == int(f.pos) {
		return popped
	}
	return took
}

func number(f *frame, b byte) result {
	digit := b >= '0' && b <= '9'
	real := f.n.kind == kNumber
	switch f.st {
	case nMinus:
		switch {
		case b == '0':
			f.st = nZero
		case digit:
			f.st, f.pos = nInt, 1
		default:
			return reject
		}
		return took
	case nZero, nInt:
		switch {
		case digit && f.st == nInt && f.pos < maxInt:
			f.pos++
		case real && b == '.':
			f.st = nDot
		case real && (b == 'e' || b == 'E'):
			f.st = nE
		default:
			return pass
		}
		return took
	case nDot:
		if !digit {
			return reject
		}
		f.st, f.pos = nFrac, 1
		return took
	case nFrac:
		switch {
		case digit && f.pos < maxFrac:
			f.pos++
		case b == 'e' || b == 'E':
			f.st = nE
		default:
			return pass
		}
		return took
	case nE, nESign:
		switch {
		case digit:
			f.st, f.pos = nExp, 1
		case f.st == nE && (b == '+' || b == '-'):
			f.st = nESign
		default:
			return reject
		}
		return took
	case nExp:
		if digit && f.pos < maxExp {
			f.pos++
			return took
		}
		return pass
	}
	return reject
}

func str(f *frame, b byte) result {
	n := f.n
	room := n.maxLen < 0 || int(f.pos) < n.maxLen
	switch f.st {
	case sBody:
		switch {
		case b == '"':
			if int(f.pos) < n.minLen {
				return reject
			}
			return popped
		case !room || b < 0x20:
			return reject
		case b == '\\':
			f.st = sEsc
		case b < 0x80:
		default:
			if !utf8Lead(f, b) {
				return reject
			}
			f.st = sUTF
		}
		f.pos++
		return took
	case sUTF:
		if b < f.u8lo || b > f.u8hi {
			return reject
		}
		f.u8lo, f.u8hi = 0x80, 0xBF
		if f.u8n--; f.u8n == 0 {
			f.st = sBody
		}
		return took
	case sEsc:
		switch b {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			f.st = sBody
		case 'u':
			f.st, f.cnt = sHex, 4
		default:
			return reject
		}
		return took
	case sHex:
		if !isHex(b) {
			return reject
		}
		// No surrogates: a pair is one character, a lone one not a
		// character; either would miscount the length.
		if f.cnt == 3 && (f.u8lo == 'd' || f.u8lo == 'D') && !(b >= '0' && b <= '7') {
			return reject
		}
		f.u8lo = b
		if f.cnt--; f.cnt == 0 {
			f.st, f.u8lo = sBody, 0
		}
		return took
	}
	return reject
}

func isHex(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}

// utf8Lead sets up the continuation bytes of a character that starts with
// b (well-formed UTF-8 only: no overlong forms, surrogates or values past
// U+10FFFF).
func utf8Lead(f *frame, b byte) bool {
	f.u8lo, f.u8hi = 0x80, 0xBF
	switch {
	case b >= 0xC2 && b <= 0xDF:
		f.u8n = 1
	case b == 0xE0:
		f.u8n, f.u8lo = 2, 0xA0
	case b == 0xED:
		f.u8n, f.u8hi = 2, 0x9F
	case b >= 0xE1 && b <= 0xEF:
		f.u8n = 2
	case b == 0xF0:
		f.u8n, f.u8lo = 3, 0x90
	case b >= 0xF1 && b <= 0xF3:
		f.u8n = 3
	case b == 0xF4:
		f.u8n, f.u8hi = 3, 0x8F
	default:
		return false
	}
	return true
}
