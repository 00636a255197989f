#define CAPSTONE_LIB_TABLE
#include "tools/capstone_lib.h"

#include "vmm/lazy_lib.h"

struct capstone_lib capstone_lib;

#define CAPSTONE_SYM(f) LAZY_SYM(capstone_lib, f)
static const struct lazy_sym syms[] = { CAPSTONE_FUNCS(CAPSTONE_SYM) };
static struct lazy_lib lib = { .soname = "libcapstone.so.4", .package = "libcapstone4",
			       .user = "the instruction decoder", .syms = syms,
			       .nsyms = sizeof(syms) / sizeof(syms[0]) };

int capstone_lib_load(char *err, size_t errlen)
{
	return lazy_lib_load(&lib, err, errlen);
}
