-- 003_gateway_indexes.sql — an index for the API's most common list filter.
--
-- GET /api/v1/drifts pages newest first (ORDER BY id DESC, keyset on id).
-- With workspace=... (the UI's workspace picker, often with severities) the
-- primary key walk reads every workspace's rows and throws most away; this
-- index walks one workspace's rows in id order and stops after a page.  The
-- gateway's sessions use random_page_cost 1.1 (the recent rows it reads are
-- cached), so the planner prefers it over the sequential primary key.
CREATE INDEX alerts_workspace_id_idx ON alerts (workspace, id);
