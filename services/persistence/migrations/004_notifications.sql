-- 004_notifications.sql — the notifier's delivery log, cursors, Slack threads
-- and silences.
--
-- notifications: one row per (alert, receiver, event): event 'alert' is the
-- drift itself, 'status' a status change (alert_status_history.id in
-- status_event_id) sent to receivers that edit or resolve what they sent,
-- 'repeat' the Nth reminder (N in status_event_id) that the alert is still
-- open, repeat_ms after the last message (the route's repeat_interval).
-- Rows of one group (receiver + group_key, group_key '' = not grouped) that
-- are due together are sent as one message; they share message_id.
-- state: pending (next_attempt_at says when), sending (claimed by a notifier
-- until lease_until; a crashed notifier's rows are claimed again after it),
-- sent, failed (permanent error or attempts used up), silenced (a silence
-- matched when it was planned), skipped (nothing to send, e.g. a status
-- change of an alert whose first message was never sent).
CREATE TABLE notifications (
    id              bigserial PRIMARY KEY,
    alert_id        bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    receiver        text NOT NULL,
    event           text NOT NULL DEFAULT 'alert' CHECK (event IN ('alert', 'status', 'repeat')),
    status_event_id bigint NOT NULL DEFAULT 0,
    group_key       text NOT NULL DEFAULT '',
    state           text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'silenced', 'skipped')),
    attempts        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    claimed_by      text NOT NULL DEFAULT '',
    sent_at         timestamptz,
    last_error      text NOT NULL DEFAULT '',
    -- what the receiver calls the message: Slack "channel/ts", the
    -- PagerDuty dedup_key, the webhook-id
    message_id      text NOT NULL DEFAULT '',
    silence_id      bigint,
    repeat_ms       bigint NOT NULL DEFAULT 0,
    UNIQUE (alert_id, receiver, event, status_event_id)
);

-- the claim: due rows in time order
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at)
    WHERE state IN ('pending', 'sending');
-- joining a group that is already waiting, group_interval after the last send
CREATE INDEX notifications_group_idx ON notifications (receiver, group_key, state)
    WHERE group_key <> '';

-- reminders: sent rows of routes with a repeat_interval
CREATE INDEX notifications_repeat_idx ON notifications (sent_at)
    WHERE repeat_ms > 0 AND state = 'sent' AND event IN ('alert', 'repeat');

-- Where each notifier scan has got to: alerts.id and alert_status_history.id
-- below which every committed row has been planned.
CREATE TABLE notifier_cursors (
    name       text PRIMARY KEY,
    last_id    bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Slack Web API threads: one per (receiver, resource); ts is NULL while the
-- notifier that took the row posts the first message.
CREATE TABLE notifier_threads (
    receiver   text NOT NULL,
    thread_key text NOT NULL,
    message_id text,
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (receiver, thread_key)
);

-- Silences: alerts matching every key of matchers (the routing file's match
-- keys) between starts_at and ends_at are recorded as silenced, not sent.
CREATE TABLE silences (
    id         bigserial PRIMARY KEY,
    matchers   jsonb NOT NULL,
    starts_at  timestamptz NOT NULL DEFAULT now(),
    ends_at    timestamptz NOT NULL,
    created_by text NOT NULL DEFAULT '',
    comment    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);

CREATE INDEX silences_ends_at_idx ON silences (ends_at);
