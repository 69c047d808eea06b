package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/reqlog"
	"github.com/modelbar/modelbar/backend/store"
)

// A damaged database page does not stop modelbar: it starts, serves, and
// /api/status says what the integrity check found.
func TestStart_CorruptDatabaseIsReported(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "modelbar.db")
	st, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	entries := make([]reqlog.Entry, 5000)
	for i := range entries {
		entries[i] = reqlog.Entry{Time: time.Unix(1_700_000_000+int64(i), 0).UTC(), Method: "POST", Path: "/v1/chat/completions",
			Protocol: "openai", Model: fmt.Sprintf("m-%d", i%7), Backend: "p", Status: 200, TTFBMS: 1, DurationMS: 2}
	}
	if err := st.InsertRequests(t.Context(), entries); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	damagePage(t, path, "requests_time")

	s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("Start with a damaged page: %v", err)
	}
	defer s.Shutdown(context.Background())
	code, body := s.CallAdmin(t.Context(), "GET", "/api/status", nil)
	var status struct {
		Problems []struct{ Component, Message string } `json:"problems"`
	}
	if err := json.Unmarshal(body, &status); code != 200 || err != nil {
		t.Fatalf("status: %d %s", code, body)
	}
	if len(status.Problems) != 1 || status.Problems[0].Component != "database" || status.Problems[0].Message == "" {
		t.Fatalf("problems %+v, want the database's", status.Problems)
	}
	if code, body := s.CallAdmin(t.Context(), "POST", "/api/routes", []byte(`{"model_pattern":"m","backend":"local"}`)); code != 201 {
		t.Errorf("a configuration change on the damaged file: %d %s", code, body)
	}
}

// damagePage overwrites the root page of table or index name in the
// closed database at path with garbage.
func damagePage(t *testing.T, path, name string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var pageSize, root int
	if err := db.QueryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT rootpage FROM sqlite_schema WHERE name = ?", name).Scan(&root); err != nil {
		t.Fatal(err)
	}
	db.Close()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(strings.Repeat("\xa5garbage", pageSize/8+1)[:pageSize]), int64(root-1)*int64(pageSize)); err != nil {
		t.Fatal(err)
	}
}
