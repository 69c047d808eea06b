-- 0012: downloads of models from the Hugging Face Hub, so a download
-- survives a restart of modelbar and continues where it stopped (the
-- partial files themselves live in the Hugging Face cache, never here).
--
-- state is the download manager's: queued, downloading, verifying, done,
-- failed or cancelled. error is modelbar's own plain words. Times are
-- RFC 3339 UTC like every other table's. No token or secret is ever stored.

CREATE TABLE downloads (
    id          TEXT PRIMARY KEY,
    repo        TEXT NOT NULL,
    revision    TEXT NOT NULL,
    commit_sha  TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL CHECK (state IN ('queued', 'downloading', 'verifying', 'done', 'failed', 'cancelled')),
    done_bytes  INTEGER NOT NULL DEFAULT 0,
    total_bytes INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    model_id    TEXT NOT NULL DEFAULT '',
    started_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE INDEX downloads_started ON downloads (started_at);
