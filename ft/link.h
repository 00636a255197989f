/*
 * The FT log link: the primary's trace, piece by piece (the file header, each block, the
 * footer: trace_writer_opts.sink), to the backup, which writes each piece into its own
 * copy of the trace and says how many it holds (ACK). Heartbeats go both ways while
 * nothing else does; a peer is dead after `dead_ms` without a word from it, or at once
 * when the transport says so (its process died, the wire failed).
 *
 * Each side runs one thread that owns the transport (net/transport.h), so the vCPU thread
 * never waits for the network: the primary's vCPU thread only queues pieces, the backup's
 * replay only reads its trace file (trace_reader_open_follow, more() = ft_backup_more).
 *
 * Messages: one byte of type, then the payload.
 *   PIECE  the bytes of one trace piece            primary -> backup
 *   ACK    u64: pieces the backup holds            backup -> primary
 *   BEAT   nothing (I am alive)                    both ways
 *   BYE    nothing: the trace is complete          primary -> backup
 *   MARK   u64: console bytes the primary has released, up to a line end: the
 *          backup does not show them again (duplicates only in the re-issued window)
 *                                                  primary -> backup
 *   STATE  a part of a running VM's state (ft/protect.h), before the trace of a
 *          re-protected VM: the backup hands it to on_state and, from the first one
 *          on, acknowledges pieces only once ft_backup_open_acks() says it holds a
 *          private copy of the disks (outputs wait for that)   primary -> backup
 */
#ifndef DETVM_FT_LINK_H
#define DETVM_FT_LINK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "net/transport.h"

#define FT_BEAT_MS_DEFAULT 10
#define FT_DEAD_MS_DEFAULT 100

enum ft_peer_state { FT_PEER_UP, FT_PEER_DONE, FT_PEER_DEAD };

struct ft_piece;

struct ft_link {
	struct transport *t;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* pieces queued or held, the peer's state changed */
	int beat_ms, dead_ms;
	enum ft_peer_state peer;	/* what became of the other side */
	char why[300];			/* how it ended, one line */
	int stop;			/* ask the thread to leave */
	int fault;			/* the peer broke the protocol (garbage), not just died */
	uint64_t heard_ms;		/* CLOCK_MONOTONIC ms of its last word (atomic) */
	uint64_t mark;			/* console bytes released (MARK; atomic) */
	uint64_t mark_said;		/* primary: the last MARK sent */
	/* primary */
	struct ft_piece *head, *tail;	/* queued, not yet sent */
	uint64_t queued, sent, acked;	/* pieces */
	size_t queued_bytes;
	int closing;			/* BYE after the queue drains */
	/* backup */
	int fd;				/* the local trace */
	uint64_t held;			/* pieces written to it */
	uint64_t acks_said;		/* the last ACK sent */
	int acks_gated;			/* a state came first: ACKs wait for ft_backup_open_acks */
	int (*on_state)(void *ctx, const uint8_t *data, size_t len);	/* 0 or -errno: garbage */
	void *state_ctx;
	uint64_t fd_max;		/* the trace's quota in bytes (0: FT_TRACE_MAX_DEFAULT) */
	uint64_t fd_bytes;		/* written to fd so far */
	uint64_t synced;		/* pieces made durable before their ACK */
	/* primary: the next piece holds a disk flush, so the backup makes it durable before
	 * it acknowledges it (a flush completes to the guest only then) */
	int sync_next;
	uint64_t seen;			/* pieces ft_backup_more() has let the reader see */
};

/* Starts the primary's side on a connected transport (the link owns it from here). */
int ft_primary_start(struct ft_link *l, struct transport *t, int beat_ms, int dead_ms);
/* trace_writer_opts.sink: queues a copy of the piece; 0, or -EPIPE once the backup is
 * dead or gone. */
int ft_primary_sink(void *link, const void *data, size_t len);
/* Sends what is queued, then BYE, and waits (at most timeout_ms) for the backup to ACK
 * every piece. 0, or -EPIPE / -ETIMEDOUT. */
int ft_primary_finish(struct ft_link *l, int timeout_ms);
/* Pieces the backup has said it holds, and pieces queued so far. */
uint64_t ft_primary_acked(struct ft_link *l);
uint64_t ft_primary_queued(struct ft_link *l);
/* Waits (at most timeout_ms; -1 forever) until the backup holds n pieces. 0, -EPIPE
 * (it is dead or gone), -ETIMEDOUT. */
int ft_primary_wait_acked(struct ft_link *l, uint64_t n, int timeout_ms);

/* Queues a STATE message (not a piece: ACKs do not count it); 0 or -EPIPE. */
int ft_primary_state(struct ft_link *l, const void *data, size_t len);

/* The most trace a backup stores unless told otherwise: a peer cannot fill its disk. */
#define FT_TRACE_MAX_DEFAULT (64ULL << 30)

/* Starts the backup's side: pieces go to fd (the local trace, open for writing), at most
 * l->fd_max bytes of them (past it the primary is refused as a faulty peer). STATE
 * messages go to l->on_state (set it, and state_ctx, before; NULL: this backup takes no
 * state, and a STATE refuses the peer as faulty; -E2BIG from it: a guest larger than
 * allowed, also a fault). */
int ft_backup_start(struct ft_link *l, struct transport *t, int fd, int beat_ms, int dead_ms);
/* The pieces held so far may be acknowledged (after a STATE, once the disks are copied). */
void ft_backup_open_acks(struct ft_link *l);
/* trace_reader_open_follow's more(): waits for another piece; 1 once none will come (the
 * primary said BYE, or died: l->peer tells which). */
int ft_backup_more(void *link);

/* A backup that replayed the whole trace waits (at most timeout_ms) for the primary's
 * BYE before it leaves: leaving first would look like a death to a primary that has not
 * said BYE yet. 0 once said, -ETIMEDOUT. */
int ft_backup_wait_bye(struct ft_link *l, int timeout_ms);
/* The peer is up and spoke within dead_ms, or left in good order: what it acknowledged still counts (a primary
 * that was frozen longer must not release outputs its backup may have re-issued live). */
int ft_link_fresh(struct ft_link *l);

/* Stops the thread and frees everything (the transport too). */
void ft_link_destroy(struct ft_link *l);

#endif
