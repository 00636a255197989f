/*
 * The "run" implementation of hostio: the real host clock, timers checked at delivery
 * points, console input from a reader thread, disk images through pread/pwrite, network
 * frames through net/ backends. Record wraps it; replay replaces it.
 */
#ifndef DETVM_VMM_HOST_RUN_H
#define DETVM_VMM_HOST_RUN_H

#include <pthread.h>
#include <stdint.h>

#include "vmm/evq.h"
#include "vmm/hostio.h"

#define HOST_MAX_DISKS 4
#define HOST_MAX_NICS 4
#define HOST_CONSOLE_BUF 4096

struct net_backend;

struct host_run {
	struct hostio io;
	struct evq queue;		/* console input and network frames */
	uint64_t start_mono_ns;		/* CLOCK_MONOTONIC at VM start */
	int64_t start_wall_ns;		/* CLOCK_REALTIME at VM start */
	uint64_t deadline[HOSTIO_TIMERS];

	int out_fd;			/* console output */
	uint8_t out_buf[HOST_CONSOLE_BUF];
	size_t out_len;
	uint64_t out_errors;

	int in_fd;			/* console input, -1 for none */
	int stop_fd;			/* eventfd that ends the reader thread */
	pthread_t in_thread;
	int in_thread_running;

	int disk_fd[HOST_MAX_DISKS];
	uint64_t disk_size[HOST_MAX_DISKS];
	unsigned ndisks;

	struct net_backend *nic[HOST_MAX_NICS];
	struct host_nic {
		struct host_run *host;
		unsigned index;
	} nic_ctx[HOST_MAX_NICS];	/* what each backend's reader thread posts as */
	unsigned nnics;
	uint64_t net_rx_dropped;	/* frames the queue refused */
};

/* out_fd: where guest console bytes go; in_fd: where typed bytes come from (-1: none). */
int host_run_init(struct host_run *h, int out_fd, int in_fd);
/* Opens a raw disk image; returns its index or -errno (message in err). */
int host_run_add_disk(struct host_run *h, const char *path, int read_only, char *err, size_t errlen);
/* Opens a network backend from a spec (tap:IFNAME, unix:PATH); index or -errno. */
int host_run_add_nic(struct host_run *h, const char *spec, char *err, size_t errlen);
/* Starts the input threads; call once devices have subscribed. */
int host_run_start(struct host_run *h);
void host_run_flush(struct host_run *h);
/* The guest clock reads guest_ns now and runs on from there (a backup going live takes
 * over the clock its replay reached); the calendar is this host's. */
void host_run_set_clock(struct host_run *h, uint64_t guest_ns);
void host_run_destroy(struct host_run *h);

extern const struct hostio_ops host_run_ops;

#endif
