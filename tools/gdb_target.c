#include "tools/gdb_target.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/x86.h"

const char gdb_target_xml[] =
	"<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
	"<target version=\"1.0\"><architecture>i386:x86-64</architecture>\n"
	"<feature name=\"org.gnu.gdb.i386.core\">\n"
	"<flags id=\"i386_eflags\" size=\"4\">"
	"<field name=\"CF\" start=\"0\" end=\"0\"/><field name=\"PF\" start=\"2\" end=\"2\"/>"
	"<field name=\"AF\" start=\"4\" end=\"4\"/><field name=\"ZF\" start=\"6\" end=\"6\"/>"
	"<field name=\"SF\" start=\"7\" end=\"7\"/><field name=\"TF\" start=\"8\" end=\"8\"/>"
	"<field name=\"IF\" start=\"9\" end=\"9\"/><field name=\"DF\" start=\"10\" end=\"10\"/>"
	"<field name=\"OF\" start=\"11\" end=\"11\"/><field name=\"RF\" start=\"16\" end=\"16\"/>"
	"</flags>\n"
	"<reg name=\"rax\" bitsize=\"64\" type=\"int64\" regnum=\"0\"/><reg name=\"rbx\" bitsize=\"64\" type=\"int64\"/>"
	"<reg name=\"rcx\" bitsize=\"64\" type=\"int64\"/><reg name=\"rdx\" bitsize=\"64\" type=\"int64\"/>"
	"<reg name=\"rsi\" bitsize=\"64\" type=\"int64\"/><reg name=\"rdi\" bitsize=\"64\" type=\"int64\"/>"
	"<reg name=\"rbp\" bitsize=\"64\" type=\"data_ptr\"/><reg name=\"rsp\" bitsize=\"64\" type=\"data_ptr\"/>"
	"<reg name=\"r8\" bitsize=\"64\" type=\"int64\"/><reg name=\"r9\" bitsize=\"64\" type=\"int64\"/>"
	"<reg name=\"r10\" bitsize=\"64\" type=\"int64\"/><reg name=\"r11\" bitsize=\"64\" type=\"int64\"/>"
	"<reg name=\"r12\" bitsize=\"64\" type=\"int64\"/><reg name=\"r13\" bitsize=\"64\" type=\"int64\"/>"
	"<reg name=\"r14\" bitsize=\"64\" type=\"int64\"/><reg name=\"r15\" bitsize=\"64\" type=\"int64\"/>"
	"<reg name=\"rip\" bitsize=\"64\" type=\"code_ptr\"/><reg name=\"eflags\" bitsize=\"32\" type=\"i386_eflags\"/>"
	"<reg name=\"cs\" bitsize=\"32\" type=\"int32\"/><reg name=\"ss\" bitsize=\"32\" type=\"int32\"/>"
	"<reg name=\"ds\" bitsize=\"32\" type=\"int32\"/><reg name=\"es\" bitsize=\"32\" type=\"int32\"/>"
	"<reg name=\"fs\" bitsize=\"32\" type=\"int32\"/><reg name=\"gs\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"st0\" bitsize=\"80\" type=\"i387_ext\"/><reg name=\"st1\" bitsize=\"80\" type=\"i387_ext\"/>"
	"<reg name=\"st2\" bitsize=\"80\" type=\"i387_ext\"/><reg name=\"st3\" bitsize=\"80\" type=\"i387_ext\"/>"
	"<reg name=\"st4\" bitsize=\"80\" type=\"i387_ext\"/><reg name=\"st5\" bitsize=\"80\" type=\"i387_ext\"/>"
	"<reg name=\"st6\" bitsize=\"80\" type=\"i387_ext\"/><reg name=\"st7\" bitsize=\"80\" type=\"i387_ext\"/>"
	"<reg name=\"fctrl\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
	"<reg name=\"fstat\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
	"<reg name=\"ftag\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
	"<reg name=\"fiseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
	"<reg name=\"fioff\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
	"<reg name=\"foseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
	"<reg name=\"fooff\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
	"<reg name=\"fop\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"</feature>\n<feature name=\"org.gnu.gdb.i386.sse\">\n"
	"<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/><vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>"
	"<vector id=\"v16i8\" type=\"int8\" count=\"16\"/><vector id=\"v8i16\" type=\"int16\" count=\"8\"/>"
	"<vector id=\"v4i32\" type=\"int32\" count=\"4\"/><vector id=\"v2i64\" type=\"int64\" count=\"2\"/>"
	"<union id=\"vec128\"><field name=\"v4_float\" type=\"v4f\"/><field name=\"v2_double\" type=\"v2d\"/>"
	"<field name=\"v16_int8\" type=\"v16i8\"/><field name=\"v8_int16\" type=\"v8i16\"/>"
	"<field name=\"v4_int32\" type=\"v4i32\"/><field name=\"v2_int64\" type=\"v2i64\"/>"
	"<field name=\"uint128\" type=\"uint128\"/></union>\n"
	"<reg name=\"xmm0\" bitsize=\"128\" type=\"vec128\" regnum=\"40\"/><reg name=\"xmm1\" bitsize=\"128\" type=\"vec128\"/>"
	"<reg name=\"xmm2\" bitsize=\"128\" type=\"vec128\"/><reg name=\"xmm3\" bitsize=\"128\" type=\"vec128\"/>"
	"<reg name=\"xmm4\" bitsize=\"128\" type=\"vec128\"/><reg name=\"xmm5\" bitsize=\"128\" type=\"vec128\"/>"
	"<reg name=\"xmm6\" bitsize=\"128\" type=\"vec128\"/><reg name=\"xmm7\" bitsize=\"128\" type=\"vec128\"/>"
	"<reg name=\"xmm8\" bitsize=\"128\" type=\"vec128\"/><reg name=\"xmm9\" bitsize=\"128\" type=\"vec128\"/>"
	"<reg name=\"xmm10\" bitsize=\"128\" type=\"vec128\"/><reg name=\"xmm11\" bitsize=\"128\" type=\"vec128\"/>"
	"<reg name=\"xmm12\" bitsize=\"128\" type=\"vec128\"/><reg name=\"xmm13\" bitsize=\"128\" type=\"vec128\"/>"
	"<reg name=\"xmm14\" bitsize=\"128\" type=\"vec128\"/><reg name=\"xmm15\" bitsize=\"128\" type=\"vec128\"/>"
	"<reg name=\"mxcsr\" bitsize=\"32\" type=\"int\" group=\"vector\"/>\n"
	"</feature>\n<feature name=\"org.gnu.gdb.i386.segments\">"
	"<reg name=\"fs_base\" bitsize=\"64\" type=\"int\"/><reg name=\"gs_base\" bitsize=\"64\" type=\"int\"/>"
	"</feature>\n<feature name=\"org.detvm.x86.control\">"
	"<reg name=\"cr0\" bitsize=\"64\" type=\"int\" group=\"system\"/>"
	"<reg name=\"cr2\" bitsize=\"64\" type=\"int\" group=\"system\"/>"
	"<reg name=\"cr3\" bitsize=\"64\" type=\"int\" group=\"system\"/>"
	"<reg name=\"cr4\" bitsize=\"64\" type=\"int\" group=\"system\"/>"
	"<reg name=\"efer\" bitsize=\"64\" type=\"int\" group=\"system\"/>"
	"</feature>\n</target>\n";

#define NREGS 64	/* 24 core + 16 x87 + 17 SSE + 2 bases + 5 control */

/* The registers as gdb numbers them, each as (bytes, little-endian value). */
struct reg_file {
	uint8_t bytes[NREGS][16];
	unsigned size[NREGS];
};

static void put(struct reg_file *f, unsigned n, const void *v, unsigned size)
{
	memcpy(f->bytes[n], v, size);
	f->size[n] = size;
}

static void put_u(struct reg_file *f, unsigned n, uint64_t v, unsigned size)
{
	put(f, n, &v, size);	/* x86 is little-endian, as gdb wants */
}

/* The full x87 tag word from FXSAVE's abridged one: valid (0) or empty (3) per register. */
static unsigned full_tag(unsigned abridged)
{
	unsigned tag = 0;
	for (unsigned i = 0; i < 8; i++)
		tag |= (abridged & (1u << i) ? 0u : 3u) << (2 * i);
	return tag;
}

static int read_all(struct machine *m, struct reg_file *f)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_fpu fpu;
	if (kvm_vcpu_get_regs(&m->kvm, &r) || kvm_vcpu_get_sregs(&m->kvm, &s) ||
	    ioctl(m->kvm.vcpu_fd, KVM_GET_FPU, &fpu) < 0)
		return -EIO;
	uint64_t gpr[17] = { r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8,
			     r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip };
	unsigned n = 0;
	for (unsigned i = 0; i < 17; i++)
		put_u(f, n++, gpr[i], 8);
	/* TF and RF are the debugger's own (single-stepping), not the guest's */
	put_u(f, n++, r.rflags & ~X86_RFLAGS_STEPPING, 4);
	const struct kvm_segment *seg[6] = { &s.cs, &s.ss, &s.ds, &s.es, &s.fs, &s.gs };
	for (unsigned i = 0; i < 6; i++)
		put_u(f, n++, seg[i]->selector, 4);
	for (unsigned i = 0; i < 8; i++)
		put(f, n++, fpu.fpr[i], 10);
	uint64_t x87[8] = { fpu.fcw, fpu.fsw, full_tag(fpu.ftwx), 0, (uint32_t)fpu.last_ip, 0,
			    (uint32_t)fpu.last_dp, fpu.last_opcode };
	for (unsigned i = 0; i < 8; i++)
		put_u(f, n++, x87[i], 4);
	for (unsigned i = 0; i < 16; i++)
		put(f, n++, fpu.xmm[i], 16);
	put_u(f, n++, fpu.mxcsr, 4);
	put_u(f, n++, s.fs.base, 8);
	put_u(f, n++, s.gs.base, 8);
	uint64_t ctl[5] = { s.cr0, s.cr2, s.cr3, s.cr4, s.efer };
	for (unsigned i = 0; i < 5; i++)
		put_u(f, n++, ctl[i], 8);
	return 0;
}

static int hex(char *out, size_t cap, const uint8_t *b, unsigned n)
{
	if (2 * n + 1 > cap)
		return -ENOSPC;
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

int gdb_read_registers(struct machine *m, char *out, size_t cap)
{
	struct reg_file f;
	int r = read_all(m, &f);
	size_t at = 0;
	for (unsigned i = 0; !r && i < NREGS; i++) {
		r = hex(out + at, cap - at, f.bytes[i], f.size[i]);
		at += 2 * f.size[i];
	}
	return r;
}

int gdb_read_register(struct machine *m, unsigned n, char *out, size_t cap)
{
	struct reg_file f;
	if (n >= NREGS)
		return -ENOENT;
	int r = read_all(m, &f);
	return r ? r : hex(out, cap, f.bytes[n], f.size[n]);
}

/* The loop keeps KVM's synced registers up to date (KVM_SYNC_X86_SREGS): no ioctl. */
static const struct kvm_sregs *sregs(struct machine *m)
{
	return &m->kvm.run->s.regs.sregs;
}

int gdb_write_guest(struct machine *m, uint64_t addr, const void *buf, size_t len)
{
	uint64_t gpa;
	if ((addr & (GUEST_PAGE_SIZE - 1)) + len > GUEST_PAGE_SIZE || x86_linear_to_gpa(m, sregs(m), addr, &gpa))
		return -EFAULT;
	return guest_mem_write(&m->mem, gpa, buf, len);
}

size_t gdb_read_memory(struct machine *m, uint64_t addr, uint8_t *buf, size_t len)
{
	return x86_read_linear(m, sregs(m), NULL, addr, buf, len);
}
