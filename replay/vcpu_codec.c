#include "replay/vcpu_codec.h"

#include <errno.h>
#include <string.h>

#define BYTES(field) ((ProtobufCBinaryData){ sizeof(field), (uint8_t *)&(field) })

void vcpu_state_encode(const struct vcpu_state *st, struct vcpu_codec_buf *b)
{
	detvm__vcpu_state__init(&b->msg);
	b->msg.regs = BYTES(st->regs);
	b->msg.sregs = BYTES(st->sregs);
	b->msg.fpu = BYTES(st->fpu);
	b->msg.events = BYTES(st->events);
	b->msg.debugregs = BYTES(st->debugregs);
	for (unsigned i = 0; i < st->nmsrs && i < VCPU_STATE_MAX_MSRS; i++) {
		detvm__msr__init(&b->msr[i]);
		b->msr[i].index = st->msrs[i].index;
		b->msr[i].value = st->msrs[i].data;
		b->msrp[i] = &b->msr[i];
	}
	b->msg.n_msrs = st->nmsrs < VCPU_STATE_MAX_MSRS ? st->nmsrs : VCPU_STATE_MAX_MSRS;
	b->msg.msrs = b->msrp;
}

static int take(const ProtobufCBinaryData *d, void *out, size_t len)
{
	if (d->len != len)
		return -EINVAL;
	memcpy(out, d->data, len);
	return 0;
}

int vcpu_state_decode(const Detvm__VcpuState *msg, struct vcpu_state *st)
{
	memset(st, 0, sizeof(*st));
	if (take(&msg->regs, &st->regs, sizeof(st->regs)) || take(&msg->sregs, &st->sregs, sizeof(st->sregs)) ||
	    take(&msg->fpu, &st->fpu, sizeof(st->fpu)) || take(&msg->events, &st->events, sizeof(st->events)) ||
	    take(&msg->debugregs, &st->debugregs, sizeof(st->debugregs)) || msg->n_msrs > VCPU_STATE_MAX_MSRS)
		return -EINVAL;
	for (size_t i = 0; i < msg->n_msrs; i++) {
		st->msrs[i].index = msg->msrs[i]->index;
		st->msrs[i].data = msg->msrs[i]->value;
	}
	st->nmsrs = (unsigned)msg->n_msrs;
	return 0;
}
