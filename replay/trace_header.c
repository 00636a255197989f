#include "replay/trace_header.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "replay/sha256.h"
#include "vmm/exitcode.h"
#include "vmm/file_io.h"
#include "vmm/version.h"

static int image_ref(Detvm__ImageRef *ref, char *path_buf, uint8_t *sha, const char *path,
		     const char *what, char *err, size_t errlen)
{
	detvm__image_ref__init(ref);
	if (!realpath(path, path_buf)) {
		snprintf(err, errlen, "cannot resolve %s '%s': %s", what, path, strerror(errno));
		return -errno;
	}
	int r = sha256_file(path_buf, sha);
	if (r) {
		snprintf(err, errlen, "cannot hash %s '%s': %s", what, path, file_strerror(r));
		return r;
	}
	ref->path = path_buf;
	ref->sha256.data = sha;
	ref->sha256.len = TRACE_HEADER_SHA_LEN;
	return 0;
}

int trace_header_build(struct trace_header_buf *b, const struct machine_config *cfg,
		       const struct machine *m, const struct record_disk *disks, uint64_t checkpoint_exits,
		       char *err, size_t errlen)
{
	memset(b, 0, sizeof(*b));
	detvm__trace_header__init(&b->hdr);
	detvm__vm_config__init(&b->cfg);
	snprintf(b->version, sizeof(b->version), "detvm %s", DETVM_VERSION_STRING);
	struct utsname u;
	if (!uname(&u))
		snprintf(b->host, sizeof(b->host), "%s %s %s", u.nodename, u.sysname, u.release);
	b->hdr.detvm_version = b->version;
	b->hdr.host = b->host;
	b->hdr.created_unix_s = (uint64_t)time(NULL);
	b->hdr.delivery = m->step_rings ? DETVM__DELIVERY_POLICY__DELIVERY_STEP
					: DETVM__DELIVERY_POLICY__DELIVERY_SYNC;
	b->hdr.checkpoint_interval = checkpoint_exits;
	b->hdr.digest_version = DIGEST_VERSION;
	b->hdr.config = &b->cfg;

	b->cfg.mem_bytes = cfg->mem_size;
	/* the line the guest got, defaults and virtio windows included: replay uses it as is */
	b->cfg.cmdline = (char *)m->cmdline;
	b->cfg.vcpus = 1;
	b->cfg.cpuid_policy_version = CPUID_POLICY_VERSION;
	b->cfg.tsc_khz = m->kvm.tsc_exit ? VTSC_KHZ : 0;
	int r = image_ref(&b->kernel, b->kernel_path, b->kernel_sha, cfg->image_path, "image", err, errlen);
	if (r)
		return r;
	b->cfg.kernel = &b->kernel;
	if (cfg->initrd_path) {
		r = image_ref(&b->initrd, b->initrd_path, b->initrd_sha, cfg->initrd_path, "initrd", err, errlen);
		if (r)
			return r;
		b->cfg.initrd = &b->initrd;
	}
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		Detvm__DiskConfig *d = &b->disk[i];
		detvm__disk_config__init(d);
		if (!realpath(cfg->disks[i].path, b->disk_path[i]))
			snprintf(b->disk_path[i], sizeof(b->disk_path[i]), "%s", cfg->disks[i].path);
		d->path = b->disk_path[i];
		d->sha256.data = (uint8_t *)disks[i].sha256;
		d->sha256.len = TRACE_HEADER_SHA_LEN;
		/* the snapshot sits beside the trace: store its name, not where the trace was */
		d->overlay_path = (char *)strrchr(disks[i].snapshot, '/');
		d->overlay_path = d->overlay_path ? d->overlay_path + 1 : (char *)disks[i].snapshot;
		d->read_only = cfg->disks[i].read_only;
		b->disk_ptr[i] = d;
	}
	b->cfg.n_disks = cfg->ndisks;
	b->cfg.disks = b->disk_ptr;
	for (unsigned i = 0; i < cfg->nnics; i++) {
		Detvm__NicConfig *n = &b->nic[i];
		detvm__nic_config__init(n);
		n->backend = (char *)cfg->nics[i];
		machine_nic_mac(i, b->mac[i]);
		n->mac.data = b->mac[i];
		n->mac.len = 6;
		b->nic_ptr[i] = n;
	}
	b->cfg.n_nics = cfg->nnics;
	b->cfg.nics = b->nic_ptr;
	for (unsigned i = 0; i < m->ncpuid; i++) {
		Detvm__CpuidEntry *c = &b->cpuid[i];
		const struct kvm_cpuid_entry2 *e = &m->cpuid[i];
		detvm__cpuid_entry__init(c);
		c->function = e->function;
		c->index = e->index;
		c->flags = e->flags;
		c->eax = e->eax;
		c->ebx = e->ebx;
		c->ecx = e->ecx;
		c->edx = e->edx;
		b->cpuid_ptr[i] = c;
	}
	b->cfg.n_cpuid = m->ncpuid;
	b->cfg.cpuid = b->cpuid_ptr;
	return 0;
}

int trace_header_set_start(struct trace_header_buf *b, const char *path, char *err, size_t errlen)
{
	if (!realpath(path, b->start_path)) {
		snprintf(err, errlen, "cannot resolve snapshot '%s': %s", path, strerror(errno));
		return -errno;
	}
	int r = sha256_file(b->start_path, b->start_sha);
	if (r) {
		snprintf(err, errlen, "cannot hash snapshot '%s': %s", path, file_strerror(r));
		return r;
	}
	detvm__image_ref__init(&b->start);
	b->start.path = b->start_path;
	b->start.sha256.data = b->start_sha;
	b->start.sha256.len = TRACE_HEADER_SHA_LEN;
	b->cfg.start_state = &b->start;
	return 0;
}

void trace_header_set_start_link(struct trace_header_buf *b)
{
	detvm__image_ref__init(&b->start);
	snprintf(b->start_path, sizeof(b->start_path), "%s", TRACE_START_FT_LINK);
	b->start.path = b->start_path;
	b->cfg.start_state = &b->start;
}

static int check_file(const char *what, const char *path, const ProtobufCBinaryData *want, char *err,
		      size_t errlen)
{
	uint8_t got[TRACE_HEADER_SHA_LEN];
	int r = sha256_file(path, got);
	if (r) {
		snprintf(err, errlen, "the trace needs %s '%s': %s", what, path, file_strerror(r));
		return DETVM_EXIT_MISMATCH;
	}
	if (want->len != TRACE_HEADER_SHA_LEN || memcmp(want->data, got, TRACE_HEADER_SHA_LEN)) {
		char now[65], then[65] = "(none)";
		sha256_hex(got, now);
		if (want->len == TRACE_HEADER_SHA_LEN)
			sha256_hex(want->data, then);
		snprintf(err, errlen, "%s '%s' has changed since it was recorded (sha256 %.16s... then, %.16s... now): refusing to replay",
			 what, path, then, now);
		return DETVM_EXIT_MISMATCH;
	}
	return 0;
}

void trace_header_set_chaos(struct trace_header_buf *b, uint64_t seed, uint32_t max_delay, uint32_t max_pause_us)
{
	detvm__chaos_config__init(&b->chaos);
	b->chaos.seed = seed;
	b->chaos.max_delay = max_delay;
	b->chaos.max_pause_us = max_pause_us;
	b->hdr.chaos = &b->chaos;
}

int trace_header_to_setup(const Detvm__TraceHeader *h, const char *trace_path, const struct machine_config *shared,
			  struct replay_setup *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	const Detvm__VmConfig *c = h->config;
	if (!c || !c->kernel || !c->kernel->path || !*c->kernel->path) {
		snprintf(err, errlen, "the trace header names no VM configuration or kernel image");
		return DETVM_EXIT_TRACE;
	}
	if (h->delivery != DETVM__DELIVERY_POLICY__DELIVERY_SYNC &&
	    h->delivery != DETVM__DELIVERY_POLICY__DELIVERY_STEP) {
		snprintf(err, errlen, "the trace uses delivery policy %d, which this detvm cannot replay", h->delivery);
		return DETVM_EXIT_TRACE;
	}
	if (h->digest_version != DIGEST_VERSION) {
		snprintf(err, errlen,
			 "the trace's state digests are version %u, this detvm computes version %u: replay it with the detvm that recorded it (%s)",
			 h->digest_version, DIGEST_VERSION, h->detvm_version && *h->detvm_version ? h->detvm_version : "unknown");
		return DETVM_EXIT_TRACE;
	}
	const char *cannot = c->vcpus > 1			    ? "more than one vCPU"
			     : c->n_disks > MACHINE_MAX_DISKS	    ? "too many disks"
			     : c->n_nics > MACHINE_MAX_NICS	    ? "too many NICs"
			     : c->n_cpuid > CPUID_MAX_ENTRIES	    ? "too many CPUID entries"
			     : c->tsc_khz && c->tsc_khz != VTSC_KHZ ? "a virtual TSC of another frequency"
								    : machine_mem_size_problem(c->mem_bytes);
	if (cannot) {
		snprintf(err, errlen, "the trace header describes a VM this detvm cannot build: %s", cannot);
		return DETVM_EXIT_TRACE;
	}
	if (h->chaos) {
		s->chaos = 1;
		s->chaos_seed = h->chaos->seed;
		s->chaos_max = h->chaos->max_delay;
	}
	snprintf(s->image, sizeof(s->image), "%s", c->kernel->path);
	int r = check_file("image", s->image, &c->kernel->sha256, err, errlen);
	if (r)
		return r;
	s->cfg.image_path = s->image;
	if (c->initrd && c->initrd->path && *c->initrd->path) {
		snprintf(s->initrd, sizeof(s->initrd), "%s", c->initrd->path);
		r = check_file("initrd", s->initrd, &c->initrd->sha256, err, errlen);
		if (r)
			return r;
		s->cfg.initrd_path = s->initrd;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", trace_path);
	const char *tdir = dirname(dir);
	s->start_from_link = c->start_state && c->start_state->path && !strcmp(c->start_state->path, TRACE_START_FT_LINK);
	if (s->start_from_link && !shared) {
		snprintf(err, errlen, "the run starts from a state an FT backup received over its link, which is in no "
				      "file: replay the primary's trace from its start");
		return DETVM_EXIT_TRACE;
	}
	if (s->start_from_link && shared->ndisks != c->n_disks) {
		snprintf(err, errlen, "the primary's VM has %zu disks, this backup was given %u (--disk)", c->n_disks,
			 shared->ndisks);
		return DETVM_EXIT_MISMATCH;
	}
	for (size_t i = 0; i < c->n_disks; i++) {
		const Detvm__DiskConfig *d = c->disks[i];
		if (s->start_from_link) {
			snprintf(s->disk_snapshot[i], sizeof(s->disk_snapshot[i]), "%s", shared->disks[i].path);
			s->cfg.disks[i] = (struct machine_disk){ s->disk_snapshot[i], shared->disks[i].read_only };
			continue;
		}
		if (!d->overlay_path || !*d->overlay_path || strchr(d->overlay_path, '/')) {
			snprintf(err, errlen, "the trace names no usable snapshot for disk %zu", i);
			return DETVM_EXIT_TRACE;
		}
		snprintf(s->disk_snapshot[i], sizeof(s->disk_snapshot[i]), "%s/%s", tdir, d->overlay_path);
		r = check_file("disk snapshot", s->disk_snapshot[i], &d->sha256, err, errlen);
		if (r)
			return r;
		s->cfg.disks[i] = (struct machine_disk){ s->disk_snapshot[i], d->read_only };
	}
	s->cfg.ndisks = c->n_disks;
	if (!s->start_from_link && c->start_state && c->start_state->path && *c->start_state->path) {
		const char *p = c->start_state->path;
		snprintf(s->start_state, sizeof(s->start_state), "%s%s%s", p[0] == '/' ? "" : tdir, p[0] == '/' ? "" : "/", p);
		r = check_file("snapshot", s->start_state, &c->start_state->sha256, err, errlen);
		if (r)
			return r;
	}
	for (size_t i = 0; i < c->n_nics; i++)
		s->nic_spec[i] = c->nics[i]->backend ? c->nics[i]->backend : "";
	memcpy(s->cfg.nics, s->nic_spec, sizeof(s->nic_spec));
	s->cfg.nnics = c->n_nics;
	for (size_t i = 0; i < c->n_cpuid; i++) {
		const Detvm__CpuidEntry *e = c->cpuid[i];
		s->cpuid[i] = (struct kvm_cpuid_entry2){ .function = e->function, .index = e->index,
							 .flags = e->flags, .eax = e->eax, .ebx = e->ebx,
							 .ecx = e->ecx, .edx = e->edx };
	}
	s->cfg.cpuid = s->cpuid;
	s->cfg.ncpuid = c->n_cpuid;
	s->cfg.mem_size = c->mem_bytes;
	s->cfg.cmdline = c->cmdline;
	s->cfg.cmdline_final = 1;
	s->cfg.track_state = 1;
	s->cfg.tsc = c->tsc_khz ? TSC_EXIT_ON : TSC_EXIT_OFF;
	return 0;
}

/* The copy of a disk's starting content that replay will start from. */
int record_disk_copy(const char *src, const char *dst, struct record_disk *d, char *err, size_t errlen)
{
	int out = file_create_private(dst);
	if (out < 0) {
		snprintf(err, errlen, "cannot create disk snapshot '%s': %s", dst, file_strerror(out));
		return out;
	}
	off_t n = file_copy_sparse(src, out, err, errlen);
	close(out);
	if (n < 0)
		return -EIO;
	snprintf(d->snapshot, sizeof(d->snapshot), "%s", dst);
	int r = sha256_file(dst, d->sha256);
	if (r)
		snprintf(err, errlen, "cannot hash disk snapshot '%s': %s", dst, strerror(-r));
	return r;
}
