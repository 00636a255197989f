// SPDX-License-Identifier: MIT
/*
 * Legacy PC devices: COM1 (16550A), the 8259A pair, the 8254 PIT, the CMOS
 * RTC, the LAPIC's virtual-wire set-up, and power-off through port 0xf4.
 */
#include "kernel.h"

#define COM1		0x3f8
#define LSR_THRE	0x20

void uart_init(void)
{
	outb(COM1 + 1, 0x00);	/* no UART interrupts: output is polled */
	outb(COM1 + 3, 0x80);	/* DLAB */
	outb(COM1 + 0, 0x01);	/* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);	/* 8N1 */
	outb(COM1 + 2, 0x07);	/* FIFO on, cleared */
	outb(COM1 + 4, 0x03);	/* DTR, RTS */
}

static void uart_putc(char c)
{
	/* Bounded: a UART that never drains must not hang the kernel. */
	for (int i = 0; i < 1000 && !(inb(COM1 + 5) & LSR_THRE); i++)
		;
	outb(COM1, (u8)c);
}

void kwrite(const char *s, u64 len)
{
	for (u64 i = 0; i < len; i++)
		uart_putc(s[i]);
}

void kputs(const char *s)
{
	while (*s)
		uart_putc(*s++);
}

void kputhex(u64 v)
{
	char buf[18];
	int n = 0;

	buf[n++] = '0';
	buf[n++] = 'x';
	for (int sh = 60; sh >= 0; sh -= 4) {
		int d = (v >> sh) & 0xf;

		if (d || n > 2 || sh == 0)
			buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
	}
	kwrite(buf, n);
}

/* 8259A pair remapped to 0x20/0x28; everything masked but the cascade. */
static u8 pic_mask[2] = { 0xfb, 0xff };

void pic_init(void)
{
	outb(0x20, 0x11);		/* ICW1: edge, cascade, ICW4 */
	outb(0xa0, 0x11);
	outb(0x21, IRQ_BASE);		/* ICW2: vector base */
	outb(0xa1, IRQ_BASE + 8);
	outb(0x21, 0x04);		/* ICW3: slave on IRQ2 */
	outb(0xa1, 0x02);
	outb(0x21, 0x01);		/* ICW4: 8086 mode, normal EOI */
	outb(0xa1, 0x01);
	outb(0x21, pic_mask[0]);
	outb(0xa1, pic_mask[1]);
}

void pic_unmask(int irq)
{
	int chip = irq >> 3;

	pic_mask[chip] &= (u8)~(1u << (irq & 7));
	outb(chip ? 0xa1 : 0x21, pic_mask[chip]);
}

void pic_eoi(int irq)
{
	if (irq >= 8)
		outb(0xa0, 0x20);
	outb(0x20, 0x20);
}

/* Channel 0, mode 2 (rate generator), at hz ticks per second (hz= on the command line). */
#define PIT_HZ		1193182

void pit_init(u32 hz)
{
	u32 div = (PIT_HZ + hz / 2) / hz;

	outb(0x43, 0x34);
	outb(0x40, div & 0xff);
	outb(0x40, div >> 8);
}

/*
 * Under KVM's in-kernel irqchip (QEMU) the 8259A reaches the CPU only through
 * LVT0 in ExtINT mode.  detvm has no LAPIC: these writes hit no device there
 * and are ignored, so one image serves both.
 */
#define LAPIC_BASE	0xfee00000UL

void lapic_virtual_wire(void)
{
	mmio_write32(LAPIC_BASE + 0xf0, 0x1ff);		/* SVR: enable, vector 0xff */
	mmio_write32(LAPIC_BASE + 0x350, 0x700);	/* LVT0: ExtINT, unmasked */
	mmio_write32(LAPIC_BASE + 0x360, 0x400);	/* LVT1: NMI */
}

static u8 cmos_read(u8 reg)
{
	outb(0x70, reg);	/* bit 7 clear: NMI stays enabled */
	return inb(0x71);
}

void rtc_read(struct guest_rtc *r)
{
	/* Wait (bounded) for no update in progress so the fields are coherent. */
	for (int i = 0; i < 1000 && (cmos_read(0x0a) & 0x80); i++)
		;
	r->sec = cmos_read(0x00);
	r->min = cmos_read(0x02);
	r->hour = cmos_read(0x04);
	r->wday = cmos_read(0x06);
	r->mday = cmos_read(0x07);
	r->mon = cmos_read(0x08);
	r->year = cmos_read(0x09);
	r->century = cmos_read(0x32);
	r->reg_a = cmos_read(0x0a);
	r->reg_b = cmos_read(0x0b);
	r->reg_d = cmos_read(0x0d);
}

void poweroff(u32 code)
{
	outl(0xf4, code);
	for (;;)
		__asm__ __volatile__("cli; hlt");
}

/* One string instruction each: cheap under the ring-0 emulator. */
void *memcpy(void *dst, const void *src, u64 n)
{
	void *d = dst;

	__asm__ __volatile__("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memset(void *dst, int c, u64 n)
{
	void *d = dst;

	__asm__ __volatile__("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}
