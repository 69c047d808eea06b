package grammar

// Dist is the fewest bytes that complete the document from here (0: it is
// complete). A Constraint keeps it within the tokens left, so that an
// answer that reaches its token budget has been steered to its end: every
// byte-level tokenizer has a token for each byte, and the next byte of a
// shortest completion lowers Dist by one.
func (m *Matcher) Dist() int {
	f := &m.stack[m.depth-1]
	return int(f.tail) + m.cost(f)
}

// Complete reports whether the bytes so far are a whole document (which
// may still go on: a number can take more digits).
func (m *Matcher) Complete() bool { return m.Dist() == 0 && m.completeTop() }

func (m *Matcher) completeTop() bool {
	f := &m.stack[m.depth-1]
	if f.n == nil {
		return f.st == rSuffix && int(f.pos) == len(m.g.suffix)
	}
	switch f.st {
	case nZero, nInt, nFrac, nExp:
		return true
	case lIn:
		return len(f.n.lits[f.lo]) == int(f.pos)
	}
	return false
}

// Done reports whether the document is complete and nothing may follow.
func (m *Matcher) Done() bool {
	f := &m.stack[m.depth-1]
	return m.depth == 1 && f.st == rSuffix && int(f.pos) == len(m.g.suffix)
}

// cost is the fewest bytes that finish f's own value.
func (m *Matcher) cost(f *frame) int {
	if f.n == nil {
		if f.st == rPrefix {
			return len(m.g.prefix) - int(f.pos) + m.g.root.min + len(m.g.suffix)
		}
		if f.st == rSuffix {
			return len(m.g.suffix) - int(f.pos)
		}
		return 0
	}
	n := f.n
	switch f.st {
	case stStart:
		return n.min
	case oOpen:
		return 1 + n.reqCost(n.required, false)
	case oKey:
		return m.keyCost(f)
	case oColon:
		v := n.free
		if f.key >= 0 {
			v = m.valueOf(f, int(f.key))
		}
		return 1 + v.min + 1 + n.reqCost(n.required&^f.seen&^bit(f.key), true)
	case oAfter:
		return 1 + n.reqCost(n.required&^f.seen, true)
	case oNext:
		if n.free != nil {
			return 4 + n.free.min
		}
		if rem := n.required &^ f.seen; rem != 0 {
			return n.reqCost(rem, false) + 1
		}
		best := -1
		for k := range n.props {
			if allowed(f, k) && (best < 0 || n.entry(k) < best) {
				best = n.entry(k)
			}
		}
		return best + 1
	case aOpen:
		if n.minItems == 0 {
			return 1
		}
		return n.minItems*n.items.min + n.minItems - 1 + 1
	case aAfter:
		rem := max(0, n.minItems-int(f.cnt))
		return rem*(1+n.items.min) + 1
	case aNext:
		k := max(1, n.minItems-int(f.cnt))
		return k*n.items.min + k - 1 + 1
	case sBody:
		return max(0, n.minLen-int(f.pos)) + 1
	case sUTF:
		return int(f.u8n) + max(0, n.minLen-int(f.pos)) + 1
	case sEsc:
		return 1 + max(0, n.minLen-int(f.pos)) + 1
	case sHex:
		return int(f.cnt) + max(0, n.minLen-int(f.pos)) + 1
	case nMinus, nDot, nE, nESign:
		return 1
	case nZero, nInt, nFrac, nExp:
		return 0
	case lIn:
		best := -1
		for i := f.lo; i < f.hi; i++ {
			if c := len(n.lits[i]) - int(f.pos); best < 0 || c < best {
				best = c
			}
		}
		return best
	}
	return 0
}

// keyCost is the fewest bytes that finish the object from inside a key.
func (m *Matcher) keyCost(f *frame) int {
	n := f.n
	best := -1
	for i := f.lo; i < f.hi; i++ {
		k := n.keys[i].prop
		if !allowed(f, k) {
			continue
		}
		c := len(n.keys[i].rest) - int(f.pos) + 1 + m.valueOf(f, k).min + n.reqCost(n.required&^f.seen&^(1<<k), true) + 1
		if best < 0 || c < best {
			best = c
		}
	}
	return best
}
