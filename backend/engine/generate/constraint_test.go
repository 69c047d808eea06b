package generate

import (
	"errors"
	"math"
	"testing"
)

// allowOnly is a constraint that allows a fixed sequence of tokens, one
// per step, and is done after the last.
type allowOnly struct {
	seq  []int
	at   int
	left []int // the left argument of each Mask
}

func (a *allowOnly) Mask(logits []float32, left int) error {
	a.left = append(a.left, left)
	for i := range logits {
		if i != a.seq[a.at] {
			logits[i] = float32(math.Inf(-1))
		}
	}
	return nil
}

func (a *allowOnly) Accept(id int) error {
	if id != a.seq[a.at] {
		return errors.New("not allowed")
	}
	a.at++
	return nil
}

func (a *allowOnly) Done() bool { return a.at == len(a.seq) }

// The constraint's mask decides the tokens against the model's
// preference, at any temperature; generation ends when it is done, as at
// a stop token, without a further forward pass; Mask is told how many
// tokens may follow within the budget.
func TestRun_ConstraintMasksAndEnds(t *testing.T) {
	words := pieces{1: "{", 2: "}", 5: "x"}
	for _, temp := range []float64{0, 1} {
		m := &scripted{vocab: 100, ctxLen: 100, next: []int{5, 5, 5, 5}}
		c := &allowOnly{seq: []int{1, 2}}
		seed := uint64(3)
		got, res, err := collect(t, m, words, Request{Prompt: []int{7}, MaxTokens: 10, Constraint: c,
			Sampling: Sampling{Temperature: temp, TopP: 0.9, Seed: &seed}})
		if err != nil {
			t.Fatal(err)
		}
		if got != "{}" || res.Finish != FinishStop || res.CompletionTokens != 2 || m.step != 2 {
			t.Errorf("temperature %v: %q %+v after %d forwards; want {} ended as stopped after 2", temp, got, res, m.step)
		}
		if len(c.left) != 2 || c.left[0] != 9 || c.left[1] != 8 {
			t.Errorf("left = %v, want [9 8]", c.left)
		}
	}
}

// A token the constraint refuses (a sampler that ignored the mask) fails
// the generation rather than passing through.
func TestRun_ConstraintRefusalIsAnError(t *testing.T) {
	m := &scripted{vocab: 100, ctxLen: 100, next: []int{5}}
	c := &refuseAll{}
	_, _, err := collect(t, m, pieces{5: "x"}, Request{Prompt: []int{7}, MaxTokens: 3, Constraint: c})
	if err == nil {
		t.Fatal("a refused token was accepted")
	}
}

type refuseAll struct{}

func (refuseAll) Mask([]float32, int) error { return nil }
func (refuseAll) Accept(int) error          { return errors.New("refused") }
func (refuseAll) Done() bool                { return false }

func (a *allowOnly) Complete() bool { return a.Done() }

func (refuseAll) Complete() bool { return false }

// A stop sequence that the constrained document holds before it is
// complete (a "\n" between JSON tokens) does not cut it: the document is
// finished; one after it is complete ends the text as usual.
func TestRun_ConstraintIgnoresStopSequencesUntilComplete(t *testing.T) {
	words := pieces{1: "{", 3: "\n", 4: `"a":1`, 2: "}"}
	m := &scripted{vocab: 100, ctxLen: 100, next: []int{5, 5, 5, 5}}
	c := &allowOnly{seq: []int{1, 3, 4, 2}}
	got, res, err := collect(t, m, words, Request{Prompt: []int{7}, MaxTokens: 10, Constraint: c, Stop: []string{"\n", "}", "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if got != "{\n\"a\":1}" || res.Finish != FinishStop {
		t.Errorf("got %q finish %v, want the whole document ended as stopped", got, res.Finish)
	}
}

// A constraint at a dead end fails the generation with its error: the
// answer does not end as stopped on an incomplete document.
func TestRun_ConstraintDeadEndIsAnError(t *testing.T) {
	m := &scripted{vocab: 100, ctxLen: 100, next: []int{5, 5}}
	dead := errors.New("dead end")
	_, res, err := collect(t, m, pieces{1: "{", 5: "x"}, Request{Prompt: []int{7}, MaxTokens: 5, StopTokens: []int{5},
		Constraint: &deadAfter{allowOnly: allowOnly{seq: []int{1, 2}}, err: dead}})
	if !errors.Is(err, dead) {
		t.Fatalf("finish %v, err %v; want the dead end's error", res.Finish, err)
	}
}

// deadAfter allows its first token, then finds no token.
type deadAfter struct {
	allowOnly
	err error
}

func (d *deadAfter) Mask(logits []float32, left int) error {
	if d.at > 0 {
		return d.err
	}
	return d.allowOnly.Mask(logits, left)
}
