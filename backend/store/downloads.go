package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Download is a model download as stored (migration 0012): enough to show
// it after a restart and to start it again where it stopped. The download
// manager (package downloads) owns the meaning of State.
type Download struct {
	ID         string
	Repo       string
	Revision   string
	Commit     string
	State      string
	DoneBytes  int64
	TotalBytes int64
	Error      string
	ModelID    string
	StartedAt  time.Time
	UpdatedAt  time.Time
}

const downloadCols = `id, repo, revision, commit_sha, state, done_bytes, total_bytes, error, model_id, started_at, updated_at`

// PutDownload creates or replaces the download with d.ID.
func (s *Store) PutDownload(ctx context.Context, d Download) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO downloads (`+downloadCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT (id) DO UPDATE SET repo=excluded.repo, revision=excluded.revision, commit_sha=excluded.commit_sha,
			state=excluded.state, done_bytes=excluded.done_bytes, total_bytes=excluded.total_bytes, error=excluded.error,
			model_id=excluded.model_id, started_at=excluded.started_at, updated_at=excluded.updated_at`,
			d.ID, d.Repo, d.Revision, d.Commit, d.State, d.DoneBytes, d.TotalBytes, d.Error, d.ModelID,
			formatTime(d.StartedAt), formatTime(d.UpdatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: put download %s: %w", d.ID, err)
	}
	return nil
}

// ListDownloads returns every stored download, oldest first; an empty store
// gives an empty, non-nil slice.
func (s *Store) ListDownloads(ctx context.Context) ([]Download, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+downloadCols+` FROM downloads ORDER BY started_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: list downloads: %w", err)
	}
	defer rows.Close()
	out := []Download{}
	for rows.Next() {
		var d Download
		var started, updated string
		if err := rows.Scan(&d.ID, &d.Repo, &d.Revision, &d.Commit, &d.State, &d.DoneBytes, &d.TotalBytes,
			&d.Error, &d.ModelID, &started, &updated); err != nil {
			return nil, fmt.Errorf("store: list downloads: %w", err)
		}
		if d.StartedAt, err = parseTime(started); err != nil {
			return nil, fmt.Errorf("store: list downloads: %w", err)
		}
		if d.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, fmt.Errorf("store: list downloads: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list downloads: %w", err)
	}
	return out, nil
}

// DeleteDownload forgets a download; one that is not there is an error
// wrapping ErrNotFound.
func (s *Store) DeleteDownload(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM downloads WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: delete download %s: %w", id, err)
	}
	return nil
}
