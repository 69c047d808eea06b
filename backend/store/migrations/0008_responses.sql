-- 0008: responses modelbar answered itself on /v1/responses (translated or
-- local) with store not false: conversation content, kept for GET
-- /v1/responses/{id}, its input_items and previous_response_id until
-- deleted or older than responses_retention_days. input is the request's
-- own input items (JSON array, ids assigned); response is the response
-- object as the client received it.

CREATE TABLE responses (
    id          TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    previous_id TEXT NOT NULL DEFAULT '',
    model       TEXT NOT NULL,
    input       TEXT NOT NULL,
    response    TEXT NOT NULL
);

CREATE INDEX responses_created_at ON responses (created_at);
