package modelfile

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
)

// Model is a model directory opened for inference: its validated Config
// and its tensors, memory-mapped read-only where the system allows (so
// the weights of a multi-gigabyte model are paged in from the file, not
// copied into the Go heap). Its methods are safe for concurrent use;
// the Tensors it returns are valid until Close. The files must not be
// truncated while the Model is open (with a mapping, reading a vanished
// page kills the process); Hugging Face cache blobs never are.
type Model struct {
	dir     string
	cfg     Config
	quant   map[string]*Quantization // matrix prefix → its quantization, nil if float
	tensors map[string]Tensor
	size    int64

	mu       sync.Mutex // guards closed and releases
	closed   bool
	releases []func() error // unmap (or drop) each file's contents
}

var _ Weights = (*Model)(nil)

// Open reads the model in dir: config.json (and generation_config.json),
// then the safetensors files (model.safetensors, or the shards of
// model.safetensors.index.json), validating every header against its file
// and every tensor the architecture needs against the config. Errors wrap
// the package's sentinels inside a *FieldError or *TensorError naming
// the file and the field or tensor.
func Open(dir string) (*Model, error) {
	mc, cat, quant, err := inspect(dir)
	if err != nil {
		return nil, err
	}
	m := &Model{dir: dir, cfg: mc.Config, quant: quant, tensors: make(map[string]Tensor, len(cat.where))}
	for _, sh := range cat.shards {
		if err := m.load(sh); err != nil {
			m.Close()
			return nil, err
		}
	}
	m.size = dirSize(dir)
	return m, nil
}

// inspect reads and checks everything but the tensors' data.
func inspect(dir string) (*modelConfig, *catalog, map[string]*Quantization, error) {
	mc, err := readConfig(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	cat, err := readCatalog(dir)
	if err != nil {
		return mc, nil, nil, err
	}
	if err := cat.renameNested(mc); err != nil {
		return mc, nil, nil, err
	}
	quant, err := checkTensors(mc, cat)
	return mc, cat, quant, err
}

// load maps one shard and adds its tensors.
func (m *Model) load(sh shard) error {
	f, err := os.Open(sh.path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != sh.size {
		return &TensorError{File: sh.path, Err: wrapf(ErrCorrupt, "changed size while opening (%d, then %d bytes)", sh.size, fi.Size())}
	}
	data, release, err := mapFile(f, fi.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", sh.path, err)
	}
	m.mu.Lock()
	m.releases = append(m.releases, release)
	m.mu.Unlock()
	for name, info := range sh.tensors {
		if info.end > int64(len(data)) {
			return &TensorError{sh.path, name, wrapf(ErrCorrupt, "data ends at %d, past the file's %d bytes", info.end, len(data))}
		}
		stored := name
		if info.stored != "" {
			stored = info.stored
		}
		m.tensors[name] = Tensor{Name: stored, DType: info.dtype, Shape: info.shape, Data: data[info.begin:info.end:info.end], File: sh.path}
	}
	return nil
}

// Tensor returns the named tensor as stored; false when there is none or
// the model is closed. Its Data must not be written and must not be used
// after Close.
func (m *Model) Tensor(name string) (Tensor, bool) {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	t, ok := m.tensors[name]
	if closed || !ok {
		return Tensor{}, false
	}
	t.Shape = slices.Clone(t.Shape)
	return t, true
}

// Names lists the model's tensors, sorted.
func (m *Model) Names() []string { return sortedKeys(m.tensors) }

// Config returns the model's validated configuration (a copy).
func (m *Model) Config() Config { return m.cfg.clone() }

// Dir is the directory the model was opened from.
func (m *Model) Dir() string { return m.dir }

// SizeOnDisk is the total size of the directory's files, symbolic links
// followed and each target counted once.
func (m *Model) SizeOnDisk() int64 { return m.size }

// LayerQuantization says how the matrix named by prefix (for example
// "model.embed_tokens", "model.layers.0.mlp.down_proj" or "lm_head") is
// stored: quantized with the returned parameters, or (false) as plain
// floats, or not at all. Usually every matrix has Config().Quantization,
// but mlx-lm leaves a matrix whose input size is not a multiple of the
// group size unquantized, and config.json may set layers apart.
func (m *Model) LayerQuantization(prefix string) (Quantization, bool) {
	if q := m.quant[prefix]; q != nil {
		return *q, true
	}
	return Quantization{}, false
}

// Close releases the mapped files; Tensors returned earlier become
// invalid (reading them may crash the process). Close is idempotent.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	var errs []error
	for _, release := range m.releases {
		errs = append(errs, release())
	}
	m.releases = nil
	return errors.Join(errs...)
}

// clone returns a deep copy of c.
func (c Config) clone() Config {
	if c.RopeScaling != nil {
		rs := *c.RopeScaling
		c.RopeScaling = &rs
	}
	if c.Quantization != nil {
		q := *c.Quantization
		c.Quantization = &q
	}
	if c.BOSTokenID != nil {
		id := *c.BOSTokenID
		c.BOSTokenID = &id
	}
	c.EOSTokenIDs = slices.Clone(c.EOSTokenIDs)
	c.LayerNoRope = slices.Clone(c.LayerNoRope)
	if c.RopeScaling != nil {
		c.RopeScaling.ShortFactor = slices.Clone(c.RopeScaling.ShortFactor)
		c.RopeScaling.LongFactor = slices.Clone(c.RopeScaling.LongFactor)
	}
	if c.MoE != nil {
		e := *c.MoE
		e.DenseLayers = slices.Clone(e.DenseLayers)
		c.MoE = &e
	}
	return c
}
