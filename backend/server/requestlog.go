package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/reqlog"
	"github.com/modelbar/modelbar/backend/store"
)

// startRequestLog starts the request log over the database, pruned with the
// retention the settings ask for, and keeps applying it as it changes.
func startRequestLog(ctx context.Context, st *store.Store, cfg *config.Service, log *slog.Logger) (*reqlog.Log, error) {
	settings, err := cfg.Settings(ctx)
	if err != nil {
		return nil, err
	}
	l := reqlog.New(st, reqlog.Options{Retention: retention(settings), Log: log})
	cfg.OnSettings(func(s config.Settings) { l.SetRetention(retention(s)) })
	return l, nil
}

// retention is the request log's retention: 0 days means the default
// (30 days, see reqlog.DefaultRetention).
func retention(s config.Settings) time.Duration {
	return time.Duration(s.RequestLogRetentionDays) * 24 * time.Hour
}
