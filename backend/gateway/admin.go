package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/router"
)

const maxAdminBody = 1 << 20

// requireAdmin lets a request through only when authenticate admits it
// (session.go): the admin bearer token, an in-process call, or a browser
// session cookie from this server's own origin.
func (s *Server) requireAdmin(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, e := s.authenticate(r)
		if e != nil {
			failWith(w, r, e)
			return
		}
		next(w, r)
	})
}

// decodeJSON reads a small JSON request body into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeJSONMax(w, r, v, maxAdminBody)
}

// decodeJSONMax reads a JSON request body of at most limit bytes into v.
func decodeJSONMax(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	body, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return &protocol.RequestError{Message: "request body is empty: send a JSON object"}
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			if typ.Field == "" {
				return &protocol.RequestError{Message: "request body is JSON " + typ.Value + ": send " + jsonKind(typ.Type)}
			}
			return &protocol.RequestError{Param: typ.Field, Message: "has the wrong type: expected " + jsonKind(typ.Type)}
		}
		return &protocol.RequestError{Message: "request body is not valid JSON: " + err.Error()}
	}
	return nil
}

// jsonKind names what JSON a Go type decodes from, for an error a client
// reads ("a JSON object", never a Go type name).
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another JSON type"
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	provs, err := s.cfg.Providers(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cooldowns := s.breakers.Status() // providers and models failing or cooling down
	writeJSON(w, http.StatusOK, map[string]any{
		"version":         s.opts.Version,
		"addr":            s.opts.Addr,
		"base_url":        ClientBaseURL(s.opts.Addr), // what editors and scripts should use
		"data_dir":        s.opts.DataDir,
		"started_at":      s.started.UTC().Format(time.RFC3339),
		"uptime_seconds":  int64(time.Since(s.started).Seconds()),
		"secrets_backend": s.cfg.SecretsBackend(),
		"providers":       len(provs),
		"routes":          len(s.cfg.Routes()),
		"local":           s.localStatus(),
		"problems":        s.cfg.Problems(r.Context()), // a corrupt database, unreadable keys: what the user must know
		"cooldowns":       cooldowns,
		"backends":        cooldowns,           // the same list, under its name from before cooldowns had a scope
		"in_flight":       s.inflight.counts(), // backend -> requests it is serving now
	})
}

func (s *Server) listProviders(w http.ResponseWriter, r *http.Request) {
	ps, err := s.cfg.Providers(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	views := make([]providerView, len(ps))
	for i, p := range ps {
		views[i] = s.viewProvider(p)
	}
	writeJSON(w, http.StatusOK, views)
}

func (s *Server) getProvider(w http.ResponseWriter, r *http.Request) {
	p, err := s.cfg.Provider(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.viewProvider(p))
}

// putProvider answers with the provider as saved and its warnings
// (config.Warnings): what is allowed but probably wrong is said, not
// refused.
func (s *Server) putProvider(w http.ResponseWriter, r *http.Request) {
	var in struct {
		config.ProviderInput
		Name *string `json:"name"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	name := r.PathValue("name")
	if in.Name != nil && *in.Name != name {
		s.fail(w, r, &router.FieldError{Field: "name", Message: "does not match the name in the URL"})
		return
	}
	p, created, err := s.cfg.PutProvider(r.Context(), name, in.ProviderInput)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// A changed provider (a new key, another address) may be fixed: its
	// cooldowns no longer say anything about it.
	s.breakers.Clear(name, "")
	s.tests.forget(name) // nor does its last test
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, s.viewProvider(p))
}

func (s *Server) deleteProvider(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.DeleteProvider(r.Context(), r.PathValue("name")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.breakers.Clear(r.PathValue("name"), "")
	s.tests.forget(r.PathValue("name"))
	w.WriteHeader(http.StatusNoContent)
}

// testProvider answers 200 with ok=false when the provider fails: the test
// itself worked, and the body says in plain words what went wrong
// (explainProbe): "error" the sentence, "code" its kind, "http_status" the
// provider's own status when it answered, "detail" the underlying error;
// "status" stays the status the gateway would answer a client with. The
// outcome is kept as the provider's last_test (providertests.go) and the
// providers topic says so, for other windows and the next reload.
func (s *Server) testProvider(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	p, err := s.cfg.Provider(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	started := time.Now()
	probe, err := s.cfg.TestProvider(r.Context(), name)
	if err != nil && r.Context().Err() == nil { // a test the caller abandoned says nothing about the provider
		f := explainProbe(p, err)
		s.recordTest(name, lastTest{At: started, LatencyMS: time.Since(started).Milliseconds(), Error: f.Message, Code: f.Code, HTTPStatus: f.HTTPStatus})
	} else if err == nil {
		s.recordTest(name, lastTest{At: started, OK: true, LatencyMS: probe.Latency.Milliseconds(), ModelCount: len(probe.Models)})
	}
	if err != nil {
		e := toAPIError(err)
		if e.Status == http.StatusInternalServerError {
			s.log.ErrorContext(r.Context(), "provider test failed", "provider", name, "err", err)
		}
		f := explainProbe(p, err)
		out := map[string]any{"ok": false, "error": f.Message, "code": f.Code, "status": e.Status, "detail": f.Detail}
		if f.HTTPStatus != 0 {
			out["http_status"] = f.HTTPStatus
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ok": true, "latency_ms": probe.Latency.Milliseconds(), "model_count": len(probe.Models), "models": probe.Models,
	})
}

func (s *Server) listRoutes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.routesWithUsage(s.cfg.Routes()))
}

func (s *Server) getRoute(w http.ResponseWriter, r *http.Request) {
	id, err := routeID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rt, err := s.cfg.Route(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rt)
}

func (s *Server) createRoute(w http.ResponseWriter, r *http.Request) {
	var in config.RouteInput
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	rt, err := s.cfg.CreateRoute(r.Context(), in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/routes/"+strconv.FormatInt(rt.ID, 10))
	writeJSON(w, http.StatusCreated, rt)
}

func (s *Server) updateRoute(w http.ResponseWriter, r *http.Request) {
	id, err := routeID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in config.RouteInput
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	rt, err := s.cfg.UpdateRoute(r.Context(), id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rt)
}

func (s *Server) deleteRoute(w http.ResponseWriter, r *http.Request) {
	id, err := routeID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.cfg.DeleteRoute(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.budget.Forget(id)
	s.balance.Forget(id)
	w.WriteHeader(http.StatusNoContent)
}

func routeID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, &apiError{Status: http.StatusNotFound, Type: "not_found_error", Code: "not_found",
			Message: "route " + strconv.Quote(r.PathValue("id")) + " not found: ids are positive integers"}
	}
	return id, nil
}

// localModel is a local model as the admin API and the UI show it.
type localModel struct {
	ID            string `json:"id"`
	Path          string `json:"path"`
	Source        string `json:"source"` // "models" (the data dir) or "hf-cache"
	SizeBytes     int64  `json:"size_bytes"`
	Architecture  string `json:"architecture"`
	Quantization  string `json:"quantization"`
	ContextLength int    `json:"context_length"`
	ToolUse       bool   `json:"tool_use"` // its chat template takes tools and the engine reads its calls
	Usable        bool   `json:"usable"`
	Reason        string `json:"reason,omitempty"` // why it cannot be used
	Loaded        bool   `json:"loaded"`
	Loading       bool   `json:"loading"`
	Pinned        bool   `json:"pinned"`
	InUse         int    `json:"in_use"`
	MemoryBytes   int64  `json:"memory_bytes"` // weights and KV caches
	KVBytes       int64  `json:"kv_bytes"`     // the part of memory_bytes its KV caches take (in use and kept for reuse)
}

func (s *Server) localModels() []localModel {
	out := []localModel{}
	if s.opts.Local == nil {
		return out
	}
	for _, m := range s.opts.Local.Models() {
		source := "models"
		if m.Source == modelfile.HFCache {
			source = "hf-cache"
		}
		out = append(out, localModel{
			ID: m.ID, Path: m.Path, Source: source, SizeBytes: m.SizeOnDisk, Architecture: m.Architecture,
			Quantization: m.Quantization, ContextLength: m.ContextLength, ToolUse: m.ToolUse, Usable: m.Usable(), Reason: m.Reason,
			Loaded: m.Loaded, Loading: m.Loading, Pinned: m.Pinned, InUse: m.InUse, MemoryBytes: m.MemoryBytes, KVBytes: m.KVBytes,
		})
	}
	return out
}

func (s *Server) listLocalModels(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.localModels())
}

// loadModel loads a local model (`{"model": "...", "pin": true}`); it
// answers once the model is in memory.
func (s *Server) loadModel(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Model string `json:"model"`
		Pin   bool   `json:"pin"`
	}
	if !s.decodeModelAction(w, r, &in, &in.Model) {
		return
	}
	if err := s.opts.Local.Load(r.Context(), in.Model, in.Pin); err != nil {
		s.fail(w, r, localError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"model": in.Model, "loaded": true, "pinned": in.Pin})
}

// pinModel pins or unpins a loaded local model.
func (s *Server) pinModel(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Model string `json:"model"`
		Pin   *bool  `json:"pin"`
	}
	if !s.decodeModelAction(w, r, &in, &in.Model) {
		return
	}
	if in.Pin == nil {
		s.fail(w, r, &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "pin", Message: "pin: true or false is required"})
		return
	}
	if err := s.opts.Local.Pin(in.Model, *in.Pin); err != nil {
		s.fail(w, r, &apiError{Status: http.StatusNotFound, Type: "not_found_error", Code: "not_loaded",
			Message: fmt.Sprintf("local model %q is not loaded: load it first", in.Model)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"model": in.Model, "pinned": *in.Pin})
}

// unloadModel unloads a local model, at once or when its requests end.
func (s *Server) unloadModel(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Model string `json:"model"`
	}
	if !s.decodeModelAction(w, r, &in, &in.Model) {
		return
	}
	found, err := s.opts.Local.Unload(in.Model)
	switch {
	case err != nil:
		s.fail(w, r, localError(err))
	case !found:
		s.fail(w, r, &apiError{Status: http.StatusNotFound, Type: "not_found_error", Code: "not_loaded",
			Message: fmt.Sprintf("local model %q is not loaded", in.Model)})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"model": in.Model, "unloaded": true})
	}
}

func (s *Server) decodeModelAction(w http.ResponseWriter, r *http.Request, in any, model *string) bool {
	if err := decodeJSON(w, r, in); err != nil {
		s.fail(w, r, err)
		return false
	}
	if *model == "" {
		s.fail(w, r, &protocol.RequestError{Param: "model", Message: "is required"})
		return false
	}
	if s.opts.Local == nil {
		s.fail(w, r, errLocalUnavailable)
		return false
	}
	return true
}

// localStatus is the engine's part of /api/status.
func (s *Server) localStatus() map[string]any {
	if s.opts.Local == nil {
		return map[string]any{"available": false, "reason": errLocalUnavailable.Message, "models": []any{}}
	}
	loaded := []localModel{}
	for _, m := range s.localModels() {
		if m.Loaded || m.Loading {
			loaded = append(loaded, m)
		}
	}
	return map[string]any{"available": true, "backend": s.opts.Local.Backend(), "backend_reason": s.opts.Local.BackendReason(), "models": loaded}
}
