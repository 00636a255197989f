/*
 * Intel 8042 keyboard controller with no keyboard or mouse attached: enough for
 * Linux's i8042 probe to finish quickly and for the reset line (command 0xFE, or the
 * output port's reset bit) that reboot uses.
 */
#ifndef DETVM_DEVICES_I8042_H
#define DETVM_DEVICES_I8042_H

#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/state_io.h"

#define I8042_OUTQ_SIZE 8

struct i8042 {
	void (*reset_request)(void *opaque);
	void *opaque;
	uint8_t ram[32];	/* controller RAM; ram[0] is the command byte */
	uint8_t outport;	/* output port: bit 0 reset (active low), bit 1 A20 */
	uint8_t pending_cmd;	/* command waiting for its data byte, 0 if none */
	uint8_t last_was_cmd;	/* status A2: the last write went to 0x64 */
	uint8_t last_data;	/* what 0x60 reads when nothing is queued */
	uint8_t outq[I8042_OUTQ_SIZE];
	uint8_t outq_aux[I8042_OUTQ_SIZE];	/* the byte came from the AUX side */
	unsigned outq_head;
	unsigned outq_count;
	uint64_t resets;
	uint64_t guest_errors;
};

void i8042_init(struct i8042 *k, void (*reset_request)(void *opaque), void *opaque);
/* Data port 0x60 and status/command port 0x64. */
int i8042_attach(struct i8042 *k, struct bus *pio);

/* Device state for snapshots (vmm/state_io.h); load checks what it reads. */
void i8042_save(const struct i8042 *k, struct state_out *o);
void i8042_load(struct i8042 *k, struct state_in *in);

#endif
