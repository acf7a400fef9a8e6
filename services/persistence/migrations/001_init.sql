-- 001_init.sql — the drift history.
--
-- One row per alert, unique on alert_key (hex SHA-256 of eventID, workspace,
-- address, attribute) so a resent or repeated event is stored once.
-- Enumerations are text with CHECK constraints rather than PostgreSQL enums:
-- they read plainly in SQL and Grafana, and adding a value is a one-line
-- migration instead of ALTER TYPE.

CREATE TABLE alerts (
    id                 bigserial PRIMARY KEY,
    alert_key          text NOT NULL UNIQUE,
    event_id           text NOT NULL DEFAULT '',
    event_time         timestamptz,
    detected_at        timestamptz NOT NULL DEFAULT now(),
    committed_at       timestamptz NOT NULL DEFAULT now(),
    workspace          text NOT NULL DEFAULT '',
    resource_address   text NOT NULL DEFAULT '',
    resource_type      text NOT NULL DEFAULT '',
    identifiers        jsonb NOT NULL DEFAULT '{}'::jsonb,
    kind               text NOT NULL
        CHECK (kind IN ('drift', 'unmanaged', 'deleted', 'modified')),
    attribute          text NOT NULL DEFAULT '',
    -- [{"path": "...", "old": <json>, "new": <json>, "sensitive": bool}, ...]
    changes            jsonb NOT NULL DEFAULT '[]'::jsonb,
    severity           text NOT NULL
        CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    -- Derived, so it can never disagree with severity; lets "at least high"
    -- and "order by severity" use an index.
    severity_rank      smallint NOT NULL GENERATED ALWAYS AS (
        CASE severity
            WHEN 'info' THEN 1
            WHEN 'low' THEN 2
            WHEN 'medium' THEN 3
            WHEN 'high' THEN 4
            WHEN 'critical' THEN 5
        END) STORED,
    principal_type     text NOT NULL DEFAULT '',
    principal_arn      text NOT NULL DEFAULT '',
    principal_name     text NOT NULL DEFAULT '',
    principal_account  text NOT NULL DEFAULT '',
    principal_role_arn text NOT NULL DEFAULT '',
    principal_session  text NOT NULL DEFAULT '',
    source_ip          text NOT NULL DEFAULT '',
    user_agent         text NOT NULL DEFAULT '',
    region             text NOT NULL DEFAULT '',
    account_id         text NOT NULL DEFAULT '',
    event_name         text NOT NULL DEFAULT '',
    event_source       text NOT NULL DEFAULT '',
    service            text NOT NULL DEFAULT '',
    falco_rule         text NOT NULL DEFAULT '',
    falco_priority     text NOT NULL DEFAULT '',
    recommended_fix    text NOT NULL DEFAULT '',
    summary            text NOT NULL DEFAULT '',
    raw_event          jsonb,
    status             text NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'acknowledged', 'resolved', 'ignored')),
    status_changed_at  timestamptz,
    status_changed_by  text
);

-- The UI's filters and Grafana's time ranges.
CREATE INDEX alerts_event_time_idx ON alerts (event_time DESC);
CREATE INDEX alerts_detected_at_idx ON alerts (detected_at);
CREATE INDEX alerts_severity_idx ON alerts (severity_rank, detected_at);
CREATE INDEX alerts_resource_idx ON alerts (workspace, resource_address);
CREATE INDEX alerts_resource_type_idx ON alerts (resource_type);
CREATE INDEX alerts_service_idx ON alerts (service);
CREATE INDEX alerts_principal_name_idx ON alerts (principal_name);
CREATE INDEX alerts_status_idx ON alerts (status);
CREATE INDEX alerts_kind_idx ON alerts (kind);
CREATE INDEX alerts_event_name_idx ON alerts (event_name);
CREATE INDEX alerts_event_id_idx ON alerts (event_id);

-- Who moved an alert from one status to another, and why.
CREATE TABLE alert_status_history (
    id          bigserial PRIMARY KEY,
    alert_id    bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    from_status text,
    to_status   text NOT NULL
        CHECK (to_status IN ('open', 'acknowledged', 'resolved', 'ignored')),
    actor       text NOT NULL DEFAULT '',
    note        text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX alert_status_history_alert_idx ON alert_status_history (alert_id, at);
