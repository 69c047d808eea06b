package gateway

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/modelbar/modelbar/backend/downloads"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/protocol"
)

// Downloads is the model download manager as the admin API uses it
// (*downloads.Manager). Start, Info, Search and RemoveModel block on the
// Hub or the disk until done or ctx ends; all are safe for concurrent use.
type Downloads interface {
	Start(ctx context.Context, repo, revision string) (downloads.Download, error)
	List() []downloads.Download
	Get(id string) (downloads.Download, error)
	Cancel(ctx context.Context, id string, discard bool) (downloads.Download, error)
	Info(ctx context.Context, repo, revision string) (downloads.Info, error)
	Search(ctx context.Context, q downloads.SearchQuery) ([]downloads.Summary, error)
	RemoveModel(ctx context.Context, m downloads.LocalModel) error
}

var _ Downloads = (*downloads.Manager)(nil)

// HubToken keeps the Hugging Face Hub token (downloads.Token): it is set
// and cleared here, never read back.
type HubToken interface {
	Has(ctx context.Context) bool
	Set(ctx context.Context, token string) error
}

var _ HubToken = downloads.Token{}

var errNoDownloads = &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "downloads_unavailable",
	Message: "this modelbar has no download manager"}

// downloadsReady fails the request when there is no manager.
func (s *Server) downloadsReady(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.Downloads == nil {
		s.fail(w, r, errNoDownloads)
		return false
	}
	return true
}

// downloadError maps a download failure to the admin API's status, one
// status per kind, the message saying what to do. The Hub refusing its
// token (or wanting one) is a 403 like a gated repo, told apart by the
// code: a 401 from the admin API means the caller's own credentials, and
// the browser UI rightly signs out on it.
func downloadError(e *downloads.Error) *apiError {
	status, typ := http.StatusBadGateway, "server_error"
	switch e.Kind {
	case downloads.Invalid:
		status, typ = http.StatusBadRequest, "invalid_request_error"
	case downloads.NotFound:
		status, typ = http.StatusNotFound, "not_found_error"
	case downloads.Unauthorized, downloads.Gated:
		status, typ = http.StatusForbidden, "permission_error"
	case downloads.NoWeights:
		status, typ = http.StatusUnprocessableEntity, "invalid_request_error"
	case downloads.DiskFull:
		status, typ = http.StatusInsufficientStorage, "server_error"
	case downloads.Conflict:
		status, typ = http.StatusConflict, "conflict_error"
	}
	return &apiError{Status: status, Type: typ, Code: string(e.Kind), Message: e.Message}
}

func (s *Server) hubSearch(w http.ResponseWriter, r *http.Request) {
	if !s.downloadsReady(w, r) {
		return
	}
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			s.fail(w, r, &protocol.RequestError{Param: "limit", Message: "want a number from 1 to 100"})
			return
		}
		limit = n
	}
	sort := q.Get("sort")
	switch sort {
	case "", "downloads", "likes", "recent":
	default:
		s.fail(w, r, &protocol.RequestError{Param: "sort", Message: "want downloads, likes or recent"})
		return
	}
	author := q.Get("author")
	if !q.Has("author") {
		author = "mlx-community"
	}
	models, err := s.opts.Downloads.Search(r.Context(), downloads.SearchQuery{Text: q.Get("q"), Author: author, Sort: sort, Limit: limit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": models})
}

func (s *Server) hubModel(w http.ResponseWriter, r *http.Request) {
	if !s.downloadsReady(w, r) {
		return
	}
	in, err := s.opts.Downloads.Info(r.Context(), r.PathValue("repo"), r.URL.Query().Get("revision"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, in)
}

func (s *Server) createDownload(w http.ResponseWriter, r *http.Request) {
	if !s.downloadsReady(w, r) {
		return
	}
	var in struct {
		Repo     string `json:"repo"`
		Revision string `json:"revision"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Repo == "" {
		s.fail(w, r, &protocol.RequestError{Param: "repo", Message: "is required: a Hub model id, e.g. mlx-community/Qwen2.5-0.5B-Instruct-4bit"})
		return
	}
	if repo, rev, ok := strings.Cut(in.Repo, "@"); ok && in.Revision == "" {
		in.Repo, in.Revision = repo, rev
	}
	d, err := s.opts.Downloads.Start(r.Context(), in.Repo, in.Revision)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, d)
}

func (s *Server) listDownloads(w http.ResponseWriter, r *http.Request) {
	if !s.downloadsReady(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, s.opts.Downloads.List())
}

func (s *Server) getDownload(w http.ResponseWriter, r *http.Request) {
	if !s.downloadsReady(w, r) {
		return
	}
	d, err := s.opts.Downloads.Get(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// cancelDownload answers the download as it is now (the state turns
// cancelled once its worker stops: the events say so) and what happened
// to its partial files.
func (s *Server) cancelDownload(w http.ResponseWriter, r *http.Request) {
	if !s.downloadsReady(w, r) {
		return
	}
	discard := r.URL.Query().Get("discard")
	if discard != "" && discard != "0" && discard != "1" && discard != "true" && discard != "false" {
		s.fail(w, r, &protocol.RequestError{Param: "discard", Message: "want 1 (remove the partial files) or 0 (keep them)"})
		return
	}
	drop := discard == "1" || discard == "true"
	d, err := s.opts.Downloads.Cancel(r.Context(), r.PathValue("id"), drop)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	partial := "kept: downloading it again resumes where it stopped"
	if drop {
		partial = "removed"
	}
	writeJSON(w, http.StatusOK, struct {
		downloads.Download
		PartialFiles string `json:"partial_files"`
	}{d, partial})
}

// deleteLocalModel removes a model from the disk: unloaded first, refused
// while it serves a request, only from the Hugging Face cache or the
// models dir.
func (s *Server) deleteLocalModel(w http.ResponseWriter, r *http.Request) {
	if s.opts.Local == nil {
		s.fail(w, r, errLocalUnavailable)
		return
	}
	if !s.downloadsReady(w, r) {
		return
	}
	id := r.PathValue("id")
	var found bool
	var lm downloads.LocalModel
	for _, m := range s.opts.Local.Models() {
		if m.ID != id {
			continue
		}
		if m.InUse > 0 {
			s.fail(w, r, &apiError{Status: http.StatusConflict, Type: "conflict_error", Code: "model_in_use",
				Message: "local model " + id + " is serving " + strconv.Itoa(m.InUse) + " request(s): try again when they finish"})
			return
		}
		if !found { // the first root's copy is the one the engine serves
			found = true
			lm = downloads.LocalModel{ID: m.ID, InHFCache: m.Source == modelfile.HFCache, Path: m.Path, Revision: m.Revision}
		}
	}
	if !found {
		s.fail(w, r, &apiError{Status: http.StatusNotFound, Type: "not_found_error", Code: "model_not_found",
			Message: "no local model " + id + ": GET /api/models lists them"})
		return
	}
	if _, err := s.opts.Local.Unload(id); err != nil {
		s.fail(w, r, localError(err))
		return
	}
	if err := s.opts.Downloads.RemoveModel(r.Context(), lm); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getHubToken(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"has_hub_token": s.opts.HubToken != nil && s.opts.HubToken.Has(r.Context())})
}

// putHubToken stores (or with "" clears) the Hub token; the answer says
// only whether one is set.
func (s *Server) putHubToken(w http.ResponseWriter, r *http.Request) {
	if s.opts.HubToken == nil {
		s.fail(w, r, errNoDownloads)
		return
	}
	var in struct {
		Token *string `json:"token"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Token == nil {
		s.fail(w, r, &protocol.RequestError{Param: "token", Message: `is required: a Hugging Face access token (hf_...), or "" to remove it`})
		return
	}
	tok := strings.TrimSpace(*in.Token)
	if strings.ContainsAny(tok, " \t\r\n") || len(tok) > 512 {
		s.fail(w, r, &protocol.RequestError{Param: "token", Message: "is not a Hugging Face access token"})
		return
	}
	if err := s.opts.HubToken.Set(r.Context(), tok); err != nil {
		s.fail(w, r, &apiError{Status: http.StatusInternalServerError, Type: "server_error", Message: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"has_hub_token": tok != ""})
}

func (s *Server) deleteHubToken(w http.ResponseWriter, r *http.Request) {
	if s.opts.HubToken == nil {
		s.fail(w, r, errNoDownloads)
		return
	}
	if err := s.opts.HubToken.Set(r.Context(), ""); err != nil {
		s.fail(w, r, &apiError{Status: http.StatusInternalServerError, Type: "server_error", Message: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"has_hub_token": false})
}
