#include "vmm/machine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/boot.h"
#include "vmm/exitcode.h"
#include "vmm/file_io.h"
#include "vmm/log.h"

/* IRQ lines for virtio-mmio windows, in placement order: free lines on a PC's 8259A. */
static const unsigned virtio_irqs[] = { 10, 11, 9, 5, 6, 7, 12, 15 };
#define MAX_IMAGE_BYTES (1ULL << 30)

/* Port 0xf4: a 32-bit write powers the guest off; 0 means success (QEMU's isa-debug-exit). */
static void debug_exit_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct machine *m = opaque;
	uint32_t v = 0;
	memcpy(&v, data, size < 4 ? size : 4);
	m->ex.poweroff_requested = 1;
	m->ex.poweroff_code = v;
}

static void debug_exit_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	memset(data, 0xff, size);
}

static const struct io_handler debug_exit_ops = { debug_exit_read, debug_exit_write };

/* Port 0x80 is the POST/delay port: writes are the guest's way of waiting; nothing there. */
static void sink_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
}

static const struct io_handler delay_port_ops = { debug_exit_read, sink_write };

static void kbd_reset(void *opaque)
{
	struct machine *m = opaque;
	m->ex.poweroff_requested = 1;
	m->ex.reset_requested = 1;
	m->ex.poweroff_code = 0;
}

/* Reads a whole file for the loader; errors name the file. */
static int slurp(const char *what, const char *path, uint8_t **buf, size_t *len, char *err,
		 size_t errlen)
{
	int fd = file_open_regular(path, O_RDONLY);
	struct stat st;
	if (fd == FILE_ERR_NOT_REGULAR) {
		snprintf(err, errlen, "%s '%s' is not a regular file", what, path);
		return -EINVAL;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot open %s '%s': %s", what, path, strerror(fd < 0 ? -fd : errno));
		if (fd >= 0)
			close(fd);
		return -ENOENT;
	}
	int r = -EINVAL;
	if (st.st_size == 0) {
		snprintf(err, errlen, "%s '%s' is empty", what, path);
		goto out;
	}
	if ((uint64_t)st.st_size > MAX_IMAGE_BYTES) {
		snprintf(err, errlen, "%s '%s' is too large (%lld bytes)", what, path, (long long)st.st_size);
		goto out;
	}
	*buf = malloc(st.st_size);
	if (!*buf) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory reading %s '%s'", what, path);
		goto out;
	}
	size_t done = 0;
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, *buf + done, st.st_size - done);
		if (n <= 0) {
			snprintf(err, errlen, "cannot read %s '%s': %s", what, path,
				 n < 0 ? strerror(errno) : "file shrank");
			free(*buf);
			*buf = NULL;
			r = -EIO;
			goto out;
		}
		done += n;
	}
	*len = done;
	r = 0;
out:
	close(fd);
	return r;
}

/*
 * What detvm puts before a Linux guest's own command line (the user's options come
 * after, so they win):
 *  console=ttyS0   the console is COM1
 *  nolapic noapic  there is no local APIC or IOAPIC: interrupts come from the 8259A
 *  lpj=1000000     calibrate_delay() would spin waiting for jiffies to move; with
 *                  interrupts delivered only at exits (sync policy) they never would
 *  panic=-1        a panic resets the machine, which ends the run, instead of
 *                  spinning with interrupts off forever
 */
#define LINUX_DEFAULTS "console=ttyS0 nolapic noapic lpj=1000000 panic=-1"
/*
 * Where the guest is shown the virtual TSC (vmm/vtsc.h):
 *  tsc_early_khz   its fixed rate: Linux reads a frequency from CPUID on Intel only and
 *                  otherwise calibrates against the PIT, which fails when every PIT and
 *                  TSC read is an exit ("Unable to calibrate against PIT")
 *  tsc=reliable    no clocksource watchdog: the only one here is jiffies, which lag the
 *                  guest clock whenever ticks come late, so it would condemn the TSC
 *                  ("skew is too large") although the TSC follows the guest clock
 */
#define LINUX_VTSC " tsc_early_khz=%llu tsc=reliable"
/*
 * Only where the host ignores the CPUID policy: keep Linux off the features the policy
 * hides (TSC, RDRAND, RDSEED, XSAVE and what needs it, RDPID, x2APIC, PCID), off the MSRs
 * vmm/msr_policy.c filters (APERF/MPERF: 124; TSC_ADJUST: 289; thermal, power and HWP:
 * 448-455), and off the
 * instructions an emulated ring 0 cannot run (POPCNT, MOVBE, AES, BMI, ...), as
 * X86_FEATURE numbers (word * 32 + bit). Measured on the nested development hosts.
 */
#define LINUX_NO_CPUID "noxsave clearcpuid=4,124,145,149,150,151,153,154,156,158,288,289,291," \
	"293,295,296,297,298,306,308,311,312,317,448,452,454,455,514,515,528,534,580"

static int build_cmdline(struct machine *m, const struct machine_config *cfg, int linux_guest,
			 unsigned nvirtio, char *err, size_t errlen)
{
	const char *user = cfg->cmdline ? cfg->cmdline : "";
	char vtsc[64] = "";
	if (m->tsc_shown)
		snprintf(vtsc, sizeof(vtsc), LINUX_VTSC, (unsigned long long)VTSC_KHZ);
	size_t len;
	if (cfg->cmdline_final || !linux_guest)
		len = snprintf(m->cmdline, sizeof(m->cmdline), "%s", user);
	else
		len = snprintf(m->cmdline, sizeof(m->cmdline), "%s%s%s%s%s", LINUX_DEFAULTS,
			       cfg->host_cpuid_ignored ? " " LINUX_NO_CPUID : "", vtsc, *user ? " " : "", user);
	if (cfg->cmdline_final)
		nvirtio = 0;	/* already in the recorded line */
	for (unsigned i = 0; i < nvirtio && len < sizeof(m->cmdline); i++)
		len += snprintf(m->cmdline + len, sizeof(m->cmdline) - len,
				"%svirtio_mmio.device=4K@0x%llx:%u", len ? " " : "",
				(unsigned long long)(MACHINE_VIRTIO_BASE + i * MACHINE_VIRTIO_STRIDE),
				virtio_irqs[i]);
	if (len >= sizeof(m->cmdline)) {
		snprintf(err, errlen, "kernel command line too long (max %zu bytes)", sizeof(m->cmdline) - 1);
		return -E2BIG;
	}
	return 0;
}

static int attach_platform(struct machine *m)
{
	int r = 0;
	pic_init(&m->pic);
	m->irq = pic_irq_sink(&m->pic);
	pit_init(&m->pit, m->io, &m->irq, MACHINE_PIT_IRQ);
	rtc_init(&m->rtc, m->io, &m->irq, MACHINE_RTC_IRQ);
	rtc_set_mem_size(&m->rtc, m->mem.size);
	uart_init(&m->com1, m->io, &m->irq, MACHINE_COM1_IRQ, 0);
	i8042_init(&m->kbd, kbd_reset, m);
	r = r ? r : pic_attach(&m->pic, &m->pio);
	r = r ? r : pit_attach(&m->pit, &m->pio);
	r = r ? r : rtc_attach(&m->rtc, &m->pio);
	r = r ? r : uart_attach(&m->com1, &m->pio, MACHINE_COM1_PORT);
	r = r ? r : i8042_attach(&m->kbd, &m->pio);
	r = r ? r : bus_register(&m->pio, MACHINE_DEBUG_EXIT_PORT, 4, &debug_exit_ops, m, "debug-exit");
	r = r ? r : bus_register(&m->pio, 0x80, 1, &delay_port_ops, m, "post");
	return r;
}

int machine_list_msrs(struct machine *m)
{
	m->nstate_msrs = VCPU_STATE_MAX_MSRS;
	return vcpu_state_msr_list(&m->kvm, m->state_msrs, &m->nstate_msrs);
}

void machine_nic_mac(unsigned i, uint8_t mac[6])
{
	/* locally administered, stable per index so a replay shows the same MAC */
	const uint8_t m[6] = { 0x52, 0x54, 0x00, 0xde, 0x7e, (uint8_t)(0x10 + i) };
	memcpy(mac, m, 6);
}

static int attach_virtio(struct machine *m, const struct machine_config *cfg, const uint64_t *disk_sizes)
{
	unsigned slot = 0;
	int r;
	for (unsigned i = 0; i < cfg->ndisks; i++, slot++) {
		uint64_t base = MACHINE_VIRTIO_BASE + slot * MACHINE_VIRTIO_STRIDE;
		r = virtio_blk_init(&m->blk[i], &m->mem, m->io, &m->irq, virtio_irqs[slot], i,
				    disk_sizes[i], cfg->disks[i].read_only);
		if (!r)
			r = virtio_blk_attach(&m->blk[i], &m->mmio, base);
		if (r)
			return r;
		m->nblk++;
	}
	for (unsigned i = 0; i < cfg->nnics; i++, slot++) {
		uint64_t base = MACHINE_VIRTIO_BASE + slot * MACHINE_VIRTIO_STRIDE;
		uint8_t mac[6];
		machine_nic_mac(i, mac);
		r = virtio_net_init(&m->net[i], &m->mem, m->io, &m->irq, virtio_irqs[slot], i, mac);
		if (!r)
			r = virtio_net_attach(&m->net[i], &m->mmio, base);
		if (r)
			return r;
		m->nnet++;
	}
	return 0;
}

const char *machine_mem_size_problem(uint64_t size)
{
	return size < (16ULL << 20)  ? "less than 16 MiB of memory"
	       : size > (64ULL << 30) ? "more than 64 GiB of memory"
	       : size % 4096	      ? "memory that is not whole pages"
				      : NULL;
}

int machine_create(struct machine *m, const struct machine_config *cfg, struct hostio *io,
		   const uint64_t *disk_sizes, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	m->io = io;
	m->max_exits = cfg->max_exits;
	m->step_rings = cfg->step_rings;
	m->step_breakpoints = cfg->step_breakpoints;
	m->kvm.sys_fd = m->kvm.vm_fd = m->kvm.vcpu_fd = -1;
	bus_init(&m->pio, "pio");
	bus_init(&m->mmio, "mmio");
	m->ex.pio = &m->pio;
	m->ex.mmio = &m->mmio;

	uint8_t *image = NULL, *initrd = NULL;
	size_t image_len = 0, initrd_len = 0;
	int code = DETVM_EXIT_USAGE;
	if (cfg->ndisks > MACHINE_MAX_DISKS || cfg->nnics > MACHINE_MAX_NICS ||
	    cfg->ndisks + cfg->nnics > sizeof(virtio_irqs) / sizeof(virtio_irqs[0])) {
		snprintf(err, errlen, "too many devices");
		return code;
	}
	if (slurp("image", cfg->image_path, &image, &image_len, err, errlen))
		return code;
	if (cfg->initrd_path && slurp("initrd", cfg->initrd_path, &initrd, &initrd_len, err, errlen))
		goto err_free;
	/* decided before the VM exists: the command line tells Linux the TSC's rate */
	m->tsc_shown = cfg->tsc_shown &&
		       (cfg->tsc == TSC_EXIT_ON || (cfg->tsc == TSC_EXIT_AUTO && kvm_tsc_exit_available()));
	if (build_cmdline(m, cfg, boot_image_is_linux(image, image_len), cfg->ndisks + cfg->nnics,
			  err, errlen))
		goto err_free;

	int r = guest_mem_init(&m->mem, cfg->mem_size);
	if (r) {
		snprintf(err, errlen, "cannot allocate %llu bytes of guest memory: %s",
			 (unsigned long long)cfg->mem_size, strerror(-r));
		code = DETVM_EXIT_HOST;
		goto err_free;
	}
	struct boot_config bc = { m->cmdline, initrd, initrd_len };
	struct boot_setup bs;
	if (boot_load(&m->mem, image, image_len, &bc, &bs, err, errlen) < 0)
		goto err_mem;

	m->track_state = cfg->track_state;
	if (m->track_state && (guest_mem_track_dirty(&m->mem) || mem_digest_init(&m->digest, &m->mem))) {
		snprintf(err, errlen, "out of memory for the state digests");
		code = DETVM_EXIT_HOST;
		goto err_mem;
	}
	if (kvm_vm_create(&m->kvm, &m->mem, m->track_state, cfg->tsc, err, errlen) < 0) {
		code = DETVM_EXIT_KVM;
		goto err_mem;
	}
	if (m->kvm.tsc_exit) {
		m->ex.tsc = &m->tsc;
		m->ex.io = io;
	}
	r = kvm_vm_set_msr_policy(&m->kvm);
	if (r) {
		snprintf(err, errlen, "this KVM cannot filter MSRs (%s): detvm needs it to keep host "
			 "time and hardware counters out of the guest", strerror(-r));
		code = DETVM_EXIT_KVM;
		goto err_kvm;
	}
	m->ncpuid = CPUID_MAX_ENTRIES;
	if (cfg->cpuid) {
		r = cfg->ncpuid <= CPUID_MAX_ENTRIES ? 0 : -E2BIG;
		m->ncpuid = cfg->ncpuid;
		if (!r)
			memcpy(m->cpuid, cfg->cpuid, cfg->ncpuid * sizeof(m->cpuid[0]));
	} else {
		r = kvm_policy_cpuid(&m->kvm, m->cpuid, &m->ncpuid,
				     m->tsc_shown && m->kvm.tsc_exit ? CPUID_EXTRA_VTSC : CPUID_EXTRA_NONE);
	}
	if (!r)
		r = kvm_vcpu_set_cpuid(&m->kvm, m->cpuid, m->ncpuid);
	if (!r)
		r = kvm_vcpu_set_boot_state(&m->kvm, &bs);
	/* after CPUID: which MSRs KVM lets the guest have depends on it (a plain run that is
	 * never saved need not ask: machine_state_save() does, once) */
	m->nstate_msrs = 0;
	if (!r && m->track_state)
		r = machine_list_msrs(m);
	/* every exit then brings the registers along: RIP and CPL checks cost no ioctl */
	m->kvm.run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	if (r) {
		snprintf(err, errlen, "cannot set up the vCPU: %s", strerror(-r));
		code = DETVM_EXIT_KVM;
		goto err_kvm;
	}
	r = attach_platform(m);
	if (!r)
		r = attach_virtio(m, cfg, disk_sizes);
	if (r) {
		snprintf(err, errlen, "cannot attach devices: %s", strerror(-r));
		code = DETVM_EXIT_HOST;
		goto err_kvm;
	}
	free(image);
	free(initrd);
	return 0;

err_kvm:
	kvm_vm_destroy(&m->kvm);
err_mem:
	mem_digest_destroy(&m->digest);
	guest_mem_destroy(&m->mem);
err_free:
	free(image);
	free(initrd);
	return code;
}

void machine_destroy(struct machine *m)
{
	for (unsigned i = 0; i < m->nnet; i++)
		virtio_net_destroy(&m->net[i]);
	kvm_vm_destroy(&m->kvm);
	mem_digest_destroy(&m->digest);
	step_shadow_destroy(&m->shadow, &m->mem);
	guest_mem_destroy(&m->mem);
	free(m->step_pages);
	m->step_pages = NULL;
	free(m->step_deltas);
	m->step_deltas = NULL;
}
