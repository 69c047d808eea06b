package cpu

// buffer is recycled float32 storage shared by an Array and its views.
type buffer struct {
	data []float32
	refs int // live arrays using data; 0 means it is on the free list
}

// array is the CPU backend's tensor.Array: a view of rows×cols values of
// a buffer starting at off.
type array struct {
	b          *Backend
	buf        *buffer
	off        int
	rows, cols int
	live       bool // false once released
}

// Shape reports rows and cols.
func (a *array) Shape() (rows, cols int) { return a.rows, a.cols }

// data is the array's values.
func (a *array) data() []float32 {
	n := a.rows * a.cols
	return a.buf.data[a.off : a.off+n : a.off+n]
}

// row is row i of the array.
func (a *array) row(i int) []float32 {
	s := a.off + i*a.cols
	return a.buf.data[s : s+a.cols : s+a.cols]
}

// arena hands out arrays for one Run at a time. Buffers return to the free
// list when their last array is released; array headers are reused from
// the next Run on. Neither is freed to the garbage collector: the arena
// keeps the peak working set of a step (which is why the model prefills in
// bounded chunks).
type arena struct {
	free    []*buffer // buffers with refs == 0
	headers []*array  // headers[:used] were handed out in this Run
	used    int
}

// alloc returns a live rows×cols array with unspecified contents.
func (ar *arena) alloc(b *Backend, rows, cols int) *array {
	buf := ar.buffer(rows * cols)
	return ar.header(b, buf, 0, rows, cols)
}

// view returns a live array sharing src's buffer.
func (ar *arena) view(src *array, off, rows, cols int) *array {
	return ar.header(src.b, src.buf, src.off+off, rows, cols)
}

func (ar *arena) header(b *Backend, buf *buffer, off, rows, cols int) *array {
	if ar.used == len(ar.headers) {
		ar.headers = append(ar.headers, new(array))
	}
	a := ar.headers[ar.used]
	ar.used++
	*a = array{b: b, buf: buf, off: off, rows: rows, cols: cols, live: true}
	buf.refs++
	return a
}

// buffer takes the smallest free buffer that holds n values, or makes one.
func (ar *arena) buffer(n int) *buffer {
	best := -1
	for i, f := range ar.free {
		if cap(f.data) >= n && (best < 0 || cap(f.data) < cap(ar.free[best].data)) {
			best = i
		}
	}
	if best < 0 {
		return &buffer{data: make([]float32, n)}
	}
	f := ar.free[best]
	last := len(ar.free) - 1
	ar.free[best] = ar.free[last]
	ar.free = ar.free[:last]
	f.data = f.data[:cap(f.data)]
	return f
}

// release ends one array's use of its buffer.
func (ar *arena) release(a *array) {
	if !a.live {
		return
	}
	a.live = false
	a.buf.refs--
	if a.buf.refs == 0 {
		ar.free = append(ar.free, a.buf)
	}
}

// reset releases every array of the Run; their headers become reusable.
func (ar *arena) reset() {
	for _, a := range ar.headers[:ar.used] {
		ar.release(a)
		a.buf = nil
	}
	ar.used = 0
}
