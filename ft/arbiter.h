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
};

/* file:PATH or etcd://HOST:PORT/KEY; role names this side ("primary", "backup").
 * 0, or -EINVAL (err: a bad URL) / -errno. */
/* How long a side keeps trying an unreachable arbiter before it halts. */
#define FT_ARBITER_WAIT_MS 3000

int arbiter_open(struct arbiter **out, const char *url, const char *role, char *err, size_t errlen);
/* Tries for up to wait_ms while the arbiter is unreachable: 1 won, 0 lost, -errno
 * still unreachable. err says why on anything but a win. */
int arbiter_claim(struct arbiter *a, uint64_t gen, int wait_ms, char *err, size_t errlen);
/* arbiter_claim for FT_ARBITER_WAIT_MS, and one line saying the outcome: "won generation
 * N at the arbiter: THEN", or why this side halts. 1 won, 0 not (lost or unreachable). */
int arbiter_decide(struct arbiter *a, uint64_t gen, const char *then);
void arbiter_close(struct arbiter *a);

int arbiter_file_open(struct arbiter **out, const char *path, char *err, size_t errlen);
int arbiter_etcd_open(struct arbiter **out, const char *endpoint, const char *key, char *err, size_t errlen);

#endif
