/* filewatch.h — knowing at once that a local state file changed (inotify).
 *
 * Editors and Terraform replace a file by rename, so the file's directory is
 * watched, not the file: an event names the directory's watch and the file
 * name within it.  When inotify is unavailable (or a watch cannot be added)
 * the caller polls.
 *
 * Threads: one caller per descriptor. */
#ifndef TFDRIFT_STATE_LOADER_FILEWATCH_H
#define TFDRIFT_STATE_LOADER_FILEWATCH_H

#include <stddef.h>

/* A non-blocking inotify descriptor (close it), or -1 when unavailable. */
int filewatch_open(void);

/* Watches the directory of path (changes of every kind that replace, write,
 * remove or re-permission a file).  *base points at path's file name (in
 * path); the directory is written to dir (dirlen bytes) for messages.
 * Returns the watch, or -1 with errno set. */
int filewatch_add(int fd, const char *path, const char **base, char *dir, size_t dirlen);

/* Reads every pending event and calls fn with its watch and the file name,
 * or with name NULL when the kernel's queue overflowed (events were lost:
 * anything watched may have changed). */
void filewatch_drain(int fd, void (*fn)(void *arg, int wd, const char *name), void *arg);

#endif
