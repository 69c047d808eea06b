package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/reqlog"
	"github.com/modelbar/modelbar/backend/store"
)

func TestOpen_CleanFilePassesTheIntegrityCheck(t *testing.T) {
	s, path := newStore(t)
	if ok, problem := s.Integrity(); !ok || problem != "" {
		t.Errorf("new file: Integrity() = %v, %q; want ok", ok, problem)
	}
	insertRequests(t, s, 2000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	if ok, problem := s.Integrity(); !ok || problem != "" {
		t.Errorf("reopened file: Integrity() = %v, %q; want ok", ok, problem)
	}
}

// A damaged page of the request log's index is found when the file is
// opened; the file still opens, and the configuration still reads.
func TestOpen_CorruptPageIsReportedAndConfigurationStillReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modelbar.db")
	s, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	route := mustCreateRoute(t, s, store.Route{ModelPattern: "gpt-*", Backend: "openai", Fallbacks: []string{}, Enabled: true})
	mustPutProvider(t, s, store.Provider{Name: "openai", Type: "openai", BaseURL: "https://api.openai.com/v1"})
	if err := s.SetSettings(t.Context(), map[string]string{"max_retries": "3"}); err != nil {
		t.Fatal(err)
	}
	insertRequests(t, s, 5000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	corruptPage(t, path, "requests_time")

	s = openStore(t, path)
	ok, problem := s.Integrity()
	if ok || problem == "" || len(problem) > 1024 {
		t.Fatalf("Integrity() = %v, %q; want a problem of at most 1 KB", ok, problem)
	}
	t.Logf("quick_check: %s", problem)
	routes, err := s.ListRoutes(t.Context())
	if err != nil || len(routes) != 1 {
		t.Fatalf("routes after the damage: %v, %v", routes, err)
	}
	if diff := cmp.Diff(route, routes[0], ignoreRouteTimes); diff != "" {
		t.Errorf("route (-want +got):\n%s", diff)
	}
	if p, err := s.GetProvider(t.Context(), "openai"); err != nil || p.BaseURL != "https://api.openai.com/v1" {
		t.Errorf("provider after the damage: %+v, %v", p, err)
	}
	if v, ok, err := s.Setting(t.Context(), "max_retries"); err != nil || !ok || v != "3" {
		t.Errorf("setting after the damage: %q %v %v", v, ok, err)
	}
}

// corruptPage overwrites the root page of table or index name in the
// closed database at path with garbage. The whole page, not a part: a
// part may fall in the page's free space, which no check reads.
func corruptPage(t *testing.T, path, name string) {
	t.Helper()
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("%s-wal holds %d bytes: close every connection first, so the pages are in the main file", path, fi.Size())
	}
	db := rawDB(t, path)
	pageSize, _ := strconv.Atoi(queryString(t, db, "PRAGMA page_size"))
	root, _ := strconv.Atoi(queryString(t, db, "SELECT rootpage FROM sqlite_schema WHERE name = '"+name+"'"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if pageSize == 0 || root < 2 {
		t.Fatalf("page size %d, root page of %s %d", pageSize, name, root)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	garbage := []byte(strings.Repeat("\xa5garbage", pageSize/8+1)[:pageSize])
	if _, err := f.WriteAt(garbage, int64(root-1)*int64(pageSize)); err != nil {
		t.Fatal(err)
	}
}

// insertRequests adds n request-log entries shaped like real ones.
func insertRequests(t testing.TB, s *store.Store, n int) {
	t.Helper()
	const batch = 1000
	for i := 0; i < n; i += batch {
		es := make([]reqlog.Entry, 0, batch)
		for j := i; j < min(n, i+batch); j++ {
			es = append(es, reqlog.Entry{Time: reqT0.Add(time.Duration(j) * time.Second), Method: "POST",
				Path: "/v1/chat/completions", Protocol: "openai", Model: fmt.Sprintf("gpt-4o-mini-%d", j%7), Route: "gpt-*",
				Backend: "openai", FallbackFrom: []string{"local"}, Status: 200, Stream: j%2 == 0,
				InputTokens: 1200, OutputTokens: 300, TTFBMS: 420, DurationMS: 2100})
		}
		if err := s.InsertRequests(t.Context(), es); err != nil {
			t.Fatalf("InsertRequests: %v", err)
		}
	}
}

// BenchmarkOpen_100kRequests measures Open (the integrity check included)
// of a file with 100,000 request-log rows, a busy month's worth.
func BenchmarkOpen_100kRequests(b *testing.B) {
	path := filepath.Join(b.TempDir(), "modelbar.db")
	s, err := store.Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	insertRequests(b, s, 100_000)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if fi, err := os.Stat(path); err == nil {
		b.Logf("file: %d MB", fi.Size()>>20)
	}
	for b.Loop() {
		s, err := store.Open(b.Context(), path)
		if err != nil {
			b.Fatal(err)
		}
		if ok, problem := s.Integrity(); !ok {
			b.Fatal(problem)
		}
		s.Close()
	}
}
