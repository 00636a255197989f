/*
 * The arbiter against split brain: before a backup goes live, and before a primary that
 * lost its backup goes on alone, each must win an atomic test-and-set here; the loser
 * halts, and with the arbiter unreachable nobody goes live alone.
 *
 * A pair reads the arbiter's generation G when it forms (0 if never claimed). Claiming
 * is one atomic step: if the generation is still G it becomes G+1 with this process as
 * its live holder -- won; if it is already G+1 held by this process -- won again; else
 * lost (the other side, or a newer pair, took it). A stale primary that comes back after
 * its backup went live finds G+1 and halts, however long it was away.
 *
 * file:PATH  an fcntl lock on a file on a filesystem both sides share: the content is
 *            "GENERATION HOLDER"; the winner keeps the lock while it lives.
 * etcd://HOST:PORT/KEY  etcd v3 through its JSON gateway (libcurl): one transaction
 *            compares KEY/generation and sets it, and puts KEY/live = holder bound to a
 *            lease the winner keeps alive (KEY/live vanishes when it dies).
 * etcds://HOST:PORT/KEY  the same over TLS (the server's certificate checked against
 *            a CA; a client certificate if given), and with a user and password if given.
 *
 * The winner's authority lasts as long as its lease: when a keep-alive fails for longer
 * than the lease lives, or etcd says the lease is gone, the arbiter is lost (arbiter_lost)
 * and the side must release nothing more, then halt.
 */
#ifndef DETVM_FT_ARBITER_H
#define DETVM_FT_ARBITER_H

#include <stddef.h>
#include <stdint.h>

struct arbiter;

struct arbiter_ops {
	const char *name;
	/* The current generation into *gen: 0, or -errno (unreachable: why in err). */
	int (*generation)(struct arbiter *a, uint64_t *gen, char *err, size_t errlen);
	/* One try at taking generation gen -> gen+1: 1 won, 0 lost (err: who holds it),
	 * -errno unreachable (err: why). */
	int (*claim)(struct arbiter *a, uint64_t gen, char *err, size_t errlen);
	void (*close)(struct arbiter *a);
};

struct arbiter {
	const struct arbiter_ops *ops;
	char holder[160];	/* who this process is: host:pid:role */
	int lost;		/* the won generation's lease is gone (set by another thread) */
};

/* How to reach etcd (etcdctl's --cacert, --cert, --key, --user): PEM files, and a file
 * that holds "USER:PASSWORD" (mode 600). NULL members: none. */
struct arbiter_creds {
	const char *cacert, *cert, *key, *auth;
};

/* 1 once the generation this side won may be someone else's (its lease is gone). */
static inline int arbiter_lost(const struct arbiter *a)
{
	return a && __atomic_load_n(&a->lost, __ATOMIC_ACQUIRE);
}

/* file:PATH, etcd://HOST:PORT/KEY or etcds://HOST:PORT/KEY; role names this side
 * ("primary", "backup"); creds (may be NULL) for etcd. 0, or -EINVAL (err: a bad URL or
 * credentials that do not fit it) / -errno. */
/* How long a side keeps trying an unreachable arbiter before it halts. */
#define FT_ARBITER_WAIT_MS 3000

int arbiter_open(struct arbiter **out, const char *url, const char *role, const struct arbiter_creds *creds,
		 char *err, size_t errlen);
/* Tries for up to wait_ms while the arbiter is unreachable: 1 won, 0 lost, -errno
 * still unreachable. err says why on anything but a win. */
int arbiter_claim(struct arbiter *a, uint64_t gen, int wait_ms, char *err, size_t errlen);
/* arbiter_claim for FT_ARBITER_WAIT_MS, and one line saying the outcome: "won generation
 * N at the arbiter: THEN", or why this side halts. 1 won, 0 not (lost or unreachable). */
int arbiter_decide(struct arbiter *a, uint64_t gen, const char *then);
void arbiter_close(struct arbiter *a);
/* For a side that won: 1 from the moment its arbiter is lost (said once, in one line,
 * with *fenced set), after which it must release nothing more and halt; else 0. */
int arbiter_fenced(const struct arbiter *a, int *fenced);

int arbiter_file_open(struct arbiter **out, const char *path, char *err, size_t errlen);
int arbiter_etcd_open(struct arbiter **out, const char *endpoint, const char *key, const struct arbiter_creds *creds,
		      char *err, size_t errlen);

#endif
