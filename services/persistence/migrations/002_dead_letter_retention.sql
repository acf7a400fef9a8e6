-- 002_dead_letter_retention.sql — quarantine, status history rules, and the
-- indexes retention and Grafana's time ranges use.

-- An alert PostgreSQL refused (or that failed validation), kept with the
-- reason instead of being dropped or blocking the rest of its batch.  The text
-- columns are cleaned to valid UTF-8; `alert` is the DriftAlert protobuf
-- exactly as received, so it can be inspected, fixed and resent.
CREATE TABLE alerts_dead_letter (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    alert_key   text NOT NULL DEFAULT '',
    event_id    text NOT NULL DEFAULT '',
    trace_id    text NOT NULL DEFAULT '',
    message_id  text NOT NULL DEFAULT '',
    reason      text NOT NULL,
    sqlstate    text NOT NULL DEFAULT '',
    alert       bytea NOT NULL
);

CREATE INDEX alerts_dead_letter_received_at_idx ON alerts_dead_letter (received_at);
CREATE INDEX alerts_dead_letter_alert_key_idx ON alerts_dead_letter (alert_key);

-- Status history: from_status uses the same vocabulary as to_status, and
-- Grafana's open/resolved and time-to-resolve panels select by time.
ALTER TABLE alert_status_history
    ADD CONSTRAINT alert_status_history_from_status_check
    CHECK (from_status IS NULL
           OR from_status IN ('open', 'acknowledged', 'resolved', 'ignored'));
CREATE INDEX alert_status_history_at_idx ON alert_status_history (at, to_status);

-- Time-range queries by kind (unmanaged over time) and by commit time; the
-- retention purge walks alerts by detected_at (alerts_detected_at_idx, 001).
CREATE INDEX alerts_kind_detected_at_idx ON alerts (kind, detected_at);
CREATE INDEX alerts_committed_at_idx ON alerts (committed_at);
