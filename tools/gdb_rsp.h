/* The gdb remote serial protocol's transport: one TCP client, $packet#checksum framing,
 * acknowledgements (until QStartNoAckMode), and the 0x03 byte gdb sends for Ctrl-C. */
#ifndef DETVM_TOOLS_GDB_RSP_H
#define DETVM_TOOLS_GDB_RSP_H

#include <stddef.h>

#define RSP_MAX_PACKET 16384

struct rsp {
	int lfd;		/* listening socket */
	int fd;			/* the client, -1 none */
	int noack;
	int interrupt;		/* a 0x03 came in while the target ran */
	char buf[RSP_MAX_PACKET];
	size_t len, pos;	/* bytes received, not yet parsed */
	volatile int *stop;	/* set by a signal (SIGINT, SIGTERM): give up waiting */
	int exposed;		/* listening on an address other hosts can reach */
};

/* Listens on HOST:PORT (port 0: any free one; *port gets the one taken); with no HOST,
 * on 127.0.0.1 only: whoever attaches reads and changes the guest unasked. 0, or -1 with
 * err holding one line. */
int rsp_listen(struct rsp *c, const char *hostport, unsigned *port, char *err, size_t errlen);
/* Takes a client: blocks when wait (until *stop), else only if one is already knocking.
 * 1 taken, 0 none. */
int rsp_accept(struct rsp *c, int wait);
/* The next packet's payload into out (NUL-terminated): its length, or -1 once the client
 * is gone. */
int rsp_get(struct rsp *c, char *out, size_t cap);
/* Sends a packet (payload as is); 0, or -1 once the client is gone. */
int rsp_put(struct rsp *c, const char *payload);
/* While the target runs: whether gdb asked to stop it (reads what is waiting, no block). */
int rsp_poll_interrupt(struct rsp *c);
void rsp_close(struct rsp *c);

#endif
