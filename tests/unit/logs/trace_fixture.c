/* Deterministic trace content shared by the logs tests (see trace_fixture.h). */
#include "trace_fixture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

uint64_t fx_position(uint64_t i)
{
	/* three events per exit, a jump every 100 events: small and large deltas */
	return i / 3 + (i / 100) * 1000;
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t k = 0; k < n; k++)
		p[k] = (uint8_t)(seed * 31 + k * 7 + (k >> 3));
}

const Detvm__Event *fx_event_make(struct fx_event *fx, uint64_t i)
{
	Detvm__Event *ev = &fx->ev;
	size_t n = (i * 37) % 600;	/* variable payload sizes, up to 599 bytes */

	detvm__event__init(ev);
	ev->rip = 0xffffffff81000000ull + i * 13;
	ev->payload_case = (Detvm__Event__PayloadCase)(3 + i % FX_KINDS);
	switch (ev->payload_case) {
	case DETVM__EVENT__PAYLOAD_EXIT:
		detvm__exit_record__init(&fx->exit);
		fx->exit.kind = (Detvm__ExitKind)(1 + i % 7);
		fx->exit.addr = i & 1 ? 0x3f8 + i % 8 : 0xd0000000ull + i;
		fx->exit.size = 1u << (i % 4);
		fx->exit.is_write = i & 1;
		if (fx->exit.is_write) {
			fill(fx->data[0], fx->exit.size, i);
			fx->exit.data.data = fx->data[0];
			fx->exit.data.len = fx->exit.size;
		}
		fx->exit.count = i % 3;
		ev->exit = &fx->exit;
		break;
	case DETVM__EVENT__PAYLOAD_CLOCK:
		detvm__clock_read__init(&fx->clock);
		fx->clock.source = (Detvm__ClockSource)(i % 6);
		fx->clock.value_ns = i * 838;
		ev->clock = &fx->clock;
		break;
	case DETVM__EVENT__PAYLOAD_WALLCLOCK:
		detvm__wallclock_read__init(&fx->wallclock);
		fx->wallclock.source = DETVM__CLOCK_SOURCE__CLOCK_RTC;
		fx->wallclock.value_ns = 1700000000000000000ll + (int64_t)i;
		ev->wallclock = &fx->wallclock;
		break;
	case DETVM__EVENT__PAYLOAD_INTERRUPT:
		detvm__interrupt__init(&fx->interrupt);
		fx->interrupt.vector = 32 + i % 16;
		fx->interrupt.irq = i % 16;
		ev->interrupt = &fx->interrupt;
		break;
	case DETVM__EVENT__PAYLOAD_TIMER:
		detvm__timer_fire__init(&fx->timer);
		fx->timer.timer = i % 2;
		fx->timer.time_ns = i * 1000000;
		ev->timer = &fx->timer;
		break;
	case DETVM__EVENT__PAYLOAD_CONSOLE:
		detvm__console_input__init(&fx->console);
		fill(fx->data[0], n % 40, i);
		fx->console.data.data = fx->data[0];
		fx->console.data.len = n % 40;
		ev->console = &fx->console;
		break;
	case DETVM__EVENT__PAYLOAD_NET_RX:
		detvm__net_rx__init(&fx->net_rx);
		fx->net_rx.nic = i % 2;
		fill(fx->data[0], n, i);
		fx->net_rx.frame.data = fx->data[0];
		fx->net_rx.frame.len = n;
		ev->net_rx = &fx->net_rx;
		break;
	case DETVM__EVENT__PAYLOAD_DISK:
		detvm__disk_completion__init(&fx->disk);
		fx->disk.disk = i % 3;
		fx->disk.request = i;
		fx->disk.status = i % 5 ? 0 : -5;
		fill(fx->data[0], n % 16, i);
		fx->disk.data.data = fx->data[0];
		fx->disk.data.len = n % 16;
		ev->disk = &fx->disk;
		break;
	case DETVM__EVENT__PAYLOAD_PIO_READ:
		detvm__pio_read__init(&fx->pio_read);
		fx->pio_read.port = 0x60 + i % 5;
		fx->pio_read.size = 1;
		fx->pio_read.value = i & 0xff;
		ev->pio_read = &fx->pio_read;
		break;
	case DETVM__EVENT__PAYLOAD_MMIO_READ:
		detvm__mmio_read__init(&fx->mmio_read);
		fx->mmio_read.addr = 0xd0000000ull + i * 4;
		fx->mmio_read.size = 4;
		fx->mmio_read.value = i * 0x01010101u;
		ev->mmio_read = &fx->mmio_read;
		break;
	case DETVM__EVENT__PAYLOAD_CHECKPOINT:
		detvm__checkpoint__init(&fx->checkpoint);
		fill(fx->data[0], 32, i);
		fill(fx->data[1], 32, ~i);
		fx->checkpoint.regs_digest.data = fx->data[0];
		fx->checkpoint.regs_digest.len = 32;
		fx->checkpoint.mem_digest.data = fx->data[1];
		fx->checkpoint.mem_digest.len = 32;
		fx->checkpoint.guest_time_ns = i * 1000;
		ev->checkpoint = &fx->checkpoint;
		break;
	case DETVM__EVENT__PAYLOAD_LANDMARK:
		detvm__landmark__init(&fx->landmark);
		fx->landmark.last_exit = fx_position(i);
		fx->landmark.rip = ev->rip;
		fill(fx->data[0], 32, i + 1);
		fill(fx->data[1], 32, i + 2);
		fx->landmark.regs_digest.data = fx->data[0];
		fx->landmark.regs_digest.len = 32;
		fx->landmark.mem_digest.data = fx->data[1];
		fx->landmark.mem_digest.len = 32;
		fx->landmark.steps = i % 1000;
		ev->landmark = &fx->landmark;
		break;
	case DETVM__EVENT__PAYLOAD_END:
	default:
		detvm__end__init(&fx->end);
		fx->end.reason = (Detvm__EndReason)(i % 6);
		snprintf(fx->text, sizeof(fx->text), "end marker %llu", (unsigned long long)i);
		fx->end.message = fx->text;
		ev->payload_case = DETVM__EVENT__PAYLOAD_END;
		ev->end = &fx->end;
		break;
	}
	return ev;
}

const Detvm__TraceHeader *fx_header_make(struct fx_header *fh)
{
	static const char *paths[] = { "/img/disk0.raw", "/img/disk1.qcow" };

	memset(fh, 0, sizeof(*fh));
	detvm__trace_header__init(&fh->hdr);
	detvm__vm_config__init(&fh->cfg);
	detvm__image_ref__init(&fh->kernel);
	detvm__image_ref__init(&fh->initrd);
	for (int k = 0; k < 3; k++)
		fill(fh->sha[k], 32, 100 + k);
	fh->kernel.path = "/boot/bzImage";
	fh->kernel.sha256.data = fh->sha[0];
	fh->kernel.sha256.len = 32;
	fh->initrd.path = "/boot/initrd.cpio";
	fh->initrd.sha256.data = fh->sha[1];
	fh->initrd.sha256.len = 32;
	for (int k = 0; k < 2; k++) {
		detvm__disk_config__init(&fh->disk[k]);
		fh->disk[k].path = (char *)paths[k];
		fh->disk[k].sha256.data = fh->sha[2];
		fh->disk[k].sha256.len = 32;
		fh->disk[k].overlay_path = k ? "/tmp/overlay1" : "";
		fh->disk[k].read_only = !k;
		fh->diskp[k] = &fh->disk[k];
	}
	detvm__nic_config__init(&fh->nic);
	fh->nic.backend = "tap:tap0";
	memcpy(fh->mac, "\x52\x54\x00\x12\x34\x56", 6);
	fh->nic.mac.data = fh->mac;
	fh->nic.mac.len = 6;
	fh->nicp[0] = &fh->nic;
	for (int k = 0; k < 4; k++) {
		detvm__cpuid_entry__init(&fh->cpuid[k]);
		fh->cpuid[k].function = k ? 0x80000000u + k : 0;
		fh->cpuid[k].index = k;
		fh->cpuid[k].flags = k & 1;
		fh->cpuid[k].eax = 0x11111111u * k;
		fh->cpuid[k].ebx = 0x756e6547;
		fh->cpuid[k].ecx = 0x6c65746e;
		fh->cpuid[k].edx = 0x49656e69;
		fh->cpuidp[k] = &fh->cpuid[k];
	}
	fh->cfg.mem_bytes = 256ull << 20;
	fh->cfg.cmdline = "console=ttyS0 nolapic noapic noxsave";
	fh->cfg.kernel = &fh->kernel;
	fh->cfg.initrd = &fh->initrd;
	fh->cfg.n_disks = 2;
	fh->cfg.disks = fh->diskp;
	fh->cfg.n_nics = 1;
	fh->cfg.nics = fh->nicp;
	fh->cfg.cpuid_policy_version = 1;
	fh->cfg.n_cpuid = 4;
	fh->cfg.cpuid = fh->cpuidp;
	fh->cfg.vcpus = 1;
	fh->hdr.detvm_version = "detvm test";
	fh->hdr.created_unix_s = 1700000000;
	fh->hdr.config = &fh->cfg;
	fh->hdr.delivery = DETVM__DELIVERY_POLICY__DELIVERY_STEP;
	fh->hdr.checkpoint_interval = 10000;
	fh->hdr.digest_version = 3;
	fh->hdr.host = "testhost";
	return &fh->hdr;
}

uint8_t *fx_pack_event(const Detvm__Event *ev, size_t *len)
{
	Detvm__Event tmp = *ev;
	uint8_t *b;

	tmp.position_delta = 0;
	*len = detvm__event__get_packed_size(&tmp);
	b = malloc(*len ? *len : 1);
	if (b)
		detvm__event__pack(&tmp, b);
	return b;
}

int fx_write_trace(const char *path, uint64_t n, size_t block_bytes, int with_footer)
{
	struct trace_writer_opts opts = { .block_bytes = block_bytes };
	Detvm__TraceFooter f = DETVM__TRACE_FOOTER__INIT;
	struct trace_writer *w;
	struct fx_header fh;
	struct fx_event fx;
	int ret;

	ret = trace_writer_open(&w, path, fx_header_make(&fh), &opts);
	if (ret)
		return ret;
	for (uint64_t i = 0; i < n; i++) {
		ret = trace_writer_append(w, fx_position(i), fx_event_make(&fx, i));
		if (ret) {
			trace_writer_discard(w);
			return ret;
		}
	}
	if (!with_footer) {
		ret = trace_writer_flush(w);
		trace_writer_discard(w);
		return ret;
	}
	f.final_position = n ? fx_position(n - 1) : 0;
	f.clean_exit = 1;
	f.reason = DETVM__END_REASON__END_GUEST_SHUTDOWN;
	f.message = "fixture done";
	return trace_writer_close(w, &f);
}

int fx_read_all(struct trace_reader *r, uint64_t *nev)
{
	struct trace_event te;
	struct fx_event fx;
	int ret;

	*nev = 0;
	while ((ret = trace_reader_next(r, &te)) == 1) {
		size_t la, lb;
		uint8_t *a, *b;
		int same;

		if (te.seq != *nev || te.position != fx_position(*nev))
			return 2;
		a = fx_pack_event(te.ev, &la);
		b = fx_pack_event(fx_event_make(&fx, *nev), &lb);
		same = a && b && la == lb && !memcmp(a, b, la);
		free(a);
		free(b);
		if (!same)
			return 2;
		(*nev)++;
	}
	return ret;
}

uint8_t *fx_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		b = malloc(n ? (size_t)n : 1);
		if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
			free(b);
			b = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return b;
}

int fx_memfd(const void *buf, size_t len)
{
	int fd = memfd_create("trace", MFD_CLOEXEC);
	const uint8_t *p = buf;

	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0) {
			close(fd);
			return -EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return fd;
}
