/* net.h — listening sockets for the HTTP servers (admin, API, Falco receiver). */
#ifndef TFDRIFT_NET_H
#define TFDRIFT_NET_H

#include <stdbool.h>

#include "tfdrift/error.h"

/* Opens a TCP socket bound to addr:port (an IPv4 or IPv6 literal; an IPv6
 * address listens on IPv6 only; port 0 picks a free one) and listens with the
 * given backlog.  SO_REUSEADDR is set so a restart does not trip over the
 * previous instance's TIME_WAIT sockets.  `what` starts every error message
 * ("admin", "api_gateway.bind").  On success *fd is owned by the caller and *v6
 * says which family it is. */
int td_net_listen(const char *what, const char *addr, int port, int backlog, int *fd, bool *v6,
    td_error *err);

/* The local port a bound socket got, or -1. */
int td_net_bound_port(int fd);

#endif
