package balance

import (
	"sync"
	"time"
)

// Key names a conversation: a truncated hash of what identifies it (the
// client's user id, or its system prompt and first message). The zero Key
// is no conversation. A hash, not the text, so the table holds no client
// data and its size is fixed.
type Key [16]byte

// affinity is a bounded LRU of Key -> member with an idle expiry: a
// conversation idle longer than idle is forgotten when next looked up,
// and when the table is full the least recently used one makes room.
// Entries live in one slice linked by index, so a full table reuses its
// slots and allocates nothing. Safe for concurrent use.
type affinity struct {
	size int
	idle int64 // nanoseconds
	now  func() time.Time

	mu         sync.Mutex // guards the rest
	index      map[Key]int32
	ents       []entry
	head, tail int32   // most and least recently used; -1 when empty
	free       []int32 // slots of expired entries
}

type entry struct {
	key        Key
	member     int32
	last       int64 // unix nanoseconds of the last put
	prev, next int32 // toward head, toward tail; -1 at the ends
}

func newAffinity(size int, idle time.Duration, now func() time.Time) *affinity {
	return &affinity{size: size, idle: int64(idle), now: now, index: map[Key]int32{}, head: -1, tail: -1}
}

// get returns the member key is bound to, unless the binding has been
// idle too long (then it is dropped).
func (a *affinity) get(key Key) (int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i, ok := a.index[key]
	if !ok {
		return 0, false
	}
	if a.now().UnixNano()-a.ents[i].last > a.idle {
		a.unlink(i)
		delete(a.index, key)
		a.free = append(a.free, i)
		return 0, false
	}
	return int(a.ents[i].member), true
}

// put binds key to member and makes it the most recently used.
func (a *affinity) put(key Key, member int) {
	now := a.now().UnixNano()
	a.mu.Lock()
	defer a.mu.Unlock()
	if i, ok := a.index[key]; ok {
		a.ents[i].member, a.ents[i].last = int32(member), now
		a.unlink(i)
		a.pushFront(i)
		return
	}
	var i int32
	switch {
	case len(a.free) > 0:
		i = a.free[len(a.free)-1]
		a.free = a.free[:len(a.free)-1]
	case len(a.ents) < a.size:
		a.ents = append(a.ents, entry{})
		i = int32(len(a.ents) - 1)
	default: // full: the least recently used makes room
		i = a.tail
		a.unlink(i)
		delete(a.index, a.ents[i].key)
	}
	a.ents[i] = entry{key: key, member: int32(member), last: now}
	a.index[key] = i
	a.pushFront(i)
}

func (a *affinity) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.index)
}

func (a *affinity) unlink(i int32) {
	e := &a.ents[i]
	if e.prev >= 0 {
		a.ents[e.prev].next = e.next
	} else {
		a.head = e.next
	}
	if e.next >= 0 {
		a.ents[e.next].prev = e.prev
	} else {
		a.tail = e.prev
	}
	e.prev, e.next = -1, -1
}

func (a *affinity) pushFront(i int32) {
	e := &a.ents[i]
	e.prev, e.next = -1, a.head
	if a.head >= 0 {
		a.ents[a.head].prev = i
	}
	a.head = i
	if a.tail < 0 {
		a.tail = i
	}
}
