-- 0015: a route's target may be a group of backends. targets is the group
-- as a JSON array of {"backend", "model", "weight"}, in route order; its
-- first member is always backend and backend_model, which stay for the
-- queries and clients that read them. policy picks the member a request
-- goes to first ("first", "weighted", "least-busy"; checked by the
-- application, so a new policy needs no table rebuild). max_context is the
-- context window of the route's provider members whose model list gives
-- none; NULL is unknown. Every existing route becomes the group of its
-- backend, with the policy it always had.

ALTER TABLE routes ADD COLUMN targets TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(targets));
ALTER TABLE routes ADD COLUMN policy TEXT NOT NULL DEFAULT 'first';
ALTER TABLE routes ADD COLUMN max_context INTEGER CHECK (max_context IS NULL OR max_context > 0);
UPDATE routes SET targets = json_array(json_object('backend', backend, 'model', backend_model, 'weight', 1));
