/* admin.h — each process's admin HTTP server (libmicrohttpd).
 *
 *   GET /healthz  200 {"status":"ok"} while the process runs
 *   GET /readyz   200 when every registered check passes, else 503; the body
 *                 lists each check: {"status":"ready|not_ready","checks":{"postgres":{"ok":true}, ...}};
 *                 a failing check has "reason", a passing one with something to
 *                 say (TD_READY_NOTE) has "note"
 *   GET /metrics  Prometheus text from the given registry
 *
 * Checks run on the server's thread at request time and must be quick (they
 * read state the service keeps up to date, they do not dial). */
#ifndef TFDRIFT_ADMIN_H
#define TFDRIFT_ADMIN_H

#include <stddef.h>

#include "tfdrift/error.h"
#include "tfdrift/metrics.h"

typedef struct td_admin td_admin;

/* Returns 0 when ready; TD_READY_NOTE when ready but degraded (why is shown as
 * the check's "note": the process still does its job, e.g. spools while its
 * database is down); otherwise (a TD_E* code) writes a short reason into why. */
typedef int (*td_ready_fn)(void *arg, char *why, size_t whylen);
#define TD_READY_NOTE 1

/* Starts serving on bind_addr:port (port 0 picks a free one; see td_admin_port).
 * metrics may be NULL for td_metrics_default().  *out owned by caller. */
int td_admin_start(td_admin **out, const char *bind_addr, int port, td_metrics *metrics,
    td_error *err);
/* Adds a readiness check; name is copied.  Safe before or after start. */
int td_admin_add_check(td_admin *a, const char *name, td_ready_fn fn, void *arg);
/* Says every readiness check is registered.  Until then /readyz answers 503
 * ("starting"), so the window between the server's start and the service's
 * td_admin_add_check calls never reads as ready.  NULL is ignored. */
void td_admin_checks_done(td_admin *a);
int td_admin_port(const td_admin *a);
/* Stops the server and frees it; NULL is ignored. */
void td_admin_stop(td_admin *a);

#endif
