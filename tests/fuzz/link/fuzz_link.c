/*
 * The FT link as a backup meets a stranger: the input is everything a connecting peer
 * sends -- its hello, proof and frames -- on a stream socket the accepting side reads.
 * The first byte picks the terms: odd keyed (the proof then decides), even not (the
 * frames reach the tcp wire's parser). Must never crash, hang or leak; what is refused
 * is refused in one line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/transport_priv.h"

static const uint8_t key[TRANSPORT_KEY_BYTES] = "the fuzzer's key, 32 bytes long";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 0;
	/* all of it waits in the socket (max_len keeps it under the buffer), then the end */
	if (size > 1 && write(sv[1], data + 1, size - 1) != (ssize_t)(size - 1)) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	const struct transport_terms keyed = { key, 10, 100 }, plain = { NULL, 0, 0 };
	struct transport *t = NULL;
	char err[256];
	int r = transport_accept_stream(&t, sv[0], "fuzz", "tcp", data[0] & 1 ? &keyed : &plain, 50, err,
					sizeof(err));
	if (r && strchr(err, '\n'))
		__builtin_trap();	/* one line, always */
	if (!r) {
		static uint8_t buf[1 << 16];
		while (transport_recv(t, buf, sizeof(buf), 0) >= 0)
			;
		transport_destroy(t);
	}
	close(sv[1]);
	return 0;
}
