package config

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/reqlog"
	"github.com/modelbar/modelbar/backend/secrets"
	"github.com/modelbar/modelbar/backend/store"
)

// corruptSecretsFile overwrites the fixture's secrets.enc with garbage.
func corruptSecretsFile(t *testing.T, f *fixture) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, "secrets.enc"), []byte("not an envelope"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// keyStates returns, per provider, how the admin API shows its key:
// "hint" when readable, "hint!reason" when unreadable, "-" for no key.
func keyStates(t *testing.T, svc *Service) map[string]string {
	t.Helper()
	ps, err := svc.Providers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, p := range ps {
		switch {
		case !p.HasAPIKey:
			m[p.Name] = "-"
		case p.KeyUnreadable:
			m[p.Name] = p.APIKeyHint + "!" + p.KeyError
		default:
			m[p.Name] = p.APIKeyHint
		}
	}
	return m
}

func problemSubjects(svc *Service) []string {
	out := []string{}
	for _, p := range svc.Problems(context.Background()) {
		out = append(out, p.Component+"/"+p.Subject)
	}
	return out
}

const (
	corruptReason = "the secrets file is corrupt or was encrypted with another key"
	missingReason = "the key is missing from the file secret store"
)

// With secrets.enc corrupt, every provider with a stored key is shown
// with has_api_key and key_unreadable, is listed by Problems, and sends no
// request. A new key for one of them is stored all the same (the file is
// moved aside) and clears its state; the others' keys went with the old
// file, so they stay unreadable until their keys are set again.
func TestCorruptSecrets_ProvidersAreUnreadableUntilTheirKeysAreSetAgain(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	up := newUpstream(t)
	for _, name := range []string{"a", "b"} {
		if _, _, err := f.svc.PutProvider(ctx, name, ProviderInput{Type: ptr("openai"), BaseURL: ptr(up.URL + "/v1"),
			APIKey: ptr("sk-" + name + "-original-1111")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.svc.PutProvider(ctx, "nokey", ProviderInput{Type: ptr("openai"), BaseURL: ptr(up.URL + "/v1")}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{}, problemSubjects(f.svc)); diff != "" {
		t.Errorf("problems before the damage (-want +got):\n%s", diff)
	}

	corruptSecretsFile(t, f)
	svc, logs := restart(t, f, f.store)
	want := map[string]string{"a": "1111!" + corruptReason, "b": "1111!" + corruptReason, "nokey": "-"}
	if diff := cmp.Diff(want, keyStates(t, svc)); diff != "" {
		t.Errorf("keys with secrets.enc corrupt (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"secrets/a", "secrets/b"}, problemSubjects(svc)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	c, _ := svc.Clients().Get("a")
	var pe *providers.Error
	if _, err := c.Forward(ctx, "POST", "/v1/chat/completions", nil, []byte(`{}`)); !errors.As(err, &pe) || pe.Kind != providers.KindConfig ||
		!strings.Contains(pe.Message, corruptReason) {
		t.Errorf("forward with an unreadable key: %v, want a KindConfig error with the reason", err)
	}
	if n := up.requests(); n != 0 {
		t.Errorf("the provider got %d requests without its key", n)
	}
	if !strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "original") {
		t.Errorf("the unreadable keys are not logged as errors, or a key is:\n%s", logs)
	}
	a, err := svc.Provider(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(a)
	if !bytes.Contains(body, []byte(`"has_api_key":true`)) || !bytes.Contains(body, []byte(`"key_unreadable":true`)) ||
		!bytes.Contains(body, []byte(`"key_error":"`+corruptReason)) {
		t.Errorf("admin view: %s", body)
	}

	if _, _, err := svc.PutProvider(ctx, "a", ProviderInput{APIKey: ptr("sk-a-replaced-2222")}); err != nil {
		t.Fatalf("new key with secrets.enc corrupt: %v", err)
	}
	want = map[string]string{"a": "2222", "b": "1111!" + missingReason, "nokey": "-"}
	if diff := cmp.Diff(want, keyStates(t, svc)); diff != "" {
		t.Errorf("keys after a new key for a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"secrets/b"}, problemSubjects(svc)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if got := up.forward(t, svc, "a"); got != "Bearer sk-a-replaced-2222" {
		t.Errorf("a sent Authorization %q, want its new key", got)
	}
	if aside, _ := filepath.Glob(filepath.Join(f.dir, "secrets.enc.corrupt-*")); len(aside) != 1 {
		t.Errorf("moved-aside files: %v, want one", aside)
	}

	if _, _, err := svc.PutProvider(ctx, "b", ProviderInput{APIKey: ptr("sk-b-replaced-3333")}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{}, problemSubjects(svc)); diff != "" {
		t.Errorf("problems once every key is set again (-want +got):\n%s", diff)
	}
	if gc, err := f.store.ListSecretGC(ctx); err != nil || len(gc) != 0 {
		t.Errorf("secret_gc: %v, %v; want empty", gc, err)
	}
	// A restart sees the same.
	svc, _ = restart(t, f, f.store)
	if diff := cmp.Diff(map[string]string{"a": "2222", "b": "3333", "nokey": "-"}, keyStates(t, svc)); diff != "" {
		t.Errorf("keys after a restart (-want +got):\n%s", diff)
	}
}

// Deleting a provider while secrets.enc is corrupt deletes the row; its
// secret stays queued, and is cleaned up by the first start after the
// file is readable again.
func TestCorruptSecrets_DeletedProviderKeyIsCleanedUpOnceTheFileIsReadable(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	mustPut(t, f, "a", "sk-a-original-1111")
	mustPut(t, f, "b", "sk-b-original-2222")
	account := storedAccount(t, f, "a")
	corruptSecretsFile(t, f)
	svc, _ := restart(t, f, f.store)
	if err := svc.DeleteProvider(ctx, "a"); err != nil {
		t.Fatalf("delete with secrets.enc corrupt: %v", err)
	}
	if gc, _ := f.store.ListSecretGC(ctx); !cmp.Equal(gc, []string{account}) {
		t.Errorf("secret_gc %v, want the deleted provider's account %s", gc, account)
	}
	svc, _ = restart(t, f, f.store) // the clean-up fails again: the file is still corrupt
	if _, _, err := svc.PutProvider(ctx, "b", ProviderInput{APIKey: ptr("sk-b-replaced-3333")}); err != nil {
		t.Fatal(err)
	}
	restart(t, f, f.store)
	if gc, err := f.store.ListSecretGC(ctx); err != nil || len(gc) != 0 {
		t.Errorf("secret_gc after a start with a readable file: %v, %v; want empty", gc, err)
	}
}

// A database that fails its integrity check is logged at Error when the
// configuration loads, and is the first of the Problems.
func TestProblems_DatabaseIntegrity(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "modelbar.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	es := make([]reqlog.Entry, 3000)
	for i := range es {
		es[i] = reqlog.Entry{Time: time.Unix(int64(i), 0), Method: "POST", Path: "/v1/chat/completions", Model: fmt.Sprint("m", i), Status: 200}
	}
	if err := st.InsertRequests(ctx, es); err != nil {
		t.Fatal(err)
	}
	st.Close()
	corruptRootPage(t, path, "requests_time")

	st, err = store.Open(ctx, path)
	if err != nil {
		t.Fatalf("open a damaged file: %v", err)
	}
	defer st.Close()
	sec, err := secrets.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	reg := providers.NewRegistry()
	defer reg.Close()
	svc, err := New(ctx, st, sec, reg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "integrity") {
		t.Errorf("integrity failure not logged at Error:\n%s", logs.String())
	}
	ps := svc.Problems(ctx)
	if len(ps) != 1 || ps[0].Component != ComponentDatabase || ps[0].Subject != "" || !strings.Contains(ps[0].Message, "page") {
		t.Errorf("problems: %+v, want the database's", ps)
	}
}

// corruptRootPage overwrites the whole root page of table or index name in
// the closed database at path with garbage.
func corruptRootPage(t *testing.T, path, name string) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	var pageSize, root string
	err = errors.Join(db.QueryRow("PRAGMA page_size").Scan(&pageSize),
		db.QueryRow("SELECT rootpage FROM sqlite_schema WHERE name = ?", name).Scan(&root), db.Close())
	if err != nil {
		t.Fatal(err)
	}
	size, _ := strconv.Atoi(pageSize)
	page, _ := strconv.Atoi(root)
	garbage := bytes.Repeat([]byte{0xa5}, size)
	file, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if _, err := file.WriteAt(garbage, int64(page-1)*int64(size)); err != nil {
		t.Fatal(err)
	}
}

// upstream is a provider that records the Authorization of each request.
type upstream struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.auths = append(u.auths, r.Header.Get("Authorization"))
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"data":[]}`))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.auths)
}

// forward sends one request through svc's client for provider name and
// returns the Authorization the upstream saw.
func (u *upstream) forward(t *testing.T, svc *Service, name string) string {
	t.Helper()
	c, ok := svc.Clients().Get(name)
	if !ok {
		t.Fatalf("no client for %s", name)
	}
	resp, err := c.Forward(context.Background(), http.MethodPost, "/v1/chat/completions", http.Header{}, []byte(`{}`))
	if err != nil {
		t.Fatalf("forward to %s: %v", name, err)
	}
	resp.Body.Close()
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.auths[len(u.auths)-1]
}
