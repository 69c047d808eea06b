//go:build desktoptest

package main

// The page in the desktop window, read and driven from inside: the
// binary's desktoptest hook (desktop_testhook.go) runs JavaScript in the
// window through the Wails runtime and hands back what it returns. The
// checks read what the user sees (innerText of shown elements) and act as
// a user can: an element is clicked or filled only when it is on screen,
// enabled, and not covered by anything else at its centre.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// pageHelpers is prepended to every script.
const pageHelpers = `
const $ = (id, root = document) => root.querySelector('[data-testid="' + id + '"]');
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
// shown: laid out, visible and not inside a closed or hidden ancestor.
const shown = (el) => !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
const text = (el, what) => { if (!shown(el)) throw new Error(what + ' is not shown'); return el.innerText.trim(); };
// reachable: on screen once scrolled to, and the top element at its centre.
const reach = (el, what) => {
  if (!shown(el)) throw new Error(what + ' is not shown');
  el.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  const r = el.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) throw new Error(what + ' is off screen');
  const top = document.elementFromPoint(x, y);
  if (!top || !(top === el || el.contains(top) || top.contains(el))) throw new Error(what + ' is covered by ' + (top ? top.outerHTML.slice(0, 80) : 'nothing'));
  if (el.disabled) throw new Error(what + ' is disabled');
  return el;
};
const click = (el, what) => reach(el, what).click();
// fill sets a field's value as typing does: the input and change events.
const fill = (el, value, what) => {
  reach(el, what).focus();
  const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement : el instanceof HTMLSelectElement ? HTMLSelectElement : HTMLInputElement;
  Object.getOwnPropertyDescriptor(proto.prototype, 'value').set.call(el, value);
  el.dispatchEvent(new Event('input', { bubbles: true }));
  el.dispatchEvent(new Event('change', { bubbles: true }));
  if (el.value !== value) throw new Error(what + ' holds ' + JSON.stringify(el.value) + ', not ' + JSON.stringify(value));
};
// until waits (up to 4 s, within one eval) for f to return a truthy value.
const until = async (what, f) => {
  let err;
  for (const end = Date.now() + 4000; Date.now() < end; await sleep(50)) {
    try { const v = f(); if (v) return v; err = null; } catch (e) { err = e; }
  }
  throw new Error('waited 4 s for ' + what + (err ? ': ' + err.message : ''));
};
`

// page runs scripts in the desktop window through the test hook at addr.
type page struct {
	t    *testing.T
	addr string
}

// eval runs script (an async function's body) in the window and returns
// the JSON of what it returns.
func (p page) eval(script string) (json.RawMessage, error) {
	resp, err := http.Post("http://"+p.addr+"/eval", "application/javascript", strings.NewReader(pageHelpers+script))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// do runs script and fails the test when it throws.
func (p page) do(what, script string) json.RawMessage {
	p.t.Helper()
	v, err := p.eval(script)
	if err != nil {
		p.t.Fatalf("in the window, %s: %v", what, err)
	}
	return v
}

// text returns the string script returns.
func (p page) text(what, script string) string {
	p.t.Helper()
	var s string
	if err := json.Unmarshal(p.do(what, script), &s); err != nil {
		p.t.Fatalf("in the window, %s: %v", what, err)
	}
	return s
}

// wait runs script until it returns something truthy, for up to d, and
// returns that; the failure names the script's last error or value.
func (p page) wait(d time.Duration, what, script string) json.RawMessage {
	p.t.Helper()
	var last string
	for deadline := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
		v, err := p.eval(script)
		switch {
		case err != nil:
			last = err.Error()
		case truthy(v):
			return v
		default:
			last = "it returned " + string(v)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("in the window, waited %s for %s; %s", d, what, last)
		}
	}
}

func truthy(v json.RawMessage) bool {
	switch s := string(bytes.TrimSpace(v)); s {
	case "", "null", "false", `""`, "0":
		return false
	}
	return true
}

// js quotes s as a JavaScript string.
func js(s string) string { return strconv.Quote(s) }

// fakeOpenAI is an OpenAI-compatible provider on loopback with two models;
// it streams "Hello from the fake provider (<model>). You said: <last
// user message>" and counts the chat requests it answered.
func fakeOpenAI(t *testing.T) (baseURL string, chats *atomic.Int32) {
	chats = new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"object":"list","data":[{"id":"fake-small","object":"model","owned_by":"fake"},{"id":"fake-large","object":"model","owned_by":"fake"}]}`)
		case r.Method == http.MethodPost && r.URL.Path == "/v1/chat/completions":
			var req struct {
				Model    string `json:"model"`
				Stream   bool   `json:"stream"`
				Messages []struct {
					Role    string `json:"role"`
					Content any    `json:"content"`
				} `json:"messages"`
			}
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
				http.Error(w, `{"error":{"message":"bad request","type":"invalid_request_error"}}`, http.StatusBadRequest)
				return
			}
			chats.Add(1)
			answer := fmt.Sprintf("Hello from the fake provider (%s). You said: %v", req.Model, req.Messages[len(req.Messages)-1].Content)
			chunk := func(delta, finish string) string {
				f := "null"
				if finish != "" {
					f = js(finish)
				}
				d := "{}"
				if delta != "" {
					d = `{"content":` + js(delta) + `}`
				}
				return `{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1,"model":` + js(req.Model) + `,"choices":[{"index":0,"delta":` + d + `,"finish_reason":` + f + `}]}`
			}
			if !req.Stream {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"id":"chatcmpl-fake","object":"chat.completion","created":1,"model":%s,"choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":9,"total_tokens":16}}`, js(req.Model), js(answer))
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			for _, word := range strings.SplitAfter(answer, " ") {
				fmt.Fprintf(w, "data: %s\n\n", chunk(word, ""))
			}
			fmt.Fprintf(w, "data: %s\n\ndata: [DONE]\n\n", chunk("", "stop"))
		default:
			http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1", chats
}

// firstRunWalk is the first run in the window, from an empty data dir:
// the window opens on the Get started guide; the user adds a provider
// through it (the Providers screen's add dialog), sees the models it
// offers and the route they suggest, and adds that route.
func firstRunWalk(t *testing.T, p page, addr, fakeURL string, api func(method, path, body string, out any)) {
	t.Logf("first run: the window opens on the Get started guide")
	p.wait(20*time.Second, "the Get started guide", `
const s = $('screen-start');
if (!shown(s)) return false;
if (text(s.querySelector('h1'), 'the title') !== 'Get started') throw new Error('the title: ' + s.querySelector('h1').innerText);
if ($('guide-step-source').dataset.done !== 'false') throw new Error('step 1 is done already');
text($('guide-routes-waiting'), 'the routes step\'s wait');
return true;`)
	if got := p.text("the side bar's OpenAI URL", `return text($('side-url-openai'), 'the side bar\'s OpenAI URL');`); got != "http://"+addr+"/v1" {
		t.Errorf("the side bar shows the OpenAI URL %q, want http://%s/v1", got, addr)
	}

	t.Logf("first run: add a provider through the guide")
	p.do("open the add dialog from the guide", `
click($('guide-add-provider'), 'the guide\'s Add a provider');
const dlg = await until('the add dialog', () => shown($('provider-dialog')) && $('provider-dialog'));
text(dlg, 'the add dialog');
fill($('provider-preset'), 'custom', 'the preset');
fill($('provider-name'), 'fake', 'the name');
fill($('provider-base-url'), `+js(fakeURL)+`, 'the base URL');
fill($('provider-api-key'), 'sk-fake-key-1234', 'the API key');
click($('provider-save'), 'Add provider');`)
	p.wait(10*time.Second, "the dialog to close and the guide to come back with step 1 done", `
if (shown($('provider-dialog'))) { const e = document.querySelector('[data-testid="provider-dialog"] [role="alert"]'); if (e && shown(e)) throw new Error('the dialog says ' + e.innerText); return false; }
return shown($('screen-start')) && $('guide-step-source').dataset.done === 'true' && text($('guide-providers'), 'the guide\'s providers').startsWith('fake');`)
	if strings.Contains(p.text("the page", `return document.documentElement.outerHTML;`), "sk-fake-key-1234") {
		t.Error("the page holds the provider's key after save")
	}

	t.Logf("first run: the routes the provider makes possible")
	const prov = `const prov = document.querySelector('[data-testid="guide-provider"][data-name="fake"]');`
	models := p.wait(10*time.Second, "the guide to list the provider's models", prov+`
const m = prov && $('guide-models', prov);
return shown(m) && text(m, 'its models');`)
	if want := `"2 models: fake-small, fake-large"`; string(models) != want {
		t.Errorf("the guide lists the models as %s, want %s", models, want)
	}
	suggestion := p.text("the suggested route", prov+`return text($('guide-suggestion', prov), 'the suggestion');`)
	if want := "Suggested: every fake-* model to fake"; !strings.HasPrefix(suggestion, want) {
		t.Errorf("the guide suggests %q, want %q", suggestion, want)
	}
	p.do("add the suggested route", prov+`click(prov.querySelector('button[aria-label="Add route fake-* to fake"]'), 'Add route fake-* to fake');`)
	route := p.wait(10*time.Second, "the guide to show the route it added", prov+`
const r = prov.querySelector('[data-testid="guide-route"][data-pattern="fake-*"]');
return shown(r) && $('guide-step-routes').dataset.done === 'true' && !$('guide-suggestion', prov) && text(r, 'the route');`)
	if want := `"fake-* → fake"`; string(route) != want {
		t.Errorf("the guide shows the route as %s, want %s", route, want)
	}
	var routes []struct {
		Pattern string `json:"model_pattern"`
		Backend string `json:"backend"`
	}
	api("GET", "/api/routes", "", &routes)
	if len(routes) != 1 || routes[0].Pattern != "fake-*" || routes[0].Backend != "fake" {
		t.Errorf("routes after the walk: %+v, want fake-* → fake", routes)
	}
}

// chatInWindow asks fake-small a question in the window's Chat screen
// (open already) and checks the answer the fake provider streamed shows.
func chatInWindow(t *testing.T, p page, chats *atomic.Int32) {
	t.Logf("chat: ask fake-small in the window")
	before := chats.Load()
	p.do("ask in Chat", `
await until('the Chat screen', () => shown($('screen-chat')) && shown($('chat-input')));
fill($('chat-model'), 'fake-small', 'the model');
fill($('chat-input'), 'hello from the window', 'the message');
click(await until('Send enabled', () => !$('chat-send').disabled && $('chat-send')), 'Send');`)
	answer := p.wait(10*time.Second, "the answer in the chat", `
const a = [...document.querySelectorAll('[data-testid="chat-answer"]')].pop();
return shown(a) && a.innerText.trim().endsWith('You said: hello from the window') && text(a, 'the answer');`)
	if want := `"Hello from the fake provider (fake-small). You said: hello from the window"`; string(answer) != want {
		t.Errorf("the chat shows %s, want %s", answer, want)
	}
	if n := chats.Load() - before; n != 1 {
		t.Errorf("the fake provider answered %d chat requests, want 1", n)
	}
}

// hideToasts hides (or shows again) the passing notices, for a screenshot.
func hideToasts(p page, hide bool) {
	p.do("hide the notices", `
let s = document.getElementById('desktoptest-style');
if (!s) { s = document.createElement('style'); s.id = 'desktoptest-style'; document.head.append(s); }
s.textContent = `+strconv.FormatBool(hide)+` ? '.toasts { visibility: hidden; }' : '';
await new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));`)
}
