-- 0004: inference API keys, which clients present on /v1 when the
-- require_api_keys setting is on.
--
-- Only a key's SHA-256 (hex) is kept, never the key: keys are 256 bits from
-- crypto/rand, so a fast unsalted hash cannot be brute-forced and a slow
-- password hash would only cost every request time. hint is the key's last
-- four characters, for telling keys apart. last_used_at is NULL until the
-- key is first used, and is written at most about once a minute per key.
--
-- AUTOINCREMENT: a revoked key's id is never handed out again.

CREATE TABLE api_keys (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL CHECK (name <> ''),
    hash         TEXT    NOT NULL UNIQUE CHECK (length(hash) = 64),
    hint         TEXT    NOT NULL DEFAULT '',
    created_at   TEXT    NOT NULL,
    last_used_at TEXT
) STRICT;
