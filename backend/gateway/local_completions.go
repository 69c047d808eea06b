package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/engine/generate"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/protocol/openai"
)

// localCompletion serves /v1/completions with the local engine: the prompt
// continued as plain text, whole or streamed.
func (s *Server) localCompletion(a *attempt) error {
	req, err := openai.DecodeCompletionRequest(a.c.body)
	if err != nil {
		return err
	}
	c := engine.Completion{Model: a.t.Model, Prompt: req.Prompt, MaxTokens: req.MaxTokens, Stop: req.Stop,
		Sampling: generate.Sampling{Temperature: 1, TopP: 1}}
	if req.Temperature != nil {
		c.Sampling.Temperature = *req.Temperature
	}
	if req.TopP != nil {
		c.Sampling.TopP = *req.TopP
	}
	if req.Seed != nil {
		seed := uint64(*req.Seed)
		c.Sampling.Seed = &seed
	}
	id, created := "cmpl-"+randomHex(), time.Now().Unix()
	if req.Stream {
		return s.streamCompletion(a, c, req, id, created)
	}
	var text []byte
	res, err := s.opts.Local.Complete(a.r.Context(), c, func(t string) error {
		a.open() // generating: the first-byte deadline no longer applies
		text = append(text, t...)
		return nil
	})
	if err != nil {
		return localError(err)
	}
	infoFrom(a.r.Context()).noteUsage(usageOf(res))
	infoFrom(a.r.Context()).endStream()
	a.commit(http.Header{})
	a.w.Header().Set("Content-Type", "application/json")
	a.w.WriteHeader(http.StatusOK)
	a.w.Write(openai.CompletionResponse(id, a.c.model, created, string(text), finishOf(res), usageOf(res)))
	return nil
}

func (s *Server) streamCompletion(a *attempt, c engine.Completion, req openai.CompletionRequest, id string, created int64) error {
	committed := false
	rc := http.NewResponseController(a.w)
	write := func(b []byte) error {
		if !committed {
			committed = true
			a.commit(http.Header{})
			h := a.w.Header()
			h.Set("Content-Type", "text/event-stream")
			h.Set("Cache-Control", "no-cache")
			a.w.WriteHeader(http.StatusOK)
		}
		if _, err := a.w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	info := infoFrom(a.r.Context())
	if info != nil {
		info.localCount = true // a chunk a token
	}
	res, err := s.opts.Local.Complete(a.r.Context(), c, func(t string) error {
		info.noteDelta(protocol.Event{Type: protocol.EventDelta, DeltaType: protocol.DeltaText, Delta: t})
		return write(openai.CompletionChunk(id, a.c.model, created, t, ""))
	})
	switch {
	case err != nil && !committed:
		return localError(err)
	case err != nil:
		if a.r.Context().Err() == nil {
			info.endStream()
			write(openai.ErrorEvent("server_error", "local generation failed: "+err.Error()))
		}
		return nil
	}
	info.noteUsage(usageOf(res))
	info.endStream()
	out := openai.CompletionChunk(id, a.c.model, created, "", finishOf(res))
	if req.IncludeUsage {
		out = append(out, openai.CompletionUsageChunk(id, a.c.model, created, usageOf(res))...)
	}
	write(append(out, "data: [DONE]\n\n"...))
	return nil
}

func finishOf(r generate.Result) string {
	if r.Finish == generate.FinishLength {
		return "length"
	}
	return "stop"
}

func usageOf(r generate.Result) protocol.Usage {
	return protocol.Usage{InputTokens: r.PromptTokens - r.CachedTokens, CacheReadTokens: r.CachedTokens, OutputTokens: r.CompletionTokens}
}

func randomHex() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
