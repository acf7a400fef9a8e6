/* str.h — building strings.
 *
 * Threads: no state. */
#ifndef TFDRIFT_STR_H
#define TFDRIFT_STR_H

/* printf into a new string (free); NULL when out of memory. */
char *td_str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
