/* falco_response.h — one falco.outputs.response (Falco's gRPC alert, proto/
 * falco/outputs.proto) decoded straight into falco_alert_fields.
 *
 * protobuf-c's generic unpack was the largest single cost of a gRPC alert (a
 * message of its own, allocated and initialised, per output_fields entry);
 * this reads the wire format directly: strings become NUL-terminated copies
 * from the caller's allocator, output_fields become the parallel key/value
 * arrays falco_alert_from_fields takes.  Unknown fields are skipped as
 * protobuf requires; a known field with the wrong wire type, or anything
 * running past the end, makes the message invalid.
 *
 * Threads: none; the caller's allocator decides. */
#ifndef TFDRIFT_FALCO_RESPONSE_H
#define TFDRIFT_FALCO_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "tfdrift/falco_alert.h"

/* Decodes buf (len bytes) into *a: every string and array is allocated from
 * alloc (an arena: nothing is freed here, not even on failure).  Absent strings
 * are "", an absent time is time_ns 0, the priority is Falco's name for it
 * ("Warning"; absent is 0, "Emergency"; "" for a value Falco does not have).  0, TD_EINVAL (not a valid response) or
 * TD_ENOMEM. */
int falco_response_decode(const uint8_t *buf, size_t len, ProtobufCAllocator *alloc,
    falco_alert_fields *a);

#endif
