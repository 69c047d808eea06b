-- 0001: providers, routes and settings.
--
-- Times are UTC text in a fixed-width RFC 3339 layout with nanoseconds, so
-- they sort as text and read back exactly. Booleans are 0/1 integers.

CREATE TABLE providers (
    name           TEXT    NOT NULL PRIMARY KEY CHECK (name <> ''),
    type           TEXT    NOT NULL,
    base_url       TEXT    NOT NULL DEFAULT '',
    api_key_env    TEXT    NOT NULL DEFAULT '',
    has_stored_key INTEGER NOT NULL DEFAULT 0 CHECK (has_stored_key IN (0, 1)),
    key_hint       TEXT    NOT NULL DEFAULT '',
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
) STRICT;

-- AUTOINCREMENT: a deleted route's id is never handed out again, so an id a
-- client still holds cannot silently name a different route.
CREATE TABLE routes (
    id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    model_pattern TEXT    NOT NULL,
    backend       TEXT    NOT NULL,
    backend_model TEXT    NOT NULL DEFAULT '',
    fallbacks     TEXT    NOT NULL DEFAULT '[]'
                  CHECK (json_valid(fallbacks) AND json_type(fallbacks) = 'array'),
    priority      INTEGER NOT NULL DEFAULT 0,
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
) STRICT;

CREATE INDEX routes_backend ON routes (backend);

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
