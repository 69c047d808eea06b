-- 0006: a route may be hidden from the model list (GET /v1/models): it
-- still routes, but neither its exact name nor the provider models its
-- wildcard takes are listed. Existing routes stay listed.

ALTER TABLE routes ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1));
