package grammar

// The matcher is a pushdown automaton over bytes: a stack of frames, one
// per JSON value being written, each in a small state of its own kind.
// Every write to the stack is logged with the value it replaced, so that
// the trie walk of a mask can try a byte and take it back in constant
// time (mark, feed, restore) without copying the stack.

import "slices"

const (
	maxDepth = 64 // nesting of values being written
	maxWS    = 16 // consecutive whitespace bytes between tokens
	maxInt   = 16 // digits before the point
	maxFrac  = 16 // digits after it
	maxExp   = 2  // digits of an exponent (1e99 parses; 1e999 would not)
)

// Frame states. stStart is a value not begun (whitespace may come first).
const (
	stStart uint8 = iota
	// object
	oOpen    // after '{'
	oKey     // inside a declared key
	oFreeKey // a free key: a string frame is above
	oColon   // after a key
	oValue   // a value frame is above
	oAfter   // after a member
	oNext    // after ','
	// array
	aOpen
	aItem // an item frame is above
	aAfter
	aNext
	// string
	sBody
	sUTF // inside a multi-byte character
	sEsc // after '\'
	sHex // inside \uXXXX
	// number
	nMinus
	nZero // complete
	nInt  // complete
	nDot
	nFrac // complete
	nE
	nESign
	nExp // complete
	// literal
	lIn
	// root
	rPrefix
	rValue
	rSuffix
)

type frame struct {
	n          *node // nil: the root frame
	st         uint8
	ws         uint8  // whitespace bytes in a row
	u8n        uint8  // continuation bytes to come
	u8lo, u8hi uint8  // range of the next continuation byte
	pos        int32  // literal/key/suffix byte; string characters; digits of the current part
	lo, hi     int32  // literal/key candidates
	cnt        int32  // array items written; hex digits to come
	key        int32  // object: the current member's property (-1: free key)
	tag        int32  // tagged object: the name literal's index
	seen       uint64 // object: properties written
	tail       int32  // fewest bytes after this value to finish the document
	obj        int32  // object with free keys: its number in the document (0: none yet)
	h          uint64 // free key: FNV-1a hash of its bytes so far
}

type undo struct {
	i int32
	f frame
}

// Matcher is the automaton's state. Not safe for concurrent use.
type Matcher struct {
	g     *Grammar
	stack []frame
	depth int
	log   []undo
	// keys are the free keys written, by object number and hash: a key
	// may not repeat in its object. Kept for the whole document (a few
	// bytes a key); the undo of a mark truncates it.
	keys []freeKey
	objs int32 // object numbers given out
}

type freeKey struct {
	obj int32
	h   uint64
}

// NewMatcher starts matching a document of g.
func (g *Grammar) NewMatcher() *Matcher {
	m := &Matcher{g: g, stack: make([]frame, maxDepth+2)}
	if len(g.prefix) > 0 {
		m.stack[0] = frame{st: rPrefix}
		m.depth = 1
		return m
	}
	m.stack[0] = frame{st: rValue}
	m.stack[1] = frame{n: g.root, tail: int32(len(g.suffix))}
	m.depth = 2
	return m
}

type mark struct{ log, depth, keys int }

func (m *Matcher) mark() mark { return mark{len(m.log), m.depth, len(m.keys)} }

func (m *Matcher) restore(k mark) {
	for i := len(m.log) - 1; i >= k.log; i-- {
		m.stack[m.log[i].i] = m.log[i].f
	}
	m.log, m.depth, m.keys = m.log[:k.log], k.depth, m.keys[:k.keys]
}

func (m *Matcher) set(i int, f frame) {
	m.log = append(m.log, undo{int32(i), m.stack[i]})
	m.stack[i] = f
}

// commit forgets the undo log (after an accepted token).
func (m *Matcher) commit() { m.log = m.log[:0] }

func (m *Matcher) push(f frame) bool {
	if m.depth == len(m.stack) {
		return false
	}
	m.set(m.depth, f)
	m.depth++
	return true
}

// Feed consumes bytes; false (and the state unchanged) if one is not
// allowed.
func (m *Matcher) Feed(bs []byte) bool {
	k := m.mark()
	for _, b := range bs {
		if !m.feed(b) {
			m.restore(k)
			return false
		}
	}
	m.commit()
	return true
}

type result uint8

const (
	reject result = iota
	took          // consumed
	pass          // the top value is complete: pop it, give the byte to its parent
	pushed        // a child was pushed: give it the byte
	popped        // consumed, and the value ended
)

func (m *Matcher) feed(b byte) bool {
	for {
		i := m.depth - 1
		f := m.stack[i]
		r := m.step(&f, b)
		switch r {
		case reject:
			return false
		case took:
			if i > 0 && m.stack[i-1].st == oFreeKey { // a free key's byte
				f.h = (f.h ^ uint64(b)) * fnvPrime
			}
			m.set(i, f)
			return true
		case pushed:
			continue
		case popped:
			m.depth--
			return m.childDone(f)
		case pass:
			m.depth--
			if !m.childDone(f) {
				return false
			}
		}
	}
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// childDone tells the frame below a finished value; false if it refuses
// it (a free key its object already has).
func (m *Matcher) childDone(child frame) bool {
	i := m.depth - 1
	f := m.stack[i]
	switch f.st {
	case rValue:
		f.st, f.pos, f.ws = rSuffix, 0, 0
	case oFreeKey:
		k := freeKey{f.obj, child.h}
		if slices.Contains(m.keys, k) {
			return false
		}
		m.keys = append(m.keys, k)
		f.st, f.ws = oColon, 0
	case oValue:
		if f.key >= 0 {
			f.seen |= 1 << f.key
		}
		if f.n.tagged && f.key == 0 {
			f.tag = child.lo
		}
		f.st, f.ws = oAfter, 0
	case aItem:
		f.cnt++
		f.st, f.ws = aAfter, 0
	}
	m.set(i, f)
	return true
}

func isWS(b byte) bool { return b == ' ' || b == '\n' || b == '\t' || b == '\r' }

// space takes a whitespace byte where one may stand.
func space(f *frame, b byte) result {
	if isWS(b) && f.ws < maxWS {
		f.ws++
		return took
	}
	return reject
}

func (m *Matcher) step(f *frame, b byte) result {
	if f.n == nil {
		return m.root(f, b)
	}
	if f.st == stStart {
		return m.start(f, b)
	}
	switch f.n.kind {
	case kObject:
		return m.object(f, b)
	case kArray:
		return m.array(f, b)
	case kString:
		return str(f, b)
	case kNumber, kInteger:
		return number(f, b)
	case kLiteral:
		return literal(f, b)
	}
	return reject
}

func (m *Matcher) root(f *frame, b byte) result {
	if f.st == rPrefix {
		if f.pos == 0 && m.g.lead && b == '\n' {
			return space(f, b)
		}
		if m.g.prefix[f.pos] != b {
			return reject
		}
		if f.pos++; int(f.pos) < len(m.g.prefix) {
			return took
		}
		f.st, f.pos = rValue, 0
		m.set(m.depth-1, *f)
		if !m.push(frame{n: m.g.root, tail: int32(len(m.g.suffix))}) {
			return reject
		}
		return took
	}
	s := m.g.suffix
	if f.st != rSuffix || int(f.pos) >= len(s) {
		return reject
	}
	if f.pos == 0 && isWS(b) && !isWS(s[0]) {
		return space(f, b)
	}
	if s[f.pos] != b {
		return reject
	}
	f.pos++
	return took
}

// start begins a value with its first byte.
func (m *Matcher) start(f *frame, b byte) result {
	if isWS(b) {
		// Not before the document (an answer starts with its JSON), but
		// after a tool call's opening tag, where models put a newline.
		if m.depth == 2 && len(m.g.suffix) == 0 {
			return reject
		}
		return space(f, b)
	}
	n := f.n
	if n.kind == kUnion {
		n = pick(n, b)
		if n == nil {
			return reject
		}
		f.n = n
	}
	f.ws = 0
	switch n.kind {
	case kObject:
		if b != '{' {
			return reject
		}
		f.st = oOpen
	case kArray:
		if b != '[' {
			return reject
		}
		f.st = aOpen
	case kString:
		if b != '"' {
			return reject
		}
		f.st = sBody
	case kNumber, kInteger:
		switch {
		case b == '-':
			f.st = nMinus
		case b == '0':
			f.st = nZero
		case b >= '1' && b <= '9':
			f.st, f.pos = nInt, 1
		default:
			return reject
		}
	case kLiteral:
		f.st, f.pos, f.lo, f.hi = lIn, 0, 0, int32(len(n.lits))
		return literal(f, b)
	}
	return took
}

func pick(n *node, b byte) *node {
	for _, a := range n.alts {
		if f := firsts(a); f[b/64]&(1<<(b%64)) != 0 {
			if a.kind == kUnion {
				return pick(a, b)
			}
			return a
		}
	}
	return nil
}

func (m *Matcher) array(f *frame, b byte) result {
	n := f.n
	switch f.st {
	case aOpen, aNext:
		if isWS(b) {
			return space(f, b)
		}
		if b == ']' && f.st == aOpen && n.minItems == 0 {
			return popped
		}
		if b == ']' || (n.maxItems >= 0 && int(f.cnt) >= n.maxItems) {
			return reject
		}
		return m.child(f, n.items, m.arrayAfter(f))
	case aAfter:
		switch {
		case isWS(b):
			return space(f, b)
		case b == ',' && (n.maxItems < 0 || int(f.cnt) < n.maxItems):
			f.st, f.ws = aNext, 0
			return took
		case b == ']' && int(f.cnt) >= n.minItems:
			return popped
		}
	}
	return reject
}

// arrayAfter is the fewest bytes after the next item to close the array.
func (m *Matcher) arrayAfter(f *frame) int32 {
	n := f.n
	rest := n.minItems - int(f.cnt) - 1
	if rest <= 0 {
		return 1
	}
	return int32(rest*(1+n.items.min) + 1)
}

// child pushes a value frame above f (which becomes st) and gives it the
// byte.
func (m *Matcher) child(f *frame, n *node, after int32) result {
	switch f.n.kind {
	case kArray:
		f.st = aItem
	}
	f.ws = 0
	i := m.depth - 1
	m.set(i, *f)
	if !m.push(frame{n: n, tail: f.tail + after}) {
		return reject
	}
	return pushed
}

// plainString reports whether the matcher is inside a string, between
// characters (where any plain text continues it), with the string's
// characters so far and its length limits.
func (m *Matcher) plainString() (pos, minLen, maxLen int, ok bool) {
	f := &m.stack[m.depth-1]
	if f.n == nil || f.n.kind != kString || f.st != sBody {
		return 0, 0, 0, false
	}
	return int(f.pos), f.n.minLen, f.n.maxLen, true
}
