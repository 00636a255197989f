/*
 * Capstone, opened by the first instruction tracer or access watchpoint
 * (vmm/lazy_lib.h) rather than linked: `detvm trace` and gdb's rwatch/awatch use it,
 * nothing else. Included instead of <capstone/capstone.h>, it makes the names below call
 * through the table.
 */
#ifndef DETVM_TOOLS_CAPSTONE_LIB_H
#define DETVM_TOOLS_CAPSTONE_LIB_H

#include <stddef.h>

#include <capstone/capstone.h>

#define CAPSTONE_FUNCS(X)                                                                          \
	X(cs_open) X(cs_option) X(cs_close) X(cs_disasm) X(cs_disasm_iter) X(cs_malloc) X(cs_free) \
	X(cs_insn_group) X(cs_strerror)

#define CAPSTONE_SLOT(f) __typeof__(&f) f;
struct capstone_lib {
	CAPSTONE_FUNCS(CAPSTONE_SLOT)
};
#undef CAPSTONE_SLOT
extern struct capstone_lib capstone_lib;

/* Opens it (once): 0, or -1 with err in one line. */
int capstone_lib_load(char *err, size_t errlen);

#ifndef CAPSTONE_LIB_TABLE	/* defined by the file that fills the table */
#define cs_open capstone_lib.cs_open
#define cs_option capstone_lib.cs_option
#define cs_close capstone_lib.cs_close
#define cs_disasm capstone_lib.cs_disasm
#define cs_disasm_iter capstone_lib.cs_disasm_iter
#define cs_malloc capstone_lib.cs_malloc
#define cs_free capstone_lib.cs_free
#define cs_insn_group capstone_lib.cs_insn_group
#define cs_strerror capstone_lib.cs_strerror
#endif

#endif
