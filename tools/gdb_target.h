/* What gdb reads of the guest: registers in the layout of gdb_target.c's target
 * description (amd64: core, SSE, segment bases, control registers) and memory by
 * guest-virtual address through the guest's own page tables (KVM_TRANSLATE: the
 * vCPU's own walk, in whatever mode the guest is). gdb writes nothing: a replay must
 * stay what was recorded. */
#ifndef DETVM_TOOLS_GDB_TARGET_H
#define DETVM_TOOLS_GDB_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/machine.h"

/* The target description gdb asks for with qXfer:features:read:target.xml. */
extern const char gdb_target_xml[];
/* The 'g' reply: every register as hex; 0 or -errno. */
int gdb_read_registers(struct machine *m, char *out, size_t cap);
/* Register n alone ('p'); 0, -ENOENT for no such register, or -errno. */
int gdb_read_register(struct machine *m, unsigned n, char *out, size_t cap);
/* Reads guest-virtual [addr, addr+len): the bytes readable from its start (stops at the
 * first unmapped page or non-RAM address). */
size_t gdb_read_memory(struct machine *m, uint64_t addr, uint8_t *buf, size_t len);
/* Writes within one page at guest-virtual addr (the stub undoing its own trace). 0 or -errno. */
int gdb_write_guest(struct machine *m, uint64_t addr, const void *buf, size_t len);

#endif
