/*
 * Unix stream sockets on this host (the control socket of a running VM, and its clients):
 * only the user who runs detvm (or root) may use one.
 */
#ifndef DETVM_TOOLS_LOCAL_SOCK_H
#define DETVM_TOOLS_LOCAL_SOCK_H

#include <stddef.h>
#include <sys/types.h>

/* How long a client may take to send its request line before it is dropped. */
#define LOCAL_SOCK_REQUEST_MS 3000

/* Connects to the socket at path: the fd, or -errno (-ENAMETOOLONG: the path does not
 * fit a socket address). */
int local_sock_connect(const char *path);
/* Listens at path on a socket only its owner can open (mode 0600). A socket file left by
 * a process that died is replaced; a live socket (something accepts) or a path that is not
 * a socket is refused and never unlinked. The fd, or -1 with one line in err. */
int local_sock_listen(const char *path, char *err, size_t errlen);
/* 1 when the peer on the connected fd runs as this process's user or as root, else 0;
 * its uid into *uid (-1 where the kernel does not say). */
int local_sock_peer_ok(int fd, uid_t *uid);
/* Reads one line, up to '\n' (dropped), from fd within ms milliseconds in all, so a
 * client that sends nothing or half a line cannot hold the server; a line the client
 * ends by closing its side counts. Its length, or -ETIMEDOUT, -EMSGSIZE (longer than
 * len - 1), -EIO (closed before anything came), -errno. */
ssize_t local_sock_read_line(int fd, char *line, size_t len, int ms);

#endif
