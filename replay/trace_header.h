/*
 * The trace header is the whole VM configuration: replay rebuilds the machine from it
 * (plus the files it names, checked by SHA-256), never from its own command line.
 */
#ifndef DETVM_REPLAY_TRACE_HEADER_H
#define DETVM_REPLAY_TRACE_HEADER_H

#include "logs/trace.h"
#include "vmm/machine.h"

#define TRACE_HEADER_SHA_LEN 32

/* What record adds to the run configuration: where each disk's starting state is kept. */
struct record_disk {
	char snapshot[4096];		/* path of the copy beside the trace */
	uint8_t sha256[TRACE_HEADER_SHA_LEN];
};

/* Copies disk image src to the new file dst (sparse where src is) and fills d: the copy
 * a recording or a snapshot starts from. 0 or -errno, err one line. */
int record_disk_copy(const char *src, const char *dst, struct record_disk *d, char *err, size_t errlen);

/* Everything a header points into, so one free releases it. */
struct trace_header_buf {
	Detvm__TraceHeader hdr;
	Detvm__VmConfig cfg;
	Detvm__ImageRef kernel, initrd;
	Detvm__DiskConfig disk[MACHINE_MAX_DISKS], *disk_ptr[MACHINE_MAX_DISKS];
	Detvm__NicConfig nic[MACHINE_MAX_NICS], *nic_ptr[MACHINE_MAX_NICS];
	uint8_t mac[MACHINE_MAX_NICS][6];
	Detvm__CpuidEntry cpuid[CPUID_MAX_ENTRIES], *cpuid_ptr[CPUID_MAX_ENTRIES];
	uint8_t kernel_sha[TRACE_HEADER_SHA_LEN], initrd_sha[TRACE_HEADER_SHA_LEN];
	char kernel_path[4096], initrd_path[4096], disk_path[MACHINE_MAX_DISKS][4096];
	char version[64], host[256];
	Detvm__ImageRef start;
	char start_path[4096];
	uint8_t start_sha[TRACE_HEADER_SHA_LEN];
	Detvm__ChaosConfig chaos;
};

/* Fills b from the configuration and the machine built from it. err gets one line. */
int trace_header_build(struct trace_header_buf *b, const struct machine_config *cfg,
		       const struct machine *m, const struct record_disk *disks, uint64_t checkpoint_exits,
		       char *err, size_t errlen);

/* A start state that came over the FT link before the trace (ft/protect.h): the backup
 * holds it, and the disks' snapshots are the shared disks themselves, which the backup
 * copies before it acknowledges anything (no output of the trace's reached them yet). */
#define TRACE_START_FT_LINK "ft-link"
void trace_header_set_start_link(struct trace_header_buf *b);

/* The run starts from the snapshot at path, not from a boot: the header names it (by
 * absolute path) with its SHA-256. 0, or -errno with err holding one line. */
int trace_header_set_start(struct trace_header_buf *b, const char *path, char *err, size_t errlen);
/* Marks the trace a chaos recording (after trace_header_build). */
void trace_header_set_chaos(struct trace_header_buf *b, uint64_t seed, uint32_t max_delay, uint32_t max_pause_us);

/* What replay needs from a header, with file paths resolved and checked. */
struct replay_setup {
	struct machine_config cfg;
	char image[4096], initrd[4096];
	char disk_snapshot[MACHINE_MAX_DISKS][4096];
	const char *nic_spec[MACHINE_MAX_NICS];
	struct kvm_cpuid_entry2 cpuid[CPUID_MAX_ENTRIES];
	char start_state[4096];		/* the snapshot to load first; "" to boot */
	int start_from_link;		/* the state came over the FT link (TRACE_START_FT_LINK) */
	int chaos;			/* a chaos recording: follow its Interrupt events */
	uint64_t chaos_seed;
	uint32_t chaos_max;
};

/* Checks the header and the files it names. Returns 0, or a detvm exit code after
 * writing one line into err (a changed image is DETVM_EXIT_MISMATCH). A trace that starts
 * from the FT link replays from the shared disks themselves: shared names them (the
 * backup's own --disk), never the header's absolute paths, which came over the link (or
 * from a file anyone can write); shared NULL refuses such a trace (DETVM_EXIT_TRACE). */
int trace_header_to_setup(const Detvm__TraceHeader *h, const char *trace_path, const struct machine_config *shared,
			  struct replay_setup *s, char *err, size_t errlen);

#endif
