package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	openaigo "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// openai-go's Responses client: a stored response read back, its input
// items listed (auto-paging), continued with previous_response_id, counted
// and deleted.
func TestSDK_OpenAIGoStoredResponses(t *testing.T) {
	h, up := chatOnly(t, okChat("hello"))
	opts := []option.RequestOption{option.WithBaseURL(h.url("/v1/")), option.WithAPIKey("x"), option.WithMaxRetries(0), option.WithHTTPClient(h.client)}
	rs := responses.NewResponseService(opts...)
	ctx := context.Background()

	first, err := rs.New(ctx, responses.ResponseNewParams{Model: "gpt-x",
		Input: responses.ResponseNewParamsInputUnion{OfString: openaigo.String("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	// No settle: a response is found from the moment its client has it.
	got, err := rs.Get(ctx, first.ID, responses.ResponseGetParams{})
	if err != nil || got.ID != first.ID || got.OutputText() != "hello" {
		t.Fatalf("Get: %v %s", err, got.RawJSON())
	}

	second, err := rs.New(ctx, responses.ResponseNewParams{Model: "gpt-x", PreviousResponseID: openaigo.String(first.ID),
		Input: responses.ResponseNewParamsInputUnion{OfString: openaigo.String("again")}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(up.requests()); n != 2 {
		t.Fatalf("provider saw %d requests", n)
	}
	var roles []string
	pager := rs.InputItems.ListAutoPaging(ctx, second.ID, responses.InputItemListParams{Limit: openaigo.Int(1), Order: responses.InputItemListParamsOrderAsc})
	for pager.Next() {
		it := pager.Current()
		roles = append(roles, it.Type+":"+string(it.Role))
	}
	if err := pager.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"message:user", "message:assistant", "message:user"}; len(roles) != 3 || roles[0] != want[0] || roles[1] != want[1] || roles[2] != want[2] {
		t.Errorf("input items %v, want %v", roles, want)
	}

	count, err := rs.InputTokens.Count(ctx, responses.InputTokenCountParams{Model: openaigo.String("gpt-x"),
		PreviousResponseID: openaigo.String(second.ID), Input: responses.InputTokenCountParamsInputUnion{OfString: openaigo.String("more")}})
	if err != nil || count.InputTokens < 1 {
		t.Errorf("InputTokens.Count: %v %+v", err, count)
	}

	if err := rs.Delete(ctx, first.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = rs.Get(ctx, first.ID, responses.ResponseGetParams{})
	var apiErr *openaigo.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
		t.Errorf("Get after Delete: %v", err)
	}
	// The conversation is no longer whole: its input items are what is
	// left, and continuing it is refused.
	page, err := rs.InputItems.List(ctx, second.ID, responses.InputItemListParams{})
	if err != nil || len(page.Data) != 1 {
		t.Errorf("input items after an earlier response was deleted: %v %d", err, len(page.Data))
	}
	_, err = rs.New(ctx, responses.ResponseNewParams{Model: "gpt-x", PreviousResponseID: openaigo.String(second.ID),
		Input: responses.ResponseNewParamsInputUnion{OfString: openaigo.String("more")}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Param != "previous_response_id" {
		t.Errorf("continuing a broken conversation: %v", err)
	}
}

// The local engine's answers are stored too, whole and streamed, and a
// stored one is continued.
func TestLocal_StoresResponses(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)
	rs := responses.NewResponseService(option.WithBaseURL(h.url("/v1/")), option.WithAPIKey("x"), option.WithMaxRetries(0))
	ctx := context.Background()
	p := responses.ResponseNewParams{Model: localModel, MaxOutputTokens: openaigo.Int(4),
		Input: responses.ResponseNewParamsInputUnion{OfString: openaigo.String("Say hi")}}
	r, err := rs.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	h.settle()
	if got, err := rs.Get(ctx, r.ID, responses.ResponseGetParams{}); err != nil || got.ID != r.ID {
		t.Fatalf("Get: %v", err)
	}
	p.PreviousResponseID = openaigo.String(r.ID)
	stream := rs.NewStreaming(ctx, p)
	var id string
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "response.completed" || ev.Type == "response.incomplete" {
			id = ev.Response.ID
		}
	}
	if err := stream.Err(); err != nil || id == "" {
		t.Fatalf("stream: %q, %v", id, err)
	}
	h.settle()
	page, err := rs.InputItems.List(ctx, id, responses.InputItemListParams{})
	if err != nil || len(page.Data) < 3 { // the first turn's input and output, then this one's input
		t.Errorf("input items of the continued response: %v %d", err, len(page.Data))
	}
}
