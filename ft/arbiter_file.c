/* The file: arbiter: an fcntl lock and "GENERATION HOLDER" in one file. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ft/arbiter.h"
#include "vmm/file_io.h"

struct file_arbiter {
	struct arbiter a;	/* first: the ops see this */
	int fd;			/* the one fd: closing any fd of the file would drop the lock */
	char path[4096];
};

/* What the file says; an empty file is generation 0. 0, or -errno with err saying why. */
static int read_state(struct file_arbiter *f, uint64_t *gen, char *holder, size_t len, char *err, size_t errlen)
{
	char buf[256] = "";
	ssize_t n = pread(f->fd, buf, sizeof(buf) - 1, 0);
	if (n < 0) {
		snprintf(err, errlen, "arbiter file '%s': %s", f->path, strerror(errno));
		return -errno;
	}
	buf[n] = 0;
	*gen = 0;
	holder[0] = 0;
	if (!n)
		return 0;
	char *end;
	unsigned long long g = strtoull(buf, &end, 10);
	if (end == buf || *end != ' ') {
		snprintf(err, errlen, "arbiter file '%s': not an arbiter file", f->path);
		return -EBADMSG;
	}
	*gen = g;
	snprintf(holder, len, "%.*s", (int)strcspn(end + 1, "\n"), end + 1);
	return 0;
}

static int f_generation(struct arbiter *a, uint64_t *gen, char *err, size_t errlen)
{
	struct file_arbiter *f = (struct file_arbiter *)a;
	char holder[160];
	return read_state(f, gen, holder, sizeof(holder), err, errlen);
}

static int f_claim(struct arbiter *a, uint64_t gen, char *err, size_t errlen)
{
	struct file_arbiter *f = (struct file_arbiter *)a;
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(f->fd, F_SETLK, &lk) < 0) {
		if (errno != EAGAIN && errno != EACCES) {
			snprintf(err, errlen, "cannot lock arbiter file '%s': %s", f->path, strerror(errno));
			return -errno;
		}
		uint64_t g;
		char holder[160];
		if (read_state(f, &g, holder, sizeof(holder), err, errlen))
			snprintf(holder, sizeof(holder), "?");
		snprintf(err, errlen, "arbiter file '%s' is held by a live %s (generation %" PRIu64 ")", f->path,
			 holder, g);
		return 0;
	}
	uint64_t g;
	char holder[160];
	int r = read_state(f, &g, holder, sizeof(holder), err, errlen);
	if (r)
		return r;
	if (g == gen + 1 && !strcmp(holder, a->holder))
		return 1;
	if (g != gen) {
		snprintf(err, errlen, "generation %" PRIu64 " went to %s already (the arbiter is at %" PRIu64 ")", gen + 1,
			 holder[0] ? holder : "another side", g);
		/* the lock marks a live holder: one that lost is not */
		lk.l_type = F_UNLCK;
		fcntl(f->fd, F_SETLK, &lk);
		return 0;
	}
	char line[256];
	int n = snprintf(line, sizeof(line), "%" PRIu64 " %s\n", gen + 1, a->holder);
	if (ftruncate(f->fd, 0) < 0 || file_pwrite_full(f->fd, line, (size_t)n, 0) || fsync(f->fd) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot write arbiter file '%s': %s", f->path, strerror(errno));
		return r ? r : -EIO;
	}
	return 1;
}

static void f_close(struct arbiter *a)
{
	struct file_arbiter *f = (struct file_arbiter *)a;
	close(f->fd);
	free(f);
}

static const struct arbiter_ops file_ops = { "file", f_generation, f_claim, f_close };

int arbiter_file_open(struct arbiter **out, const char *path, char *err, size_t errlen)
{
	struct file_arbiter *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (f->fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open arbiter file '%s': %s", path, strerror(e));
		free(f);
		return -e;
	}
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->a.ops = &file_ops;
	*out = &f->a;
	return 0;
}
