/* The replayer's place in the trace (cursor.c); shared by its hostio and its observer. */
#ifndef DETVM_REPLAY_CURSOR_H
#define DETVM_REPLAY_CURSOR_H

#include "replay/replay.h"

/* Reads the next event into p->cur (p->have, p->status). */
void replay_advance(struct replayer *p);
/* The current event was used: count it and read the next. */
void replay_consume(struct replayer *p);
/* Records the first failure (exit status and message); later ones are ignored. */
void replay_fail(struct replayer *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* What the trace has next, in words: for "expected ..." in a divergence message. */
void replay_describe_next(struct replayer *p, char *out, size_t len);
/* A divergence at the current position: expected what the trace has next, got `got`. */
void replay_diverged(struct replayer *p, const char *got);
/* The trace cannot go on: truncated or unreadable. */
void replay_trace_ends(struct replayer *p);
/* The next event if it is of kind c at the current position; else a divergence, NULL. */
const Detvm__Event *replay_expect(struct replayer *p, Detvm__Event__PayloadCase c, const char *got);
/* Whether the next event is of kind c at the current position (no failure recorded). */
int replay_next_is(struct replayer *p, Detvm__Event__PayloadCase c);

/* The hostio replay gives the devices (replay_io.c). */
extern const struct hostio_ops replay_hostio_ops;

#endif
