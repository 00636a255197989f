// SPDX-License-Identifier: MIT
/*
 * Round-robin scheduler of ring-3 tasks and the system calls.
 *
 * There is one kernel stack (TSS.RSP0 = boot_stack_top) and the kernel is never
 * preempted: every entry leaves the interrupted task's registers in a
 * trapframe at the top of that stack, and a task switch copies that frame
 * into the old task and the new task's frame over it before the IRETQ.
 * When no task can run, the kernel waits with `sti; hlt` on the same stack;
 * interrupts taken there (from ring 0) only update state and never switch.
 */
#include "kernel.h"

#define NTASKS		4
#define T_FREE		0
#define T_RUN		1
#define T_SLEEP		2	/* until ticks >= wake (or an I/O IRQ if io) */
#define T_DEAD		3

struct task {
	struct trapframe tf;
	int state;
	int io;			/* woken by virtio IRQs too */
	u64 wake;
};

static struct task tasks[NTASKS];
static int cur;
static u32 exit_code;
volatile u64 ticks;

static int task_new(u64 entry, u64 arg, u64 stack_top)
{
	for (int i = 0; i < NTASKS; i++) {
		struct task *t = &tasks[i];

		if (t->state != T_FREE && t->state != T_DEAD)
			continue;
		memset(&t->tf, 0, sizeof(t->tf));
		t->tf.rip = entry;
		t->tf.rdi = arg;
		t->tf.rsp = stack_top;
		t->tf.cs = USER_CS;
		t->tf.ss = USER_DS;
		t->tf.rflags = 0x202;	/* IF, so the PIT preempts ring 3 */
		t->state = T_RUN;
		t->io = 0;
		return i;
	}
	return -1;
}

void sched_start(u64 entry, u64 arg, u64 stack_top)
{
	cur = task_new(entry, arg, stack_top);
	start_user(&tasks[cur].tf);
}

/* Next runnable task after cur, round robin; -1 if none. */
static int pick(void)
{
	for (int n = 1; n <= NTASKS; n++) {
		int i = (cur + n) % NTASKS;

		if (tasks[i].state == T_RUN)
			return i;
	}
	return -1;
}

static int all_dead(void)
{
	for (int i = 0; i < NTASKS; i++)
		if (tasks[i].state == T_RUN || tasks[i].state == T_SLEEP)
			return 0;
	return 1;
}

/*
 * Switch away from cur (its state already updated) if another task should
 * run.  tf is the frame at the top of the kernel stack.
 */
static void schedule(struct trapframe *tf)
{
	int next;

	while ((next = pick()) < 0) {
		if (all_dead())
			poweroff(exit_code);
		__asm__ __volatile__("sti; hlt; cli" ::: "memory");
	}
	if (next == cur)
		return;
	if (tasks[cur].state != T_DEAD && tasks[cur].state != T_FREE)
		tasks[cur].tf = *tf;
	*tf = tasks[next].tf;
	cur = next;
}

static void wake(int io)
{
	for (int i = 0; i < NTASKS; i++) {
		struct task *t = &tasks[i];

		if (t->state == T_SLEEP && (ticks >= t->wake || (io && t->io)))
			t->state = T_RUN;
	}
}

void sched_tick(struct trapframe *tf)
{
	ticks++;
	wake(0);
	/* Preempt only ring 3: ring-0 interrupts come from the idle hlt. */
	if (tf->cs & 3)
		schedule(tf);
}

void sched_wake_io(void)
{
	wake(1);
}

static void sleep(u64 n)
{
	struct task *t = &tasks[cur];

	t->state = T_SLEEP;
	t->wake = ticks + (n ? n : 1);
	t->io = (n == 0);
}

/* The one RDTSC in ring 0 (prog=tsc reads the TSC on purpose; the Makefile's ring-0
 * check lets this function have it and no other). */
__attribute__((noinline)) static u64 sys_rdtsc(void)
{
	u32 lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

/*
 * SYS_KSPIN: wait for n timer ticks in ring 0 with interrupts enabled and no
 * port I/O or MMIO in the loop, i.e. without a single VM exit, so a VMM that
 * injects interrupts only at exits never ends it (detvm's `step` fallback
 * must).  The timer interrupt nests on this stack: sched_tick sees a ring-0
 * frame and does not switch.  Each iteration stores to memory (volatile, so
 * the write-only array is kept) so the guest state keeps changing.
 */
static volatile u64 kspin_buf[64];

static u64 kspin(u64 n)
{
	u64 start = ticks, iters = 0, x = 1;

	/* Entered through an interrupt gate (IF=0); IRETQ restores ring 3's IF. */
	__asm__ __volatile__("sti" ::: "memory");
	while (ticks - start < n) {
		x = x * 6364136223846793005UL + 1442695040888963407UL;
		kspin_buf[iters & 63] = x;
		iters++;
	}
	__asm__ __volatile__("cli" ::: "memory");
	return iters;
}

/* Ring-3 buffers must lie inside the user window (they are DMA targets too). */
static int user_ok(u64 p, u64 len)
{
	return p >= USER_BASE && len <= USER_END - USER_BASE && p <= USER_END - len;
}

void syscall_dispatch(struct trapframe *tf)
{
	u64 a0 = tf->rdi, a1 = tf->rsi, a2 = tf->rdx, a3 = tf->r10;
	s64 ret = 0;

	switch (tf->rax) {
	case SYS_WRITE:
		if (!user_ok(a0, a1)) {
			ret = -14;
			break;
		}
		kwrite((const char *)a0, a1);
		ret = (s64)a1;
		break;
	case SYS_EXIT:
		tasks[cur].state = T_DEAD;
		exit_code = (u32)a0;
		schedule(tf);
		return;
	case SYS_YIELD:
		tf->rax = 0;
		schedule(tf);
		return;
	case SYS_SLEEP:
		tf->rax = 0;
		sleep(a0);
		schedule(tf);
		return;
	case SYS_TICKS:
		ret = (s64)ticks;
		break;
	case SYS_RTC:
		if (!user_ok(a0, sizeof(struct guest_rtc))) {
			ret = -14;
			break;
		}
		rtc_read((struct guest_rtc *)a0);
		break;
	case SYS_SPAWN:
		if (!user_ok(a0, 1) || !user_ok(a2 - 8, 8)) {
			ret = -14;
			break;
		}
		ret = task_new(a0, a1, a2);
		break;
	case SYS_POWEROFF:
		poweroff((u32)a0);
	case SYS_PORTNOP:
		outb(0x80, 0);
		break;
	case SYS_BLK_INFO:
		ret = blk_capacity();
		break;
	case SYS_BLK_IO:
		ret = user_ok(a2, a3 * 512) ? blk_io((int)a0, a1, a2, a3) : -14;
		break;
	case SYS_NET_SEND:
		ret = user_ok(a0, a1) ? net_send(a0, a1) : -14;
		break;
	case SYS_NET_RECV:
		ret = user_ok(a0, a1) ? net_recv(a0, a1) : -14;
		break;
	case SYS_NET_INFO:
		ret = net_ready();
		break;
	case SYS_HOSTILE:
		ret = virtio_hostile((int)a0, (int)a1);
		break;
	case SYS_DEV_RESET:
		ret = virtio_reset((int)a0);
		break;
	case SYS_KSPIN:
		ret = (s64)kspin(a0);
		break;
	case SYS_RAM_TOP:
		ret = (s64)ram_top;
		break;
	case SYS_RDTSC:
		ret = (s64)sys_rdtsc();
		break;
	default:
		ret = -38;
	}
	tf->rax = (u64)ret;
}
