/*
 * Device and machine state as bytes, for snapshots, FT re-protection and replay
 * checkpoints. A device writes its state with state_put*() and reads it back with
 * state_get*(); the reader never runs past its input (a short or corrupt blob sets err
 * and reads zeros), and each device checks what it loaded before trusting it, so a
 * damaged snapshot is refused rather than turned into an out-of-range index.
 * The layout is this build's: a snapshot names its format version (vmm/machine_state.h).
 */
#ifndef DETVM_VMM_STATE_IO_H
#define DETVM_VMM_STATE_IO_H

#include <stddef.h>
#include <stdint.h>

struct state_out {
	uint8_t *buf;
	size_t len, cap;
	int err;		/* -ENOMEM once an append failed; the blob is then useless */
};

struct state_in {
	const uint8_t *p;
	size_t len, pos;
	int err;		/* -EINVAL once a read ran past the end or a check failed */
	const char *bad;	/* what was refused, for the one-line error */
};

void state_out_init(struct state_out *o);
void state_out_free(struct state_out *o);
void state_put(struct state_out *o, const void *data, size_t len);
void state_put_u32(struct state_out *o, uint32_t v);
void state_put_u64(struct state_out *o, uint64_t v);

void state_in_init(struct state_in *in, const void *data, size_t len);
void state_get(struct state_in *in, void *data, size_t len);
uint32_t state_get_u32(struct state_in *in);
uint64_t state_get_u64(struct state_in *in);
/* Marks the input refused when ok is false (what: the field, for the message); returns ok. */
int state_check(struct state_in *in, int ok, const char *what);

/* A section: a tag and a length around what fn writes, so a loader can say which part
 * of a snapshot is wrong instead of misreading everything after it. */
size_t state_section_begin(struct state_out *o, uint32_t tag);
void state_section_end(struct state_out *o, size_t at);
/* Opens the next section, which must carry tag; *sub reads just its bytes. 0 or -EINVAL. */
int state_section_open(struct state_in *in, uint32_t tag, struct state_in *sub);

#endif
