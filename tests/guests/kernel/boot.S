/* SPDX-License-Identifier: MIT */
/*
 * PVH entry: the loader (QEMU or detvm) starts us in 32-bit protected mode with
 * paging off and EBX = physical address of struct hvm_start_info.  We switch to
 * long mode with static page tables (no loops: every ring-0 instruction is
 * emulated on the development host, so a table-filling loop would cost ms) and
 * call kmain(start_info).
 */
#define X86_CR0_PE	0x00000001
#define X86_CR0_PG	0x80000000
#define X86_CR4_PAE	0x00000020
#define MSR_EFER	0xc0000080
#define EFER_LME	0x100

/* XEN_ELFNOTE_PHYS32_ENTRY (18): the 32-bit entry point.  The descriptor is
 * 8 bytes like Linux's, because QEMU reads it as a 64-bit value; the section
 * is 4-aligned because QEMU pads the name to the PT_NOTE p_align. */
	.section .note.Xen, "a", @note
	.p2align 2
	.long 4
	.long 8
	.long 18
	.asciz "Xen"
	.quad pvh_start32

	.section .text.boot, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	cli
	cld
	movl %ebx, pvh_info_pa
	movl $boot_stack_top, %esp

	/* Zero the kernel .bss (the stack lives in its own section). */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	shrl $2, %ecx
	xorl %eax, %eax
	rep stosl

	lgdt gdt_ptr
	movl %cr4, %eax
	orl $X86_CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(X86_CR0_PG | X86_CR0_PE), %eax
	movl %eax, %cr0
	ljmp $0x08, $start64

	.code64
start64:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	movq $boot_stack_top, %rsp
	movl pvh_info_pa, %edi
	call kmain
1:	cli
	hlt
	jmp 1b

	.section .data
	.p2align 3
pvh_info_pa:
	.long 0

/*
 * GDT.  0x08 kernel code, 0x10 kernel data, 0x18 user data, 0x20 user code,
 * 0x28 the 64-bit TSS whose base kernel/main.c fills in at run time.
 */
	.p2align 4
	.globl gdt
gdt:
	.quad 0
	.quad 0x00af9a000000ffff
	.quad 0x00cf92000000ffff
	.quad 0x00cff2000000ffff
	.quad 0x00affa000000ffff
	.quad 0, 0
gdt_end:
	.globl gdt_ptr
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt

/*
 * Identity map of the low 4 GiB with 2 MiB pages.  PD entries 2 and 3
 * (4-8 MiB) are user-accessible: that is where the ring-3 image, stacks and
 * DMA buffers live.  So is RAM from 16 MiB (USER_SCRATCH) up to 3 GiB: ring 0 is
 * emulated per instruction on some hosts, so memtouch writes it from ring 3.  The top GiB (virtio windows at 0xd0000000 and 0xfeb00000,
 * LAPIC at 0xfee00000) is mapped uncached.
 */
#define PTE_P	0x001
#define PTE_W	0x002
#define PTE_U	0x004
#define PTE_PWT	0x008
#define PTE_PCD	0x010
#define PTE_PS	0x080
	.p2align 12
	.globl pml4
pml4:
	.quad pdpt + (PTE_P | PTE_W | PTE_U)
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x0000 + (PTE_P | PTE_W | PTE_U)
	.quad pd + 0x1000 + (PTE_P | PTE_W | PTE_U)
	.quad pd + 0x2000 + (PTE_P | PTE_W | PTE_U)
	.quad pd + 0x3000 + (PTE_P | PTE_W | PTE_U)
	.fill 508, 8, 0
pd:
	.set i, 0
	.rept 2048
	.if (i == 2) || (i == 3) || ((i >= 8) && (i < 1536))
	.quad (i << 21) | (PTE_P | PTE_W | PTE_PS | PTE_U)
	.elseif i >= 1536
	.quad (i << 21) | (PTE_P | PTE_W | PTE_PS | PTE_PCD | PTE_PWT)
	.else
	.quad (i << 21) | (PTE_P | PTE_W | PTE_PS)
	.endif
	.set i, i + 1
	.endr

	.section .stack, "aw", @nobits
	.p2align 12
	.globl boot_stack_top
	.space 16384
boot_stack_top:
