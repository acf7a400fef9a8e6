/* config_directives.c — every configuration key of every tfdrift process.
 *
 * One row per key.  This table is the single source of truth: the loader
 * validates against it, services read through it, and
 * `tfdrift-config-doc reference|example` renders docs/configuration.md and
 * config.example.yaml from it (a test fails when those are stale). */
#include "tfdrift/config.h"

#define NOB 1, 0 /* no bounds */
#define PORT 1, 65535

const td_config_directive td_config_directives[] = {
	/* ---- shared by every process ---- */
	{ "shared", "log_level", TD_CFG_ENUM, "info", NOB, "debug|info|warn|error", 0,
	    "Minimum level of the JSON log lines written to stdout. --debug overrides it." },
	{ "shared", "data_dir", TD_CFG_STRING, "/var/lib/tfdrift", NOB, NULL, 0,
	    "Directory for local durable files (ingest journal, persistence spool). Each process uses its own subdirectory." },
	{ "shared", "shutdown_timeout", TD_CFG_DURATION, "4s", 0, 600000, NULL, 0,
	    "How long a graceful stop may wait for in-flight work before handing it back and exiting." },

	/* ---- PostgreSQL ---- */
	{ "postgres", "dsn", TD_CFG_STRING, "", NOB, NULL, TD_CFG_F_SECRET,
	    "libpq connection string or URI. Empty: libpq's PG* environment variables and defaults apply." },
	{ "postgres", "connect_timeout", TD_CFG_DURATION, "5s", 100, 600000, NULL, 0,
	    "Time allowed to open one connection." },

	/* ---- Redis ---- */
	{ "redis", "host", TD_CFG_STRING, "127.0.0.1", NOB, NULL, 0,
	    "Redis host name or address." },
	{ "redis", "port", TD_CFG_INT, "6379", PORT, NULL, 0, "Redis TCP port." },
	{ "redis", "password", TD_CFG_STRING, "", NOB, NULL, TD_CFG_F_SECRET,
	    "Redis AUTH password; empty for none." },
	{ "redis", "db", TD_CFG_INT, "0", 0, 15, NULL, 0, "Redis logical database number." },
	{ "redis", "key_prefix", TD_CFG_STRING, "tfdrift:", NOB, NULL, 0,
	    "Prefix of every key tfdrift writes, so several installations can share one Redis." },
	{ "redis", "timeout", TD_CFG_DURATION, "2s", 10, 60000, NULL, 0,
	    "Connect and command timeout." },

	/* ---- the bus, common to every socket ---- */
	{ "bus", "resend_interval", TD_CFG_DURATION, "30s", 100, 3600000, NULL, 0,
	    "A work request without a reply after this long is resent (to any replica). A request whose peer disconnects is resent at once." },
	{ "bus", "request_timeout", TD_CFG_DURATION, "0", 0, 86400000, NULL, 0,
	    "How long a sender waits for a reply before giving up on a request; 0 waits forever (resending as above)." },

	/* ---- ingest ---- */
	{ "ingest", "admin_bind", TD_CFG_STRING, "127.0.0.1", NOB, NULL, 0,
	    "Address of the admin server (/healthz, /readyz, /metrics)." },
	{ "ingest", "admin_port", TD_CFG_INT, "9101", 0, 65535, NULL, 0,
	    "Port of the admin server; 0 picks a free one." },
	{ "ingest", "work_listen", TD_CFG_STRING, "tcp://127.0.0.1:7101", NOB, NULL, 0,
	    "NNG address where ingest's REQ socket listens; correlators dial it and take events from it." },
	{ "ingest", "submit_listen", TD_CFG_STRING, "tcp://127.0.0.1:7102", NOB, NULL, 0,
	    "NNG REP address where `tfdrift-ingest replay` hands events to the running ingest." },
	{ "ingest", "in_flight", TD_CFG_INT, "32", 1, 4096, NULL, 0,
	    "Requests to correlators in flight at once." },
	{ "ingest", "batch_max", TD_CFG_INT, "100", 1, 10000, NULL, 0,
	    "Most events in one request to a correlator. Batches fill only under load." },
	{ "ingest", "replay_batch", TD_CFG_INT, "50", 1, 10000, NULL, 0,
	    "Events per message from `tfdrift-ingest replay` to the running ingest." },
	{ "ingest", "replay_in_flight", TD_CFG_INT, "4", 1, 64, NULL, 0,
	    "Messages `tfdrift-ingest replay` has in flight to the running ingest at once." },
	{ "ingest", "replay_timeout", TD_CFG_DURATION, "60s", 0, 86400000, NULL, 0,
	    "How long `tfdrift-ingest replay` waits for one message to be acknowledged (its alerts stored) before counting it failed; 0 waits forever." },

	/* ---- state-loader ---- */
	{ "state_loader", "admin_bind", TD_CFG_STRING, "127.0.0.1", NOB, NULL, 0,
	    "Address of the admin server." },
	{ "state_loader", "admin_port", TD_CFG_INT, "9102", 0, 65535, NULL, 0,
	    "Port of the admin server; 0 picks a free one." },
	{ "state_loader", "state_pub_listen", TD_CFG_STRING, "tcp://127.0.0.1:7301", NOB, NULL, 0,
	    "NNG PUB address where `state changed` notices are published." },
	{ "state_loader", "local_files", TD_CFG_STRLIST, "", NOB, NULL, 0,
	    "Local Terraform state files, each `NAME=PATH` (NAME is the workspace shown in alerts, e.g. prod/network) or a bare PATH (the name is the file name)." },
	{ "state_loader", "poll_interval", TD_CFG_DURATION, "30s", 1000, 86400000, NULL, 0,
	    "How often every source is checked for a new state." },
	{ "state_loader", "max_state_size", TD_CFG_SIZE, "1GiB", 1024, 17179869184.0, NULL, 0,
	    "Largest state file accepted; a bigger one is refused with an error and the workspace keeps its previous contents." },
	{ "state_loader", "generation_grace", TD_CFG_DURATION, "60s", 0, 3600000, NULL, 0,
	    "How long the keys of a replaced index generation stay in Redis after the switch, so readers that just read the old generation can finish; 0 deletes them at once." },

	/* ---- correlator ---- */
	{ "correlator", "admin_bind", TD_CFG_STRING, "127.0.0.1", NOB, NULL, 0,
	    "Address of the admin server." },
	{ "correlator", "admin_port", TD_CFG_INT, "9103", 0, 65535, NULL, 0,
	    "Port of the admin server; 0 picks a free one." },
	{ "correlator", "ingest_url", TD_CFG_STRING, "tcp://127.0.0.1:7101", NOB, NULL, 0,
	    "NNG address of ingest's work socket, dialed by this replica." },
	{ "correlator", "persistence_url", TD_CFG_STRING, "tcp://127.0.0.1:7201", NOB, NULL, 0,
	    "NNG address of persistence's work socket, dialed by this replica." },
	{ "correlator", "state_url", TD_CFG_STRING, "tcp://127.0.0.1:7301", NOB, NULL, 0,
	    "NNG address of state-loader's PUB socket." },
	{ "correlator", "workers", TD_CFG_INT, "8", 1, 1024, NULL, 0,
	    "Requests this replica works on at once." },

	/* ---- persistence ---- */
	{ "persistence", "admin_bind", TD_CFG_STRING, "127.0.0.1", NOB, NULL, 0,
	    "Address of the admin server." },
	{ "persistence", "admin_port", TD_CFG_INT, "9104", 0, 65535, NULL, 0,
	    "Port of the admin server; 0 picks a free one." },
	{ "persistence", "work_listen", TD_CFG_STRING, "tcp://127.0.0.1:7201", NOB, NULL, 0,
	    "NNG REP address where correlators deliver alerts." },
	{ "persistence", "alerts_pub_listen", TD_CFG_STRING, "tcp://127.0.0.1:7202", NOB, NULL, 0,
	    "NNG PUB address where each alert is published after it is committed." },
	{ "persistence", "workers", TD_CFG_INT, "4", 1, 256, NULL, 0,
	    "Requests written at once, each on its own PostgreSQL connection." },

	/* ---- api-gateway ---- */
	{ "api_gateway", "admin_bind", TD_CFG_STRING, "127.0.0.1", NOB, NULL, 0,
	    "Address of the admin server." },
	{ "api_gateway", "admin_port", TD_CFG_INT, "9105", 0, 65535, NULL, 0,
	    "Port of the admin server; 0 picks a free one." },
	{ "api_gateway", "bind", TD_CFG_STRING, "127.0.0.1", NOB, NULL, 0,
	    "Address of the REST API, WebSocket feed and web UI." },
	{ "api_gateway", "port", TD_CFG_INT, "8080", 0, 65535, NULL, 0,
	    "Port of the REST API; 0 picks a free one." },
	{ "api_gateway", "alerts_url", TD_CFG_STRING, "tcp://127.0.0.1:7202", NOB, NULL, 0,
	    "NNG address of persistence's PUB socket (committed alerts)." },
	{ "api_gateway", "state_url", TD_CFG_STRING, "tcp://127.0.0.1:7301", NOB, NULL, 0,
	    "NNG address of state-loader's PUB socket." },
	{ "api_gateway", "db_connections", TD_CFG_INT, "4", 1, 128, NULL, 0,
	    "PostgreSQL connections kept for API reads." },
	{ "api_gateway", "threads", TD_CFG_INT, "4", 1, 256, NULL, 0, "HTTP worker threads." },
	{ "api_gateway", "statement_timeout", TD_CFG_DURATION, "10s", 100, 600000, NULL, 0,
	    "Longest a REST API query may run in PostgreSQL before it is cancelled (the client gets a 500)." },

	/* ---- notifier ---- */
	{ "notifier", "admin_bind", TD_CFG_STRING, "127.0.0.1", NOB, NULL, 0,
	    "Address of the admin server." },
	{ "notifier", "admin_port", TD_CFG_INT, "9106", 0, 65535, NULL, 0,
	    "Port of the admin server; 0 picks a free one." },
	{ "notifier", "alerts_url", TD_CFG_STRING, "tcp://127.0.0.1:7202", NOB, NULL, 0,
	    "NNG address of persistence's PUB socket (committed alerts)." },
	{ "notifier", "min_severity", TD_CFG_ENUM, "medium", NOB, "info|low|medium|high|critical",
	    0, "Alerts below this severity are not sent." },

	{ NULL, NULL, 0, NULL, 0, 0, NULL, 0, NULL },
};
