package grammar

import (
	"math/bits"
)

// Objects: keys from the declared properties (each once, required ones
// before the end) or free, values by their property's schema.

func (m *Matcher) object(f *frame, b byte) result {
	n := f.n
	switch f.st {
	case oOpen, oNext:
		switch {
		case isWS(b):
			return space(f, b)
		case b == '}' && f.st == oOpen && n.required == 0:
			return popped
		case b != '"':
			return reject
		case n.free != nil:
			if f.obj == 0 {
				m.objs++
				f.obj = m.objs
			}
			f.st, f.ws, f.key = oFreeKey, 0, -1
			m.set(m.depth-1, *f)
			if !m.push(frame{n: plainString, st: sBody, tail: f.tail + 2 + int32(n.free.min), h: fnvOffset}) {
				return reject
			}
			return took
		}
		f.st, f.ws, f.pos, f.lo, f.hi = oKey, 0, 0, 0, int32(len(n.keys))
		if !m.liveKeys(f) {
			return reject
		}
		return took
	case oKey:
		return m.key(f, b)
	case oColon:
		if isWS(b) {
			return space(f, b)
		}
		if b != ':' {
			return reject
		}
		f.st = oValue
		v := n.free
		if f.key >= 0 {
			v = m.valueOf(f, int(f.key))
		}
		after := 1 + int32(n.reqCost(n.required&^f.seen&^bit(f.key), true))
		f.ws = 0
		m.set(m.depth-1, *f)
		if !m.push(frame{n: v, tail: f.tail + after}) {
			return reject
		}
		return took
	case oAfter:
		switch {
		case isWS(b):
			return space(f, b)
		case b == ',' && m.more(f):
			f.st, f.ws = oNext, 0
			return took
		case b == '}' && n.required&^f.seen == 0:
			return popped
		}
	}
	return reject
}

func bit(k int32) uint64 {
	if k < 0 {
		return 0
	}
	return 1 << k
}

// valueOf is property k's schema (a tagged object's arguments depend on
// the name written before them).
func (m *Matcher) valueOf(f *frame, k int) *node {
	if f.n.tagged && k == 1 {
		return f.n.byTag[f.tag]
	}
	return f.n.props[k].value
}

// allowed reports whether property k may be written next.
func allowed(f *frame, k int) bool {
	if f.seen&(1<<k) != 0 {
		return false
	}
	if !f.n.ordered {
		return true
	}
	// In order: after the last written, and no required one skipped.
	if f.seen != 0 && k <= 63-bits.LeadingZeros64(f.seen) {
		return false
	}
	return f.n.required&^f.seen&(1<<k-1) == 0
}

// more reports whether another member may follow.
func (m *Matcher) more(f *frame) bool {
	if f.n.free != nil {
		return true
	}
	for k := range f.n.props {
		if allowed(f, k) {
			return true
		}
	}
	return false
}

// liveKeys reports whether a key in the candidates may still be written.
func (m *Matcher) liveKeys(f *frame) bool {
	for i := f.lo; i < f.hi; i++ {
		if allowed(f, f.n.keys[i].prop) {
			return true
		}
	}
	return false
}

func (m *Matcher) key(f *frame, b byte) result {
	keys := f.n.keys
	lo, hi := f.lo, f.hi
	for lo < hi && (len(keys[lo].rest) <= int(f.pos) || keys[lo].rest[f.pos] < b) {
		lo++
	}
	nhi := lo
	for nhi < hi && len(keys[nhi].rest) > int(f.pos) && keys[nhi].rest[f.pos] == b {
		nhi++
	}
	f.lo, f.hi = lo, nhi
	if !m.liveKeys(f) {
		return reject
	}
	f.pos++
	if len(keys[lo].rest) == int(f.pos) { // the closing quote: one key, complete
		f.st, f.key, f.ws = oColon, int32(keys[lo].prop), 0
	}
	return took
}
