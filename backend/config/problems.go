package config

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/modelbar/modelbar/backend/secrets"
)

// Problem is a fault in modelbar's stored state that the user has to act
// on. It never holds a key.
type Problem struct {
	Component string `json:"component"`         // "database" | "secrets"
	Subject   string `json:"subject,omitempty"` // the provider, for "secrets"
	Message   string `json:"message"`
}

// Problem components.
const (
	ComponentDatabase = "database"
	ComponentSecrets  = "secrets"
)

// Problems lists what is wrong with the stored state: the database's
// integrity check failing when it was opened, then each provider (by name)
// whose configured key could not be read when the configuration was last
// published (at start and after every change). Never nil; does not block.
func (s *Service) Problems(ctx context.Context) []Problem {
	out := []Problem{}
	if ok, problem := s.store.Integrity(); !ok {
		out = append(out, Problem{Component: ComponentDatabase, Message: fmt.Sprintf(
			"database %s failed its integrity check at start (some data may be lost or unreadable): %s", s.store.Path(), problem)})
	}
	keyErrs := *s.keyErrors.Load()
	names := make([]string, 0, len(keyErrs))
	for name := range keyErrs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, Problem{Component: ComponentSecrets, Subject: name, Message: fmt.Sprintf(
			"the API key of provider %s cannot be read (%s): it sends no requests until its key is set again", name, keyErrs[name])})
	}
	return out
}

// keyErrorReason says in a few words why a provider's configured key could
// not be read from the secrets backend. err comes from the secret store,
// whose errors never quote a secret.
func keyErrorReason(backend string, err error) string {
	switch {
	case errors.Is(err, secrets.ErrUnreadable):
		return "the secrets file is corrupt or was encrypted with another key"
	case errors.Is(err, secrets.ErrNotFound):
		return "the key is missing from the " + backend + " secret store"
	}
	return "the " + backend + " secret store failed: " + err.Error()
}
