/* net.c — see net.h. */
#include "tfdrift/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* *fd owned by the caller on success. */
int
td_net_listen(const char *what, const char *addr, int port, int backlog, int *fd, bool *v6,
    td_error *err)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t sslen;
	int s = -1, one = 1, rv;

	memset(&ss, 0, sizeof(ss));
	if (addr == NULL)
		return td_error_set(err, TD_EINVAL, "%s: no bind address given", what);
	if (port < 0 || port > 65535)
		return td_error_set(err, TD_ERANGE, "%s: port %d is outside 0..65535", what, port);
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sslen = sizeof(*sin);
		*v6 = false;
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sslen = sizeof(*sin6);
		*v6 = true;
	} else {
		return td_error_set(err, TD_EINVAL,
		    "%s: bind address '%s' is not an IPv4 or IPv6 address", what, addr);
	}

	s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		rv = td_error_set(err, TD_EIO, "%s: socket: %s", what, strerror(errno));
		goto out;
	}
	/* Restarts must not fail on the previous instance's TIME_WAIT sockets. */
	(void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "::" means IPv6 only, as written; dual-stack would surprise. */
	if (*v6)
		(void)setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&ss, sslen) != 0) {
		rv = td_error_set(err, TD_EIO, "%s: cannot bind %s%s%s:%d: %s", what,
		    *v6 ? "[" : "", addr, *v6 ? "]" : "", port, strerror(errno));
		goto out;
	}
	if (listen(s, backlog) != 0) {
		rv = td_error_set(err, TD_EIO, "%s: listen on %s port %d: %s", what, addr, port,
		    strerror(errno));
		goto out;
	}
	*fd = s;
	s = -1;
	rv = 0;
out:
	if (s >= 0)
		close(s);
	return rv;
}

int
td_net_bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}
