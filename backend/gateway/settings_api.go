package gateway

import (
	"fmt"
	"net/http"

	"github.com/modelbar/modelbar/backend/config"
)

// settingsAnswer is GET and PUT /api/settings: the settings as stored
// (their fields unchanged since the first release), each numeric one's
// default and value in force, what the local models hold, and warnings
// about a combination that works but not as the user may expect.
type settingsAnswer struct {
	config.SettingsView
	// PinnedMB and LoadedMB are the memory of the pinned and of all loaded
	// local models, in MiB (rounded up).
	PinnedMB int64            `json:"pinned_mb"`
	LoadedMB int64            `json:"loaded_mb"`
	Warnings []settingWarning `json:"warnings"`
}

// settingWarning names a setting whose value is accepted but worth a second
// look.
type settingWarning struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.Settings(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.settingsAnswer(st))
}

// putSettings saves a change. A memory budget below what pinned models
// hold is saved (they stay loaded; it is the user's machine) with a
// warning in the answer.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request) {
	var in config.SettingsInput
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.cfg.PutSettings(r.Context(), in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.settingsAnswer(st))
}

func (s *Server) settingsAnswer(st config.Settings) settingsAnswer {
	a := settingsAnswer{SettingsView: s.cfg.View(st), Warnings: []settingWarning{}}
	var pinned, loaded int64
	for _, m := range s.localModels() {
		if m.Loaded {
			loaded += m.MemoryBytes
			if m.Pinned {
				pinned += m.MemoryBytes
			}
		}
	}
	a.PinnedMB, a.LoadedMB = ceilMiB(pinned), ceilMiB(loaded)
	if budget, ok := a.Effective["memory_budget_mb"]; ok && pinned > budget<<20 {
		a.Warnings = append(a.Warnings, settingWarning{Field: "memory_budget_mb", Message: fmt.Sprintf(
			"The memory budget (%s) is below what pinned models hold (%s): they stay loaded, but no other model can load until you unpin one or raise the budget.",
			mib(float64(budget)), mib(float64(pinned)/(1<<20)))})
	}
	return a
}

func ceilMiB(b int64) int64 { return (b + 1<<20 - 1) >> 20 }

// mib spells a number of MiB for a person, as the UI does (lib/format.ts):
// "4.4 MiB", "512 MiB", "8 GiB", "1.5 GiB".
func mib(n float64) string {
	unit := "MiB"
	if n >= 1024 {
		n, unit = n/1024, "GiB"
	}
	if n == float64(int64(n)) || n >= 100 {
		return fmt.Sprintf("%.0f %s", n, unit)
	}
	return fmt.Sprintf("%.1f %s", n, unit)
}
