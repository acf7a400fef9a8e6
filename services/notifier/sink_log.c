/* sink_log.c — the log sink: one INFO line per alert. */
#include <stddef.h>

#include "severity.h"
#include "sink.h"
#include "tfdrift/log.h"

static const struct {
	int kind;
	const char *name;
} kind_names[] = {
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DRIFT, "drift" },
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED, "unmanaged" },
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED, "deleted" },
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED, "modified" },
};

static const char *
kind_name(int kind)
{
	size_t i;

	for (i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		if (kind_names[i].kind == kind) {
			return kind_names[i].name;
		}
	}
	return "unspecified";
}

/* The person to name: the resolved human, else the ARN. */
static const char *
principal_of(const Tfdrift__V1__DriftAlert *a)
{
	if (a->principal == NULL) {
		return "";
	}
	if (a->principal->name != NULL && a->principal->name[0] != '\0') {
		return a->principal->name;
	}
	return a->principal->arn != NULL ? a->principal->arn : "";
}

static int
log_open(void **self, const td_config *cfg, td_error *err)
{
	(void)cfg;
	(void)err;
	*self = NULL;
	return 0;
}

static int
log_deliver(void *self, const Tfdrift__V1__DriftAlert *a)
{
	(void)self;
	TD_INFO("drift alert", TD_KV_INT("id", a->id), TD_KV_STR("severity", sev_name(a->severity)),
	    TD_KV_STR("kind", kind_name(a->kind)), TD_KV_STR("workspace", a->workspace),
	    TD_KV_STR("address", a->resource_address), TD_KV_STR("event", a->event_name),
	    TD_KV_STR("principal", principal_of(a)), TD_KV_STR("summary", a->summary));
	return 0;
}

static void
log_close(void *self)
{
	(void)self;
}

const sink_ops sink_log_ops = {
	.name = "log",
	.open = log_open,
	.deliver = log_deliver,
	.close = log_close,
};
