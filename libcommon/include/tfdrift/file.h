/* file.h — reading a whole small file (a PEM certificate, a token, a rules or
 * configuration file) into memory: the one reader every program uses.
 *
 * Reads until end of file rather than trusting st_size, so a file that grows
 * while being read is read whole.  Large inputs with their own readers: a
 * Terraform state (tfstate.c, into an anonymous mapping it can give back page
 * by page) and a CloudTrail file (cloudtrail_file.c, decompressing gzip).
 *
 * Threads: no state. */
#ifndef TFDRIFT_FILE_H
#define TFDRIFT_FILE_H

#include <stddef.h>

#include "tfdrift/error.h"

/* Reads the file at path into *out: malloc'd, NUL-terminated, owned by the
 * caller (free); its length (without the NUL) in *len when len is not NULL.
 * max_bytes 0 means no limit; a longer file is TD_ETOOBIG ("PATH: larger than
 * N bytes"); anything that stops the read is TD_EIO ("PATH: cannot open: No
 * such file or directory"). */
int td_file_read(const char *path, size_t max_bytes, char **out, size_t *len, td_error *err);

#endif
