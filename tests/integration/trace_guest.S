/*
 * The guest of the `detvm trace` golden test: hand-written, so its every byte and address
 * is fixed by this file (a compiled guest moves whenever its C changes). A PVH ELF entered
 * in 32-bit protected mode: it switches to long mode and, in ring 0 with no interrupts,
 * no REP strings and no MOV SS (hosts step those differently), runs memory operands of several
 * kinds, a call, PUSHFQ (whose copy of RFLAGS must not show single-stepping's TF: port
 * 0x81 gets its high byte, which replay compares) and three port writes to 0x80, then
 * powers off through port 0xf4. Built with tests/bench/pio_guest.ld.
 */
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
	lgdt gdt_ptr
	mov $pml4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax			/* PAE */
	mov %eax, %cr4
	mov $0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax		/* PG | PE */
	mov %eax, %cr0
	ljmp $0x08, $long64

	.code64
long64:
	mov $0x10, %ax
	mov %ax, %ds			/* not SS: a MOV SS holds the next step back on some hosts */
	lea stack_top(%rip), %rsp
	movq $3, counter(%rip)
1:	mov counter(%rip), %rax
	out %al, $0x80
	call bump
	decq counter(%rip)
	jnz 1b
	pushfq
	pop %rax
	mov %rax, flags(%rip)
	shr $8, %eax
	out %al, $0x81
	lea table(%rip), %rbx
	mov $2, %ecx
	mov (%rbx,%rcx,8), %rdx
	add %rdx, hits(%rip)
	xor %eax, %eax
	mov $0xf4, %dx
	out %eax, %dx
2:	hlt
	jmp 2b

bump:
	push %rbp
	mov %rsp, %rbp
	addq $1, hits(%rip)
	pop %rbp
	ret

	.balign 4096
data:
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
gdt_ptr:
	.word gdt_ptr - gdt - 1
	.long gdt
	.balign 8
counter:
	.quad 0
hits:
	.quad 0
flags:
	.quad 0
table:
	.quad 10, 20, 30
	.balign 4096
stack:
	.fill 512, 8, 0
stack_top:
/* identity map of the first 2 MiB, one large page */
pml4:
	.quad pdpt + 3
	.fill 511, 8, 0
pdpt:
	.quad pd + 3
	.fill 511, 8, 0
pd:
	.quad 0x83
	.fill 511, 8, 0
