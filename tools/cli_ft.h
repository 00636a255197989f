/* The FT commands' shared parts: the primary's half of a pair (`ft primary`, and a
 * backup that went live and is protected again), and re-protection on the control socket. */
#ifndef DETVM_TOOLS_CLI_FT_H
#define DETVM_TOOLS_CLI_FT_H

#include <stddef.h>
#include <stdint.h>

#include "ft/link.h"
#include "ft/output.h"
#include "net/transport.h"
#include "tools/cli.h"

struct arbiter;
struct recorder;

struct cli_ft_side {
	struct ft_link link;
	struct ft_hold hold;
	struct arbiter *arb;	/* NULL: none, so never alone */
	uint64_t gen;		/* the arbiter's generation when the pair formed */
	const char *peer;
	int seq_fd;
	uint8_t key[TRANSPORT_KEY_BYTES];	/* the pair's (--key) */
	struct ft_fence *fence;		/* the shared disks' (NULL: none), set before wrap */
};

/* The fence of the shared disks (their paths resolved, read-only ones left out) for a
 * side of generation gen: 0, or an exit code after saying why. */
int cli_ft_fence_open(struct ft_fence *f, const struct machine_config *cfg, uint64_t gen);

/* Opens the side's arbiter and reads its generation into *gen: 0, or an exit code after
 * saying why (the command line's, a missing library's, or an arbiter that cannot be
 * used: halted). */
int cli_ft_arbiter_open(struct arbiter **a, const char *url, const char *role, const struct arbiter_creds *creds,
			uint64_t *gen);

/* The link's terms: the side's key and the timings, defaults as ft/link.c applies them. */
struct transport_terms cli_ft_terms(const uint8_t key[TRANSPORT_KEY_BYTES], int beat_ms, int dead_ms);
/* --key FILE into key: 0, or DETVM_EXIT_USAGE after saying why. */
int cli_ft_load_key(uint8_t key[TRANSPORT_KEY_BYTES], const char *path);

/* The cli_stream of a primary (ctx: the side). */
int cli_ft_side_sink(void *ctx, const void *data, size_t len);
int cli_ft_side_finish(void *ctx);
struct hostio *cli_ft_side_wrap(void *ctx, struct hostio *live);
void cli_ft_side_recording(void *ctx, struct recorder *rec);

#endif
