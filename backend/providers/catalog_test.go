package providers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/redact"
)

// listServer is a provider whose model list a test changes as it goes. Each
// request it serves is reported on served (unless 64 reports are waiting).
type listServer struct {
	srv    *httptest.Server
	served chan hit

	mu     sync.Mutex
	ids    []string // guarded by mu
	status int      // guarded by mu: 0 answers the list
}

func newListServer(t *testing.T, ids ...string) *listServer {
	t.Helper()
	ls := &listServer{ids: ids, served: make(chan hit, 64)}
	ls.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ls.mu.Lock()
		ids, status := ls.ids, ls.status
		ls.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
		} else {
			fmt.Fprint(w, `{"data":[`)
			for i, id := range ids {
				if i > 0 {
					fmt.Fprint(w, ",")
				}
				fmt.Fprintf(w, `{"id":%q}`, id)
			}
			fmt.Fprint(w, `]}`)
		}
		select {
		case ls.served <- hit{auth: r.Header.Get("Authorization"), status: status}:
		default:
		}
	}))
	t.Cleanup(ls.srv.Close)
	return ls
}

func (ls *listServer) set(status int, ids ...string) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.status, ls.ids = status, ids
}

func (ls *listServer) config(name, key string) Config {
	return Config{Name: name, Type: OpenAI, BaseURL: ls.srv.URL + "/v1", APIKey: redact.NewValue(key)}
}

// hit is one request a listServer answered: the Authorization it carried
// and the status it got (0: the list).
type hit struct {
	auth   string
	status int
}

// next waits until the server answers a request that match accepts.
func (ls *listServer) next(t *testing.T, match func(hit) bool) hit {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case h := <-ls.served:
			if match(h) {
				return h
			}
		case <-timeout:
			t.Fatal("the provider was not asked for its list")
		}
	}
}

func anyHit(hit) bool { return true }

// eventually waits until the catalog's list of provider equals want.
func eventually(t *testing.T, c *Catalog, provider string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, _ := c.Models(provider)
		var ids []string
		for _, m := range list {
			ids = append(ids, m.ID)
		}
		if slices.Equal(ids, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("list of %s is %v, want %v", provider, ids, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newTestCatalog(t *testing.T, reg *Registry, opts CatalogOptions) *Catalog {
	t.Helper()
	c := NewCatalog(reg, opts)
	t.Cleanup(c.Close)
	return c
}

func wantAll(reg *Registry) func() []string {
	return func() []string {
		reg.mu.RLock()
		defer reg.mu.RUnlock()
		var names []string
		for name := range reg.clients {
			names = append(names, name)
		}
		return names
	}
}

// Nothing is fetched until someone asks; the first ask answers at once,
// without a list, and starts the fetch.
func TestCatalog_FetchesWhenFirstAsked(t *testing.T) {
	ls := newListServer(t, "a", "b")
	reg := NewRegistry()
	t.Cleanup(reg.Close)
	reg.Sync([]Config{ls.config("p", "sk-cat-1")})
	c := newTestCatalog(t, reg, CatalogOptions{Wanted: wantAll(reg)})
	select {
	case <-ls.served:
		t.Fatal("the list was fetched before anyone asked")
	default:
	}
	if list, ok := c.Models("p"); ok || list != nil {
		t.Errorf("first ask: %v, %v; want no list yet", list, ok)
	}
	if h := ls.next(t, anyHit); h.auth != "Bearer sk-cat-1" {
		t.Errorf("fetched with %q", h.auth)
	}
	eventually(t, c, "p", "a", "b")
}

// A provider that never answers does not hold up Models: the fetch hangs,
// the asks answer; Close ends the hung fetch.
func TestCatalog_HungProviderNeverBlocks(t *testing.T) {
	asked := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- struct{}{}
		<-r.Context().Done() // hangs until the fetch is given up
	}))
	t.Cleanup(srv.Close)
	reg := NewRegistry()
	t.Cleanup(reg.Close)
	reg.Sync([]Config{{Name: "slow", Type: OpenAI, BaseURL: srv.URL + "/v1"}})
	c := NewCatalog(reg, CatalogOptions{Wanted: wantAll(reg), Timeout: time.Hour})
	c.Models("slow")
	<-asked // the fetch is in flight, and stays so
	for range 3 {
		if _, ok := c.Models("slow"); ok {
			t.Fatal("a list from a provider that never answered")
		}
	}
	c.Close() // returns once the hung fetch is cancelled
	c.Close() // and again
}

// A failed fetch keeps the last good list, and is retried.
func TestCatalog_FailureKeepsTheLastList(t *testing.T) {
	ls := newListServer(t, "a")
	reg := NewRegistry()
	t.Cleanup(reg.Close)
	reg.Sync([]Config{ls.config("p", "")})
	c := newTestCatalog(t, reg, CatalogOptions{Wanted: wantAll(reg), Interval: time.Millisecond, Retry: time.Millisecond})
	c.Models("p")
	eventually(t, c, "p", "a")
	ls.set(http.StatusInternalServerError)
	for range 3 { // fetched again and again (Interval, then Retry), failing
		ls.next(t, func(h hit) bool { return h.status != 0 })
	}
	if list, ok := c.Models("p"); !ok || len(list) != 1 || list[0].ID != "a" {
		t.Errorf("after failures: %v, %v; want the last good list", list, ok)
	}
	ls.set(0, "a", "b")
	eventually(t, c, "p", "a", "b")
}

// A changed provider (a new client) is fetched again at once: a new key
// keeps the list meanwhile; another address drops it. A provider no longer
// wanted, or gone, has no list.
func TestCatalog_FollowsProviderChanges(t *testing.T) {
	one, two := newListServer(t, "a"), newListServer(t, "z")
	reg := NewRegistry()
	t.Cleanup(reg.Close)
	reg.Sync([]Config{one.config("p", "sk-old")})
	wanted := []string{"p"}
	var mu sync.Mutex
	c := newTestCatalog(t, reg, CatalogOptions{Retry: time.Millisecond, Wanted: func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(wanted)
	}})
	c.Models("p")
	eventually(t, c, "p", "a")

	one.set(0, "a", "a2")
	reg.Sync([]Config{one.config("p", "sk-new")})
	c.Refresh()
	one.next(t, func(h hit) bool { return h.auth == "Bearer sk-new" }) // at once: Interval is 10 minutes
	eventually(t, c, "p", "a", "a2")

	two.set(http.StatusBadGateway)
	reg.Sync([]Config{two.config("p", "")})
	c.Refresh()
	two.next(t, anyHit)
	eventually(t, c, "p") // the old server's list is not the new one's
	two.set(0, "z")
	eventually(t, c, "p", "z") // retried after the failure

	mu.Lock()
	wanted = nil
	mu.Unlock()
	c.Refresh()
	eventually(t, c, "p")
}
