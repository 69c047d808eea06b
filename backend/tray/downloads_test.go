package tray

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The downloads section of the menu: one line per active download with its
// repo, share done and time left, a click opening the Models screen;
// nothing when there are none.
func TestBuildView_Downloads(t *testing.T) {
	open := Action{Kind: OpenScreen, Screen: "models"}
	for _, tc := range []struct {
		name string
		dls  []Download
		want []Item // the items between the models and the routes; nil: no section
	}{
		{name: "none"},
		{
			name: "downloading with an ETA",
			dls:  []Download{{ID: "d1", Repo: "mlx-community/Qwen3-0.6B-4bit", State: "downloading", DoneBytes: 420_000_000, TotalBytes: 1_000_000_000, ETASeconds: 190}},
			want: []Item{{ID: "sep7", Separator: true}, {ID: "download:d1", Title: "Downloading mlx-community/Qwen3-0.6B-4bit: 42% · 3m 10s left",
				Tooltip: "420 MB of 1.0 GB · Open the Models screen", Action: open}},
		},
		{
			name: "size and ETA unknown yet, then queued and verifying",
			dls: []Download{
				{ID: "a", Repo: "o/a", State: "downloading"},
				{ID: "b", Repo: "o/b", State: "queued", TotalBytes: 2_000_000},
				{ID: "c", Repo: "o/c", State: "verifying", DoneBytes: 5_000, TotalBytes: 5_000, ETASeconds: 3},
				{ID: "d", Repo: "o/d", State: "downloading", DoneBytes: 1, TotalBytes: 2, ETASeconds: 3725},
			},
			want: []Item{{ID: "sep7", Separator: true},
				{ID: "download:a", Title: "Downloading o/a", Tooltip: "Open the Models screen", Action: open},
				{ID: "download:b", Title: "Waiting to download o/b", Tooltip: "0 B of 2.0 MB · Open the Models screen", Action: open},
				{ID: "download:c", Title: "Checking the files of o/c…", Tooltip: "5.0 kB of 5.0 kB · Open the Models screen", Action: open},
				{ID: "download:d", Title: "Downloading o/d: 50% · 1h 2m left", Tooltip: "1 B of 2 B · Open the Models screen", Action: open},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := BuildView(Snapshot{Addr: "127.0.0.1:1", Downloads: tc.dls}, Idle, "", Lines{}, Extras{})
			var got []Item
			in := false
			for _, it := range v.Menu {
				if it.ID == "sep3" {
					break
				}
				if it.ID == "sep7" {
					in = true
				}
				if in {
					got = append(got, it)
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("downloads section (-want +got):\n%s", d)
			}
		})
	}
}

// Fetch keeps the active downloads from GET /api/downloads, and a gateway
// without the download manager (404) simply has none.
func TestFetch_Downloads(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string // "" = the path answers 404
		code int    // the status to answer instead of the body (503: no manager in this gateway)
		want []Download
	}{
		{name: "a gateway from before downloads"},
		{name: "no download manager", code: 503},
		{name: "empty", body: `[]`},
		{
			name: "only the active ones",
			body: `[{"id":"1","repo":"o/done","state":"done","done_bytes":9,"total_bytes":9},
				{"id":"2","repo":"o/going","state":"downloading","done_bytes":3,"total_bytes":9,"rate_bps":100,"eta_seconds":12.5},
				{"id":"3","repo":"o/failed","state":"failed","error":"boom"},
				{"id":"4","repo":"o/next","state":"queued"}]`,
			want: []Download{{ID: "2", Repo: "o/going", State: "downloading", DoneBytes: 3, TotalBytes: 9, ETASeconds: 12.5}, {ID: "4", Repo: "o/next", State: "queued"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			admin := newFake()
			if tc.body != "" {
				admin.get["/api/downloads"] = tc.body
			}
			call := admin.call
			if tc.code != 0 {
				call = func(ctx context.Context, method, path string, body []byte) (int, []byte) {
					if path == "/api/downloads" {
						admin.call(ctx, method, path, body) // counted
						return tc.code, []byte(`{"error":{"message":"this modelbar has no download manager","code":"downloads_unavailable"}}`)
					}
					return admin.call(ctx, method, path, body)
				}
			}
			s, _, err := Fetch(context.Background(), call, 0)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, s.Downloads); d != "" {
				t.Errorf("downloads (-want +got):\n%s", d)
			}
			if admin.gets("/api/downloads") != 1 {
				t.Errorf("GET /api/downloads read %d times, want 1", admin.gets("/api/downloads"))
			}
		})
	}
}
