/* SPDX-License-Identifier: MIT */
/*
 * Kernel entry points: the 256 interrupt/exception stubs (system calls come
 * in as vector 0x80 or as #UD, see abi.h) and the common return path.  Every entry builds the same struct trapframe
 * (kernel.h) on the kernel stack, so the scheduler can switch tasks by
 * copying frames and every return is one IRETQ.
 */
	.text
	.code64

/* Vectors for which the CPU pushes an error code. */
#define HAS_ERR(v) ((v) == 8 || (v) == 10 || (v) == 11 || (v) == 12 || \
		    (v) == 13 || (v) == 14 || (v) == 17 || (v) == 21 || \
		    (v) == 29 || (v) == 30)

	.p2align 4
	.globl isr_stubs
isr_stubs:
	.set v, 0
	.rept 256
	.p2align 4
	.if HAS_ERR(v)
	nop
	nop
	.else
	pushq $0
	.endif
	pushq $v
	jmp trap_common
	.set v, v + 1
	.endr

/* Each stub is 16 bytes (see .p2align above); main.c computes isr_stubs + 16*v. */

trap_common:
	cld
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	call trap_dispatch
	.globl trap_return
trap_return:
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp
	iretq

/* start_user(frame): load a prepared frame and IRETQ into ring 3. */
	.globl start_user
start_user:
	movq %rdi, %rsp
	jmp trap_return

