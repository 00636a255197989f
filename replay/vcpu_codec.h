/* The vCPU state of vmm/vcpu_state.h as the trace holds it (logs/trace.proto VcpuState). */
#ifndef DETVM_REPLAY_VCPU_CODEC_H
#define DETVM_REPLAY_VCPU_CODEC_H

#include "logs/trace.pb-c.h"
#include "vmm/vcpu_state.h"

/* The message and what it points to; the byte fields point into the vcpu_state. */
struct vcpu_codec_buf {
	Detvm__VcpuState msg;
	Detvm__Msr msr[VCPU_STATE_MAX_MSRS];
	Detvm__Msr *msrp[VCPU_STATE_MAX_MSRS];
};

/* b->msg describes st while both live. */
void vcpu_state_encode(const struct vcpu_state *st, struct vcpu_codec_buf *b);
/* 0, or -EINVAL for a message whose parts have the wrong sizes (a trace that lies). */
int vcpu_state_decode(const Detvm__VcpuState *msg, struct vcpu_state *st);

#endif
