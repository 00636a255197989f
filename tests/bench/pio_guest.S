/*
 * Benchmark guest: a PVH ELF entered in 32-bit protected mode. It writes one byte to
 * COM1 (the "first console byte"), then LOOPS port writes to 0x80 (one exit each), then
 * powers off through port 0xf4. It runs unchanged under detvm and QEMU.
 */
#ifndef LOOPS
#define LOOPS 0
#endif
	.section .note.pvh, "a"
	.balign 4
	.long 4			/* name size: "Xen\0" */
	.long 4			/* descriptor size */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_entry

	.text
	.code32
	.globl pvh_entry
pvh_entry:
	mov $0x3f8, %dx
	mov $'R', %al
	out %al, %dx
	mov $'\n', %al
	out %al, %dx
	mov $LOOPS, %ecx
	test %ecx, %ecx
	jz 2f
1:	out %al, $0x80
	dec %ecx
	jnz 1b
2:	mov $0xf4, %dx
	xor %eax, %eax
	out %eax, %dx
3:	hlt
	jmp 3b
