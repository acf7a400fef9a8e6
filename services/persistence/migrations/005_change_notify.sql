-- 005_change_notify.sql — every change to alerts is announced to listeners.
--
-- Each api-gateway keeps answers of GET /drifts and /stats in a response
-- cache.  It hears of commits through persistence's alerts PUB, but with
-- several gateways and several persistences a gateway may miss a message
-- (a PATCH made on another gateway, a commit whose PUB it was not
-- subscribed to at that moment, a DELETE by retention, a row written by
-- hand).  This trigger sends NOTIFY tfdrift_changes inside the transaction
-- that changed the table, so PostgreSQL delivers it exactly when the change
-- is committed (and never for one rolled back); each gateway LISTENs and
-- empties its cache.  One notification per statement, and PostgreSQL folds
-- identical notifications of one transaction into one.  Payload: the table
-- and the operation ("alerts insert"); listeners need nothing more.
CREATE FUNCTION tfdrift_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('tfdrift_changes', TG_TABLE_NAME || ' ' || lower(TG_OP));
	RETURN NULL;
END
$$;

CREATE TRIGGER alerts_notify_change
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alerts
	FOR EACH STATEMENT EXECUTE FUNCTION tfdrift_notify_change();
