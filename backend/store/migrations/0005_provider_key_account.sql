-- 0005: where each provider's key lives in the secret store, and the secret
-- store accounts waiting to be deleted.
--
-- A provider's key is stored under a fresh account ("name#hex") each time it
-- changes, and key_account names the one the row uses ('' when none). Until
-- now keys lived under the provider's name, so keyed rows keep that.
--
-- secret_gc is an intent log: an account is entered here before its secret is
-- written (a new key) or once no row uses it any more (a replaced or removed
-- key, a deleted provider), and leaves only after its secret is deleted or a
-- row has taken it up. Whatever a crash interrupts, the entries no row refers
-- to are exactly the secrets to delete at the next start. claimed is 1 once a
-- cleanup has begun deleting the account, so no row may take it up any more.

ALTER TABLE providers ADD COLUMN key_account TEXT NOT NULL DEFAULT '';

UPDATE providers SET key_account = name WHERE has_stored_key = 1;

CREATE TABLE secret_gc (
    account    TEXT    NOT NULL PRIMARY KEY CHECK (account <> ''),
    created_at TEXT    NOT NULL,
    claimed    INTEGER NOT NULL DEFAULT 0 CHECK (claimed IN (0, 1))
) STRICT;
