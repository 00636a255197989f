/* The little x86 decoding the run loop needs (pure: unit-tested without KVM). */
#ifndef DETVM_VMM_INSN_H
#define DETVM_VMM_INSN_H

#include <stdint.h>

/* 1 if the bytes start a REP/REPNE string instruction (INS, OUTS, MOVS, CMPS, STOS, LODS,
 * SCAS) after any legacy prefixes and REX, or if they cannot be decoded (only prefixes);
 * 0 otherwise. A REP string instruction can stop half way with RIP still on it. */
int insn_is_rep_string(const uint8_t *b, unsigned n);

/* The vector of the interrupt gate the instruction the bytes start goes through: INT n,
 * INT1, INT3, INTO (taken where OF is set, #UD in 64-bit mode), UD2; -1 for any other or
 * for bytes cut off. long_mode: 64-bit code; of: RFLAGS.OF. */
int insn_gate_vector(const uint8_t *b, unsigned n, int long_mode, int of);

/* The length of a PUSHF the bytes start (after legacy prefixes, and REX in 64-bit code),
 * else 0. Single-stepped, it pushes the TF the stepping set: see step.c. */
unsigned insn_pushf_len(const uint8_t *b, unsigned n, int long_mode);

#endif
