-- 0010: the chat playground's saved conversations (conversation content:
-- kept here only, never logged). models is a JSON array of the model
-- names the chat used; messages is the UI's JSON array of messages, with
-- message_count beside it so the list needs not read them.

CREATE TABLE conversations (
    id            TEXT PRIMARY KEY,
    title         TEXT NOT NULL DEFAULT '',
    models        TEXT NOT NULL DEFAULT '[]',
    message_count INTEGER NOT NULL DEFAULT 0,
    messages      TEXT NOT NULL DEFAULT '[]',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE INDEX conversations_updated_at ON conversations (updated_at);
