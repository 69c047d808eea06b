-- 0003: the request log behind /api/requests. Metadata only: never prompts,
-- completions or keys. Rows are pruned by age (the retention setting) and by
-- count, so the table stays bounded.
--
-- AUTOINCREMENT: ids keep growing even after pruning empties the table, so
-- a poller that passes the newest id it has seen (?after=) never misses a
-- row. fallback_from is a JSON array of backend names. ttfb_ms is -1 when
-- the answer never started.

CREATE TABLE requests (
    id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    time          TEXT    NOT NULL,
    method        TEXT    NOT NULL,
    path          TEXT    NOT NULL,
    protocol      TEXT    NOT NULL DEFAULT '',
    model         TEXT    NOT NULL DEFAULT '',
    route         TEXT    NOT NULL DEFAULT '',
    backend       TEXT    NOT NULL DEFAULT '',
    fallback_from TEXT    NOT NULL DEFAULT '[]'
                  CHECK (json_valid(fallback_from) AND json_type(fallback_from) = 'array'),
    status        INTEGER NOT NULL,
    stream        INTEGER NOT NULL DEFAULT 0 CHECK (stream IN (0, 1)),
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    ttfb_ms       INTEGER NOT NULL DEFAULT -1,
    duration_ms   INTEGER NOT NULL DEFAULT 0,
    error         TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX requests_time ON requests (time);
