/* replay.h — `tfdrift-ingest [options] replay [--print] PATH...`
 *
 * Reads CloudTrail log files (see cloudtrail_file.h; a directory is walked for
 * *.json and *.json.gz), normalises every record (cloudtrail_record.h) and
 *   - with --print: writes each CloudEvent as one JSON line to stdout, and each
 *     rejected record as {"rejected":true,"file":...,"record":N,"reason":...};
 *     nothing is sent and no service needs to run;
 *   - otherwise: sends ingest.replay_batch events per CloudEventBatch to the
 *     running ingest's ingest.submit_listen (dialed), ingest.replay_in_flight
 *     messages at once, each waiting up to ingest.replay_timeout (0: forever)
 *     for the Ack, which ingest sends only after a correlator processed the
 *     events and persistence acknowledged their alerts: committed to
 *     PostgreSQL, or (database down) fsynced into persistence's spool, which
 *     it stores later.  Exit 0 therefore means "durable", not "in PostgreSQL
 *     now".
 * Log lines go to stderr (stdout is the product under --print); a one-line
 * summary ends the run on stderr.
 *
 * Exit status: 0 everything read was delivered (or printed); 1 a record was
 * rejected, a file was not CloudTrail JSON, a delivery failed or the run was
 * interrupted; 2 usage error or a path that cannot be read. */
#ifndef TFDRIFT_INGEST_REPLAY_H
#define TFDRIFT_INGEST_REPLAY_H

#include "tfdrift/lifecycle.h"

/* The subcommand's text for --help. */
extern const char replay_usage[];

/* Runs the subcommand; argv[0] is "replay".  Returns the exit status. */
int replay_run(td_app *app, int argc, char **argv);

#endif
