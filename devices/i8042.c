/*
 * 8042 keyboard controller, ports empty. Every controller command that expects an
 * answer gets one at once: Linux polls for answers with udelay() loops that are
 * very slow when ring-0 code is emulated, so a missing answer would cost seconds.
 * Bytes meant for the (absent) keyboard or mouse are dropped; Linux then times out
 * on jiffies, not on a busy loop. The device raises no interrupts.
 */
#include "devices/i8042.h"

#include <string.h>

#include "vmm/log.h"

#define STS_OBF 0x01
#define STS_SYS 0x04
#define STS_A2 0x08
#define STS_UNLOCKED 0x10	/* keyboard inhibit switch off */
#define STS_AUXOBF 0x20

#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20

#define OUT_RESET 0x01		/* active low: 0 holds the CPU in reset */
#define OUT_A20 0x02

static void outq_push(struct i8042 *k, uint8_t b, int aux)
{
	if (k->outq_count == I8042_OUTQ_SIZE) {
		log_guest_error(&k->guest_errors, "i8042: output buffer overrun");
		return;
	}
	unsigned slot = (k->outq_head + k->outq_count) % I8042_OUTQ_SIZE;
	k->outq[slot] = b;
	k->outq_aux[slot] = (uint8_t)aux;
	k->outq_count++;
}

static void request_reset(struct i8042 *k)
{
	k->resets++;
	if (k->reset_request)
		k->reset_request(k->opaque);
}

static void command(struct i8042 *k, uint8_t cmd)
{
	k->pending_cmd = 0;
	if (cmd >= 0x20 && cmd <= 0x3f) {
		outq_push(k, k->ram[cmd & 0x1f], 0);
		return;
	}
	if ((cmd >= 0x60 && cmd <= 0x7f) || cmd == 0xd1 || cmd == 0xd2 || cmd == 0xd3 ||
	    cmd == 0xd4) {
		k->pending_cmd = cmd;	/* the argument follows on port 0x60 */
		return;
	}
	if (cmd >= 0xf0) {
		/* pulse output port bits whose command bit is 0; bit 0 is the reset line */
		if (!(cmd & 1))
			request_reset(k);
		return;
	}
	switch (cmd) {
	case 0xa4:		/* password installed? no */
		outq_push(k, 0xf1, 0);
		break;
	case 0xa7:
		k->ram[0] |= CTR_AUXDIS;
		break;
	case 0xa8:
		k->ram[0] &= ~CTR_AUXDIS;
		break;
	case 0xa9:		/* AUX interface test: lines fine */
	case 0xab:		/* keyboard interface test: lines fine */
		outq_push(k, 0x00, 0);
		break;
	case 0xaa:		/* controller self-test passed */
		k->ram[0] |= CTR_SYS;
		outq_push(k, 0x55, 0);
		break;
	case 0xad:
		k->ram[0] |= CTR_KBDDIS;
		break;
	case 0xae:
		k->ram[0] &= ~CTR_KBDDIS;
		break;
	case 0xc0:		/* input port: keyboard not inhibited */
		outq_push(k, 0x80, 0);
		break;
	case 0xd0:
		outq_push(k, k->outport, 0);
		break;
	case 0xdd:
		k->outport &= ~OUT_A20;
		break;
	case 0xdf:
		k->outport |= OUT_A20;
		break;
	case 0xe0:		/* test inputs: clock and data low */
		outq_push(k, 0x00, 0);
		break;
	default:
		log_guest_error(&k->guest_errors, "i8042: unknown command %#x", cmd);
		break;
	}
}

static void data_write(struct i8042 *k, uint8_t val)
{
	uint8_t cmd = k->pending_cmd;
	k->pending_cmd = 0;
	if (cmd >= 0x60 && cmd <= 0x7f) {
		k->ram[cmd & 0x1f] = val;
		return;
	}
	switch (cmd) {
	case 0xd1:
		k->outport = val;
		if (!(val & OUT_RESET))
			request_reset(k);
		break;
	case 0xd2:		/* as if the keyboard had sent it */
		outq_push(k, val, 0);
		break;
	case 0xd3:		/* as if the mouse had sent it (Linux's AUX loop test) */
		outq_push(k, val, 1);
		break;
	default:		/* 0xd4 or no command: for a device that is not there */
		break;
	}
}

static uint8_t status(const struct i8042 *k)
{
	uint8_t v = STS_UNLOCKED;
	if (k->ram[0] & CTR_SYS)
		v |= STS_SYS;
	if (k->last_was_cmd)
		v |= STS_A2;
	if (k->outq_count) {
		v |= STS_OBF;
		if (k->outq_aux[k->outq_head])
			v |= STS_AUXOBF;
	}
	return v;
}

static void data_port_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
	struct i8042 *k = opaque;
	for (unsigned i = 0; i < size; i++) {
		if (k->outq_count) {
			k->last_data = k->outq[k->outq_head];
			k->outq_head = (k->outq_head + 1) % I8042_OUTQ_SIZE;
			k->outq_count--;
		}
		data[i] = k->last_data;
	}
}

static void data_port_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	struct i8042 *k = opaque;
	for (unsigned i = 0; i < size; i++) {
		k->last_was_cmd = 0;
		data_write(k, data[i]);
	}
}

static void cmd_port_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
	struct i8042 *k = opaque;
	for (unsigned i = 0; i < size; i++)
		data[i] = status(k);
}

static void cmd_port_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	struct i8042 *k = opaque;
	for (unsigned i = 0; i < size; i++) {
		k->last_was_cmd = 1;
		command(k, data[i]);
	}
}

static const struct io_handler data_ops = { data_port_read, data_port_write };
static const struct io_handler cmd_ops = { cmd_port_read, cmd_port_write };

void i8042_init(struct i8042 *k, void (*reset_request)(void *opaque), void *opaque)
{
	memset(k, 0, sizeof(*k));
	k->reset_request = reset_request;
	k->opaque = opaque;
	/* as firmware leaves it: keyboard interrupt on, POST passed, scancode translation */
	k->ram[0] = 0x01 | CTR_SYS | 0x40;
	k->outport = OUT_RESET | OUT_A20;
}

int i8042_attach(struct i8042 *k, struct bus *pio)
{
	int r = bus_register(pio, 0x60, 1, &data_ops, k, "i8042-data");
	if (r)
		return r;
	r = bus_register(pio, 0x64, 1, &cmd_ops, k, "i8042-cmd");
	if (r)
		bus_unregister(pio, 0x60);
	return r;
}

/* The fields after the wiring (reset_request, opaque), in declaration order. */
#define I8042_STATE_FIELDS(X) X(ram) X(outport) X(pending_cmd) X(last_was_cmd) X(last_data) \
	X(outq) X(outq_aux) X(outq_head) X(outq_count) X(resets) X(guest_errors)

void i8042_save(const struct i8042 *k, struct state_out *o)
{
#define I8042_PUT(f) state_put(o, &k->f, sizeof(k->f));
	I8042_STATE_FIELDS(I8042_PUT)
}

void i8042_load(struct i8042 *k, struct state_in *in)
{
	struct i8042 n = *k;
#define I8042_GET(f) state_get(in, &n.f, sizeof(n.f));
	I8042_STATE_FIELDS(I8042_GET)
	state_check(in, n.outq_head < I8042_OUTQ_SIZE && n.outq_count <= I8042_OUTQ_SIZE, "the i8042's queue");
	if (!in->err)
		*k = n;
}
