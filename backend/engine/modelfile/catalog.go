package modelfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// shard is one safetensors file of a model, its header read.
type shard struct {
	path    string
	size    int64
	tensors map[string]tensorInfo
}

// catalog is every tensor of a model directory and the shard it is in.
type catalog struct {
	dir    string
	shards []shard
	where  map[string]int // tensor name → index in shards
}

// find returns a tensor's header entry and file.
func (c *catalog) find(name string) (tensorInfo, string, bool) {
	i, ok := c.where[name]
	if !ok {
		return tensorInfo{}, "", false
	}
	return c.shards[i].tensors[name], c.shards[i].path, true
}

// readCatalog reads the headers of dir's weight files. With an index, a
// tensor of its weight_map must be in the file it names; a tensor in two
// files is an error.
func readCatalog(dir string) (*catalog, error) {
	files, weightMap, err := weightFiles(dir)
	if err != nil {
		return nil, err
	}
	c := &catalog{dir: dir, where: map[string]int{}}
	for i, name := range files {
		sh, err := readShard(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		for _, t := range sortedKeys(sh.tensors) {
			if j, dup := c.where[t]; dup {
				return nil, &TensorError{sh.path, t, wrapf(ErrCorrupt, "also in %s", c.shards[j].path)}
			}
			c.where[t] = i
		}
		c.shards = append(c.shards, sh)
	}
	index := filepath.Join(dir, WeightsIndexFile)
	for _, t := range sortedKeys(weightMap) {
		if _, file, ok := c.find(t); !ok || filepath.Base(file) != weightMap[t] {
			return nil, &TensorError{index, t, wrapf(ErrMissingTensor, "weight_map puts it in %s, which does not have it", weightMap[t])}
		}
	}
	return c, nil
}

// weightFiles names dir's safetensors files: the files of
// model.safetensors.index.json's weight_map (which it returns too), else
// model.safetensors, else every model*.safetensors as mlx-lm loads them.
func weightFiles(dir string) ([]string, map[string]string, error) {
	index := filepath.Join(dir, WeightsIndexFile)
	data, err := os.ReadFile(index)
	switch {
	case err == nil:
		return parseIndex(index, data)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, nil, fmt.Errorf("%s: %w", index, err)
	}
	if _, err := os.Stat(filepath.Join(dir, WeightsFile)); err == nil {
		return []string{WeightsFile}, nil, nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "model*.safetensors"))
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("%s: %w (no %s, %s or model*.safetensors)", dir, ErrNoWeights, WeightsFile, WeightsIndexFile)
	}
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	slices.Sort(files)
	return files, nil, nil
}

// parseIndex reads an index's weight_map and returns its files, sorted.
func parseIndex(path string, data []byte) ([]string, map[string]string, error) {
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &index); err != nil {
		return nil, nil, &FieldError{path, "", wrapf(ErrCorrupt, "not valid JSON: %v", err)}
	}
	if len(index.WeightMap) == 0 {
		return nil, nil, &FieldError{path, "weight_map", wrapf(ErrNoWeights, "empty")}
	}
	var files []string
	for _, t := range sortedKeys(index.WeightMap) {
		f := index.WeightMap[t]
		if f == "" || f == "." || f == ".." || strings.ContainsAny(f, `/\`) {
			return nil, nil, &TensorError{path, t, wrapf(ErrCorrupt, "weight_map names %q, not a file of the directory", f)}
		}
		if !slices.Contains(files, f) {
			files = append(files, f)
		}
	}
	slices.Sort(files)
	return files, index.WeightMap, nil
}

// readShard reads and validates one safetensors file's header.
func readShard(path string) (shard, error) {
	f, err := os.Open(path)
	if err != nil {
		return shard{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return shard{}, err
	}
	tensors, err := readHeader(path, f, fi.Size())
	if err != nil {
		return shard{}, err
	}
	return shard{path: path, size: fi.Size(), tensors: tensors}, nil
}
