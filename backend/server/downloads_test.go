package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/auth"
	"github.com/modelbar/modelbar/backend/downloads"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/events"
	"github.com/modelbar/modelbar/backend/hub/hubtest"
)

// call sends an admin request and decodes the answer into out (if not
// nil), returning the status.
func call(t *testing.T, s *Server, method, path, body string, out any) int {
	t.Helper()
	token, err := auth.ReadToken(s.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, "http://"+s.Addr()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// fakeHub serves a generated tiny model as two repos through the fake Hub
// and points modelbar at it (HF_ENDPOINT) and at an empty cache.
func fakeHub(t *testing.T) (*hubtest.Hub, string) {
	t.Setenv("MODELBAR_SECRETS", "file")
	t.Setenv("MODELBAR_BACKEND", "cpu")
	cache := hubtest.Isolate(t)
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Spec{Seed: 7}); err != nil {
		t.Fatal(err)
	}
	files, err := hubtest.FilesFromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := hubtest.New(t, hubtest.Options{})
	h.AddModel("mlx-community/tiny-llama-bf16", files, hubtest.ModelOptions{})
	h.AddModel("mlx-community/tiny-other-bf16", files, hubtest.ModelOptions{})
	h.AddModel("org/gated-tiny", files, hubtest.ModelOptions{Gated: true})
	h.AddModel("org/gguf-only", map[string][]byte{"config.json": []byte(`{"model_type":"llama"}`), "model.gguf": make([]byte, 100)}, hubtest.ModelOptions{})
	t.Setenv("HF_ENDPOINT", h.URL)
	return h, cache
}

func waitDownload(t *testing.T, s *Server, id string, ok func(downloads.Download) bool) downloads.Download {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var d downloads.Download
		if code := call(t, s, "GET", "/api/downloads/"+id, "", &d); code != 200 {
			t.Fatalf("GET download: %d", code)
		}
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("download %s never got there: %+v", id, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A model downloads through the API from the fake Hub, survives a restart
// of modelbar mid-download (resuming with Range), is listed at once and
// answers a chat completion; it can be removed again.
func TestDownloads_DownloadRestartRunRemove(t *testing.T) {
	h, cache := fakeHub(t)
	h.SetFaults(hubtest.Faults{BytesPerSecond: 40 << 10})
	dir := t.TempDir()
	s := startTestServer(t, dir)

	var info downloads.Info
	if code := call(t, s, "GET", "/api/hub/models/mlx-community/tiny-llama-bf16", "", &info); code != 200 ||
		!info.Supported || info.Architecture != "llama" || !info.Fits || info.TotalBytes == 0 || info.Downloaded || info.KVAllowanceBytes == 0 {
		t.Fatalf("hub model info: %d %+v", code, info)
	}
	sub := s.Events().Subscribe(t.Context())
	var d downloads.Download
	if code := call(t, s, "POST", "/api/downloads", `{"repo":"mlx-community/tiny-llama-bf16"}`, &d); code != 202 {
		t.Fatalf("POST /api/downloads: %d %+v", code, d)
	}
	waitDownload(t, s, d.ID, func(d downloads.Download) bool { return d.DoneBytes > 0 && d.State == downloads.Downloading })
	seen := map[downloads.State]bool{}
	for len(sub) > 0 {
		ev := <-sub
		var e downloads.Download
		if ev.Topic == events.Downloads && json.Unmarshal(ev.Data, &e) == nil && e.ID == d.ID {
			seen[e.State] = true
		}
	}
	if !seen[downloads.Queued] || !seen[downloads.Downloading] {
		t.Errorf("downloads events: saw states %v, want queued and downloading", seen)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.SetFaults(hubtest.Faults{})
	s = startTestServer(t, dir)
	defer s.Shutdown(context.Background())
	got := waitDownload(t, s, d.ID, func(d downloads.Download) bool { return d.State == downloads.Done || d.State == downloads.Failed })
	if got.State != downloads.Done || got.ModelID != "mlx-community/tiny-llama-bf16" || got.DoneBytes != got.TotalBytes {
		t.Fatalf("after a restart: %+v", got)
	}
	resumed := false
	for _, r := range h.Requests() {
		resumed = resumed || (r.Server == "files" && strings.HasPrefix(r.Range, "bytes=") && !strings.HasPrefix(r.Range, "bytes=0-"))
	}
	if !resumed {
		t.Error("no file was resumed with a Range request after the restart")
	}
	var models []struct {
		ID     string `json:"id"`
		Usable bool   `json:"usable"`
	}
	call(t, s, "GET", "/api/models", "", &models)
	if len(models) != 1 || models[0].ID != got.ModelID || !models[0].Usable {
		t.Fatalf("models after the download: %+v", models)
	}
	resp, err := http.Post("http://"+s.Addr()+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"mlx-community/tiny-llama-bf16","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Modelbar-Backend") != "local" {
		t.Fatalf("chat with the downloaded model: %d %s", resp.StatusCode, b)
	}
	if code := call(t, s, "GET", "/api/hub/models/mlx-community/tiny-llama-bf16", "", &info); code != 200 || !info.Downloaded {
		t.Errorf("downloaded is not said: %+v", info)
	}
	if code := call(t, s, "DELETE", "/api/models/mlx-community/tiny-llama-bf16", "", nil); code != 204 {
		t.Fatalf("DELETE model: %d", code)
	}
	models = nil
	call(t, s, "GET", "/api/models", "", &models)
	if len(models) != 0 {
		t.Errorf("models after removal: %+v", models)
	}
	if _, err := os.Stat(filepath.Join(cache, "models--mlx-community--tiny-llama-bf16", "snapshots", got.Commit)); !os.IsNotExist(err) {
		t.Errorf("the snapshot is still there: %v", err)
	}
	if code := call(t, s, "DELETE", "/api/models/mlx-community/tiny-llama-bf16", "", nil); code != 404 {
		t.Errorf("DELETE a removed model: %d, want 404", code)
	}
}

// Cancel keeps the partial files (a new download resumes them) unless
// discard; faults are each a clear status and message.
func TestDownloads_CancelAndFaults(t *testing.T) {
	h, cache := fakeHub(t)
	h.SetFaults(hubtest.Faults{BytesPerSecond: 20 << 10})
	s := startTestServer(t, t.TempDir())
	defer s.Shutdown(context.Background())
	var d downloads.Download
	call(t, s, "POST", "/api/downloads", `{"repo":"mlx-community/tiny-other-bf16","revision":"main"}`, &d)
	waitDownload(t, s, d.ID, func(d downloads.Download) bool { return d.DoneBytes > 0 })
	var cancelled struct {
		downloads.Download
		PartialFiles string `json:"partial_files"`
	}
	if code := call(t, s, "DELETE", "/api/downloads/"+d.ID, "", &cancelled); code != 200 || !strings.HasPrefix(cancelled.PartialFiles, "kept") {
		t.Fatalf("cancel: %d %+v", code, cancelled)
	}
	waitDownload(t, s, d.ID, func(d downloads.Download) bool { return d.State == downloads.Cancelled })
	blobs := filepath.Join(cache, "models--mlx-community--tiny-other-bf16", "blobs")
	partial, _ := filepath.Glob(filepath.Join(blobs, "*.incomplete"))
	if len(partial) == 0 {
		t.Error("cancel kept no partial file")
	}
	if snaps, _ := os.ReadDir(filepath.Join(cache, "models--mlx-community--tiny-other-bf16", "snapshots")); len(snaps) > 0 {
		if files, _ := os.ReadDir(filepath.Join(cache, "models--mlx-community--tiny-other-bf16", "snapshots", snaps[0].Name())); len(files) > 0 {
			for _, f := range files {
				if strings.HasSuffix(f.Name(), ".safetensors") {
					t.Error("a cancelled download linked its weights into the snapshot")
				}
			}
		}
	}
	if code := call(t, s, "DELETE", "/api/downloads/"+d.ID+"?discard=1", "", &cancelled); code != 200 || cancelled.PartialFiles != "removed" {
		t.Fatalf("discard: %d %+v", code, cancelled)
	}
	if partial, _ := filepath.Glob(filepath.Join(blobs, "*.incomplete")); len(partial) != 0 {
		t.Errorf("discard left %v", partial)
	}

	for _, tc := range []struct {
		body string
		code int
		kind string
	}{
		{`{"repo":"mlx-community/nope"}`, 404, "not_found"},
		{`{"repo":"org/gated-tiny"}`, 403, "unauthorized"}, // not 401: the admin caller is signed in; the Hub wants a token
		{`{"repo":"org/gguf-only"}`, 422, "no_weights"},
		{`{"repo":"not a repo"}`, 400, "invalid_request"},
		{`{}`, 400, ""},
	} {
		var e struct {
			Error struct{ Message, Code string }
		}
		if code := call(t, s, "POST", "/api/downloads", tc.body, &e); code != tc.code || e.Error.Message == "" || (tc.kind != "" && e.Error.Code != tc.kind) {
			t.Errorf("POST %s: %d %+v, want %d %s", tc.body, code, e, tc.code, tc.kind)
		}
	}
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/api/downloads/dl_nope", 404},
		{"DELETE", "/api/downloads/dl_nope", 404},
		{"DELETE", "/api/downloads/" + d.ID + "?discard=maybe", 400},
		{"GET", "/api/hub/search?limit=0", 400},
		{"GET", "/api/hub/search?sort=stars", 400},
		{"GET", "/api/hub/models/mlx-community/nope", 404},
		{"GET", "/api/hub/models/org/gguf-only", 200},
		{"DELETE", "/api/models/nobody/nothing", 404},
	} {
		var e struct{ Error struct{ Message string } }
		if code := call(t, s, tc.method, tc.path, "", &e); code != tc.code || (code >= 400 && e.Error.Message == "") {
			t.Errorf("%s %s: %d %+v, want %d", tc.method, tc.path, code, e, tc.code)
		}
	}
	var tok map[string]bool
	if code := call(t, s, "PUT", "/api/hub/token", `{"token":"hf_secret"}`, &tok); code != 200 || !tok["has_hub_token"] {
		t.Errorf("PUT token: %d %v", code, tok)
	}
	body := ""
	call(t, s, "GET", "/api/hub/token", "", &tok)
	if !tok["has_hub_token"] || strings.Contains(body, "hf_secret") {
		t.Errorf("GET token: %v", tok)
	}
	if code := call(t, s, "POST", "/api/downloads", `{"repo":"org/gated-tiny"}`, nil); code != 403 {
		t.Errorf("gated with a token not granted: %d, want 403", code)
	}
	authSent := false
	for _, r := range h.Requests() {
		authSent = authSent || r.Auth == "Bearer hf_secret"
	}
	if !authSent {
		t.Error("the stored token was not sent to the Hub")
	}
	var found struct{ Models []downloads.Summary }
	if code := call(t, s, "GET", "/api/hub/search?q=tiny", "", &found); code != 200 || len(found.Models) != 2 {
		t.Errorf("search: %d %+v", code, found)
	}
}

// A connection dropped mid-file is resumed and the download finishes; a
// file that fails its checksum twice fails the download with that kind and
// nothing of it is linked into the snapshot.
func TestDownloads_DropAndChecksum(t *testing.T) {
	h, cache := fakeHub(t)
	s := startTestServer(t, t.TempDir())
	defer s.Shutdown(context.Background())
	h.SetFaults(hubtest.Faults{DropAfter: 50 << 10, Drops: 2})
	var d downloads.Download
	call(t, s, "POST", "/api/downloads", `{"repo":"mlx-community/tiny-llama-bf16"}`, &d)
	got := waitDownload(t, s, d.ID, func(d downloads.Download) bool { return d.State == downloads.Done || d.State == downloads.Failed })
	if got.State != downloads.Done {
		t.Fatalf("after two dropped connections: %+v", got)
	}
	h.SetFaults(hubtest.Faults{WrongChecksum: 2})
	call(t, s, "POST", "/api/downloads", `{"repo":"mlx-community/tiny-other-bf16"}`, &d)
	got = waitDownload(t, s, d.ID, func(d downloads.Download) bool { return d.State == downloads.Done || d.State == downloads.Failed })
	if got.State != downloads.Failed || got.ErrorKind != downloads.Checksum || got.Error == "" {
		t.Fatalf("after a wrong checksum twice: %+v", got)
	}
	weights, _ := filepath.Glob(filepath.Join(cache, "models--mlx-community--tiny-other-bf16", "snapshots", "*", "*.safetensors"))
	if len(weights) != 0 {
		t.Errorf("unverified weights linked: %v", weights)
	}
}

// With no token set in modelbar, the one huggingface_hub would use
// (HF_TOKEN) is sent, and has_hub_token stays false.
func TestDownloads_TokenFromEnvironment(t *testing.T) {
	h, _ := fakeHub(t)
	t.Setenv("HF_TOKEN", "hf_from_env")
	s := startTestServer(t, t.TempDir())
	defer s.Shutdown(context.Background())
	if code := call(t, s, "POST", "/api/downloads", `{"repo":"org/gated-tiny"}`, nil); code != 403 {
		t.Errorf("gated with HF_TOKEN not granted: %d, want 403", code)
	}
	sent := false
	for _, r := range h.Requests() {
		sent = sent || r.Auth == "Bearer hf_from_env"
	}
	if !sent {
		t.Error("HF_TOKEN was not sent")
	}
	var tok map[string]bool
	if call(t, s, "GET", "/api/hub/token", "", &tok); tok["has_hub_token"] {
		t.Error("has_hub_token is true for a token only in the environment")
	}
}
