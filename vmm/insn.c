/* The little x86 decoding the run loop needs. */
#include "vmm/insn.h"

/* Operand/address size, segment overrides, LOCK, and REX where rex (64-bit code). */
static int is_prefix(uint8_t c, int rex)
{
	return c == 0x66 || c == 0x67 || c == 0x2e || c == 0x36 || c == 0x3e || c == 0x26 ||
	       c == 0x64 || c == 0x65 || c == 0xf0 || (rex && (c & 0xf0) == 0x40);
}

int insn_is_rep_string(const uint8_t *b, unsigned n)
{
	int rep = 0;
	for (unsigned i = 0; i < n; i++) {
		uint8_t c = b[i];
		if (c == 0xf2 || c == 0xf3) {
			rep = 1;
			continue;
		}
		if (is_prefix(c, 1))
			continue;
		/* INS, OUTS, MOVS, CMPS, STOS, LODS, SCAS */
		int string = (c >= 0x6c && c <= 0x6f) || (c >= 0xa4 && c <= 0xa7) || (c >= 0xaa && c <= 0xaf);
		return rep && string;
	}
	return 1;	/* unknown bytes: treat as unsafe */
}

int insn_gate_vector(const uint8_t *b, unsigned n, int long_mode, int of)
{
	if (!n)
		return -1;
	switch (b[0]) {
	case 0xcd: return n >= 2 ? b[1] : -1;
	case 0xcc: return 3;
	case 0xf1: return 1;
	case 0xce: return long_mode ? 6 : of ? 4 : -1;
	case 0x0f: return n >= 2 && b[1] == 0x0b ? 6 : -1;
	default: return -1;
	}
}

unsigned insn_pushf_len(const uint8_t *b, unsigned n, int long_mode)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t c = b[i];
		if (is_prefix(c, long_mode) || c == 0xf2 || c == 0xf3)
			continue;
		return c == 0x9c ? i + 1 : 0;
	}
	return 0;
}
