package redact

import "io"

// readSize is how much the reader asks its source for at once, as io.Copy.
const readSize = 32 << 10

// Reader returns rc with every needle cut out of what it yields.
//
// It adds no latency beyond what cutting needs: after each read from rc it
// passes on at once everything except the longest tail that could still
// grow into a needle (a proper prefix of one), and it passes that tail on
// when rc ends or fails. So a server-sent event that ends in "\n\n" is
// delivered as soon as it arrives, while a needle split across two reads
// ("sk-ab" | "cdef…") is still cut. rc's error, io.EOF included, is
// returned once everything before it has been read.
//
// Read is not safe for concurrent use; Close may be called while a Read
// blocks (it only closes rc), as with an http.Response body. A nil Cutter
// returns rc itself.
func (c *Cutter) Reader(rc io.ReadCloser) io.ReadCloser {
	if c == nil {
		return rc
	}
	return &reader{c: c, rc: rc}
}

type reader struct {
	c  *Cutter
	rc io.ReadCloser

	buf      []byte // read from rc; buf[heldFrom:heldTo] is not settled yet
	heldFrom int
	heldTo   int
	out      []byte // settled output not yet returned: a part of buf, or of cut
	cut      []byte // the settled output of a read in which a needle was cut
	next     []int  // the Cutter's scratch
	err      error  // rc's, returned when out is drained
}

func (r *reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.fill()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// fill reads once from rc and settles what it can. It is called only when
// out is drained, so the held bytes can move to the front of buf.
func (r *reader) fill() {
	if r.buf == nil { // not before the first Read: a body closed unread costs nothing
		r.buf = make([]byte, max(readSize, 2*r.c.maxLen))
		r.next = make([]int, len(r.c.needles))
	}
	held := copy(r.buf, r.buf[r.heldFrom:r.heldTo])
	n, err := r.rc.Read(r.buf[held:])
	pend := r.buf[:held+n]
	out, q, cut := r.c.scan(r.cut[:0], pend, err != nil, r.next)
	if cut {
		r.cut, r.out = out, out
	} else {
		r.out = pend[:q]
	}
	r.heldFrom, r.heldTo = q, len(pend)
	r.err = err
}

// Close closes rc.
func (r *reader) Close() error { return r.rc.Close() }
