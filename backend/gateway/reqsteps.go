package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/modelbar/modelbar/backend/failover"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/reqlog"
	"github.com/modelbar/modelbar/backend/router"
)

// What the request log says of a request beyond its status: each step of
// its failover chain, whether a stream ended or was stopped by its client,
// and how many output tokens went out when no usage report covers them.

// step is one try of a backend (see attempt), recorded in the chain.
// retry counts the tries of the same backend before it.
func (wk *walk) step(t router.Target, ticket *failover.Ticket, retry int) error {
	start := time.Now()
	err := wk.attempt(t, ticket)
	wk.note(t, retry, time.Since(start), err)
	return err
}

// skip records a backend passed over in cooldown and returns its failure.
func (wk *walk) skip(t router.Target, err error) error {
	if info := infoFrom(wk.r.Context()); info != nil {
		status, reason := stepFailure(err)
		info.attempts = append(info.attempts, reqlog.Attempt{Backend: t.Backend, Model: truncate(t.Model, 128),
			Status: status, Outcome: reqlog.OutcomeSkipped, Reason: reason})
	}
	return err
}

// note records how one try ended. The status of a try that answered is
// the response's, known when the request is logged (chain).
func (wk *walk) note(t router.Target, retry int, d time.Duration, err error) {
	info := infoFrom(wk.r.Context())
	if info == nil {
		return
	}
	a := reqlog.Attempt{Backend: t.Backend, Model: truncate(t.Model, 128), Retry: retry, DurationMS: d.Milliseconds()}
	switch ctx := wk.r.Context(); {
	case err == nil:
		a.Outcome = reqlog.OutcomeAnswered
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled):
		a.Outcome, a.Status, a.Reason = reqlog.OutcomeCancelled, reqlog.StatusClientClosed, "the client went away before the answer began"
	case failover.Answered(err):
		a.Outcome = reqlog.OutcomeAnswered
		a.Status, a.Reason = stepFailure(err)
	default:
		a.Outcome = reqlog.OutcomeFailed
		a.Status, a.Reason = stepFailure(err)
	}
	info.attempts = append(info.attempts, a)
}

// urlPrefix is how net/http starts a transport error: `Post "URL": `.
var urlPrefix = regexp.MustCompile(`^[A-Za-z]+ "[^"]*": `)

// stepFailure is a failed try's status and reason in modelbar's own short
// words: a provider's status, timeout or connection failure, never the
// provider's message (it may quote the prompt); keys are already cut from
// transport errors (providers.Client).
func stepFailure(err error) (int, string) {
	var pe *providers.Error
	if errors.As(err, &pe) {
		switch pe.Kind {
		case providers.KindStatus:
			return pe.Status, fmt.Sprintf("HTTP %d", pe.Status)
		case providers.KindTimeout:
			if errors.Is(pe.Err, failover.ErrFirstByteTimeout) {
				return 504, truncate(pe.Err.Error(), 160)
			}
			return 504, "timed out"
		case providers.KindCanceled:
			return reqlog.StatusClientClosed, "cancelled"
		case providers.KindConfig:
			return 502, truncate(pe.Message, 160)
		}
		var ue *url.Error
		if errors.As(pe.Err, &ue) {
			// In the words a provider test uses: "Nothing is listening on
			// 127.0.0.1:11434 — is Ollama running?", not a dial error.
			_, msg := explainTransport(hostPort(ue.URL), pe.Err)
			return 502, truncate(msg, 160)
		}
		msg := "connection failed"
		if pe.Err != nil {
			msg += ": " + urlPrefix.ReplaceAllString(pe.Err.Error(), "")
		}
		return 502, truncate(msg, 160)
	}
	e := toAPIError(err)
	return e.Status, truncate(e.Message, 160)
}

// chain is the failover chain for the log: the try that answered gets the
// response's status (499 when its client stopped the stream), and the
// error of a stream that broke after it began.
func (info *requestInfo) chain(status int, errMsg string) []reqlog.Attempt {
	steps := reqlog.TrimAttempts(info.attempts)
	if n := len(steps); n > 0 && steps[n-1].Outcome == reqlog.OutcomeAnswered && steps[n-1].Status == 0 {
		last := &steps[n-1]
		last.Status = status
		switch {
		case status == reqlog.StatusClientClosed:
			last.Outcome, last.Reason = reqlog.OutcomeCancelled, "the client stopped the answer after it began"
		case errMsg != "":
			last.Reason = truncate(errMsg, 160)
		}
	}
	return steps
}

// cancelledStream reports whether a stream that began was stopped by its
// client: the connection closed before the stream's end.
func (info *requestInfo) cancelledStream(ctx context.Context, status int) bool {
	return info.stream && !info.finished && status < 400 && ctx.Err() != nil
}

// endStream marks the answer complete: the stream reached its end, or the
// gateway ended it with an error event.
func (info *requestInfo) endStream() {
	if info != nil {
		info.finished = true
	}
}

// output is the output token count for the log and where it comes from:
// the backend's usage, unless a stream stopped by its client went beyond
// it (a usage report comes at the end, so what one said before is stale),
// else what was streamed, counted or estimated.
func (info *requestInfo) output(status int) (int64, string) {
	est, source := info.deltas, reqlog.TokensCounted
	if !info.localCount {
		est, source = max(info.deltas, (info.deltaBytes+3)/4), reqlog.TokensEstimated
	}
	switch {
	case info.outputTokens > 0 && (status != reqlog.StatusClientClosed || info.outputTokens >= est):
		return info.outputTokens, reqlog.TokensUsage
	case est > 0:
		return est, source
	}
	return 0, ""
}

// noteDelta counts one internal content event on its way to the client.
func (info *requestInfo) noteDelta(ev protocol.Event) {
	if info == nil || ev.Type != protocol.EventDelta || ev.Delta == "" || ev.DeltaType == protocol.DeltaSignature {
		return
	}
	info.deltas++
	info.deltaBytes += int64(len(ev.Delta))
}

// wireDelta is the streamed text of a stream event of any API: OpenAI's
// chat chunk (content, reasoning, tool-call arguments) and completion
// chunk (text); Anthropic's content_block_delta (text, thinking,
// partial_json); the Responses API's *.delta events (a string).
type wireDelta struct {
	Delta   json.RawMessage `json:"delta"`
	Choices []struct {
		Text  string `json:"text"`
		Delta struct {
			Content          string `json:"content"`
			ReasoningContent string `json:"reasoning_content"`
			Reasoning        string `json:"reasoning"`
			ToolCalls        []struct {
				Function struct {
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
	} `json:"choices"`
}

// noteWireDelta counts the text of a relayed stream event.
func (info *requestInfo) noteWireDelta(data []byte) {
	if info == nil || (!bytes.Contains(data, []byte(`"delta"`)) && !bytes.Contains(data, []byte(`"text"`))) {
		return
	}
	var doc wireDelta
	if json.Unmarshal(data, &doc) != nil {
		return
	}
	n := 0
	for _, c := range doc.Choices {
		n += len(c.Text) + len(c.Delta.Content) + len(c.Delta.ReasoningContent) + len(c.Delta.Reasoning)
		for _, tc := range c.Delta.ToolCalls {
			n += len(tc.Function.Arguments)
		}
	}
	if d := bytes.TrimSpace(doc.Delta); len(d) > 0 {
		var s string
		var blk struct {
			Text        string `json:"text"`
			Thinking    string `json:"thinking"`
			PartialJSON string `json:"partial_json"`
		}
		if json.Unmarshal(d, &s) == nil {
			n += len(s)
		} else if json.Unmarshal(d, &blk) == nil {
			n += len(blk.Text) + len(blk.Thinking) + len(blk.PartialJSON)
		}
	}
	if n > 0 {
		info.deltas++
		info.deltaBytes += int64(n)
	}
}
