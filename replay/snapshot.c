#include "replay/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay/sha256.h"
#include "replay/trace_header.h"
#include "vmm/exitcode.h"
#include "vmm/file_io.h"

static const char magic[8] = { 'D', 'E', 'T', 'V', 'M', 'S', 'N', 'P' };
#define CHUNK_PAGES 256
#define CHUNK_BYTES (CHUNK_PAGES * GUEST_PAGE_SIZE)
#define CHUNK_END UINT64_MAX

/* A file written through a buffer, hashed as it goes. */
struct snap_out {
	int fd;
	struct sha256_ctx sha;
	struct state_out buf;
	uint64_t bytes;
	int err;
};

static void out_flush(struct snap_out *w)
{
	if (!w->err && w->buf.err)
		w->err = w->buf.err;
	if (!w->err && w->buf.len)
		w->err = file_write_full(w->fd, w->buf.buf, w->buf.len);
	sha256_update(&w->sha, w->buf.buf, w->buf.len);
	w->bytes += w->buf.len;
	w->buf.len = 0;
}

static void out_put(struct snap_out *w, const void *p, size_t len)
{
	state_put(&w->buf, p, len);
	if (w->buf.len >= (4u << 20))
		out_flush(w);
}

static int page_is_zero(const uint8_t *p)
{
	static const uint8_t zeros[GUEST_PAGE_SIZE];
	return !memcmp(p, zeros, GUEST_PAGE_SIZE);
}

/* Memory in chunks; pages never touched are not even read (mincore). */
static void put_memory(struct snap_out *w, const struct guest_mem *mem, uint64_t *stored)
{
	uint64_t pages = mem->size / GUEST_PAGE_SIZE;
	char *packed = malloc(CHUNK_BYTES);
	char *lz = malloc((size_t)LZ4_compressBound(CHUNK_BYTES));
	unsigned char vec[CHUNK_PAGES];
	if (!packed || !lz)
		w->err = -ENOMEM;
	for (uint64_t c = 0; !w->err && c * CHUNK_PAGES < pages; c++) {
		uint64_t first = c * CHUNK_PAGES, n = pages - first < CHUNK_PAGES ? pages - first : CHUNK_PAGES;
		const uint8_t *base = mem->base + first * GUEST_PAGE_SIZE;
		if (mincore((void *)base, n * GUEST_PAGE_SIZE, vec) < 0)
			memset(vec, 1, sizeof(vec));
		uint64_t map[CHUNK_PAGES / 64] = { 0 };
		size_t len = 0;
		for (uint64_t i = 0; i < n; i++) {
			const uint8_t *pg = base + i * GUEST_PAGE_SIZE;
			if (!(vec[i] & 1) || page_is_zero(pg))
				continue;
			map[i / 64] |= 1ULL << (i % 64);
			memcpy(packed + len, pg, GUEST_PAGE_SIZE);
			len += GUEST_PAGE_SIZE;
			(*stored)++;
		}
		if (!len)
			continue;
		int z = LZ4_compress_default(packed, lz, (int)len, LZ4_compressBound(CHUNK_BYTES));
		uint32_t zlen = (uint32_t)z;
		out_put(w, &c, sizeof(c));
		out_put(w, map, sizeof(map));
		out_put(w, &zlen, sizeof(zlen));
		out_put(w, lz, zlen);
	}
	uint64_t end = CHUNK_END;
	out_put(w, &end, sizeof(end));
	free(packed);
	free(lz);
}

/* The disks as they are now, copied beside the snapshot, named in its header. */
static int build_header(const char *path, struct machine *m, const struct machine_config *cfg,
			struct trace_header_buf *hb, char *err, size_t errlen)
{
	static struct record_disk disks[MACHINE_MAX_DISKS];
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		char dst[4096];
		snprintf(dst, sizeof(dst), "%s.disk%u", path, i);
		int r = record_disk_copy(cfg->disks[i].path, dst, &disks[i], err, errlen);
		if (r)
			return r;
	}
	return trace_header_build(hb, cfg, m, disks, 0, err, errlen) ? -EINVAL : 0;
}

int snapshot_save(const char *path, struct machine *m, const struct machine_config *cfg, uint64_t clock_ns,
		  struct snapshot_info *info, char *err, size_t errlen)
{
	static struct trace_header_buf hb;
	memset(info, 0, sizeof(*info));
	info->exits = m->stats.exits;
	struct state_out st;
	state_out_init(&st);
	int r = machine_state_save(m, clock_ns, &st, err, errlen);
	if (!r)
		r = build_header(path, m, cfg, &hb, err, errlen);
	if (r) {
		state_out_free(&st);
		return r;
	}
	char tmp[4200];
	struct snap_out w = { .fd = file_create_temp(path, tmp, sizeof(tmp)) };
	if (w.fd < 0 || sha256_init(&w.sha)) {
		r = w.fd < 0 ? w.fd : -ENOMEM;
		snprintf(err, errlen, "cannot create snapshot '%s': %s", path, strerror(-r));
		if (w.fd >= 0)
			close(w.fd);
		state_out_free(&st);
		return r;
	}
	state_out_init(&w.buf);
	uint32_t version = SNAPSHOT_FORMAT_VERSION, hlen = (uint32_t)detvm__trace_header__get_packed_size(&hb.hdr);
	uint8_t *h = malloc(hlen ? hlen : 1);
	if (!h)
		w.err = -ENOMEM;
	else
		detvm__trace_header__pack(&hb.hdr, h);
	uint64_t slen = st.len;
	out_put(&w, magic, sizeof(magic));
	out_put(&w, &version, sizeof(version));
	out_put(&w, &hlen, sizeof(hlen));
	out_put(&w, h, h ? hlen : 0);
	out_put(&w, &slen, sizeof(slen));
	out_put(&w, st.buf, st.len);
	put_memory(&w, &m->mem, &info->pages);
	out_flush(&w);
	uint8_t digest[SHA256_DIGEST_LEN];
	sha256_final(&w.sha, digest);
	if (!w.err)
		w.err = file_write_full(w.fd, digest, sizeof(digest));
	if (!w.err && fdatasync(w.fd) < 0)
		w.err = -errno;
	info->bytes = w.bytes + sizeof(digest);
	close(w.fd);
	free(h);
	state_out_free(&w.buf);
	state_out_free(&st);
	if (!w.err && rename(tmp, path) < 0)
		w.err = -errno;
	if (w.err) {
		unlink(tmp);
		snprintf(err, errlen, "cannot write snapshot '%s': %s", path, strerror(-w.err));
	}
	return w.err;
}

static int damaged(const char *path, const char *why, char *err, size_t errlen)
{
	snprintf(err, errlen, "'%s' is not a usable detvm snapshot: %s", path, why);
	return DETVM_EXIT_TRACE;
}

int snapshot_open(struct snapshot *s, const char *path, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	int fd = file_open_regular(path, O_RDONLY);
	struct stat stt;
	if (fd < 0 || fstat(fd, &stt) < 0) {
		snprintf(err, errlen, "cannot open snapshot '%s': %s", path, file_strerror(fd < 0 ? fd : -errno));
		if (fd >= 0)
			close(fd);
		return DETVM_EXIT_USAGE;
	}
	size_t fixed = sizeof(magic) + 2 * sizeof(uint32_t) + SHA256_DIGEST_LEN;
	if ((size_t)stt.st_size < fixed) {
		close(fd);
		return damaged(path, "too short (truncated?)", err, errlen);
	}
	s->len = (size_t)stt.st_size;
	s->map = mmap(NULL, s->len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (s->map == MAP_FAILED) {
		s->map = NULL;
		snprintf(err, errlen, "cannot read snapshot '%s': %s", path, strerror(errno));
		return DETVM_EXIT_HOST;
	}
	if (memcmp(s->map, magic, sizeof(magic)))
		return damaged(path, "no snapshot magic", err, errlen);
	uint32_t version, hlen;
	memcpy(&version, s->map + 8, 4);
	memcpy(&hlen, s->map + 12, 4);
	if (version != SNAPSHOT_FORMAT_VERSION) {
		char why[96];
		snprintf(why, sizeof(why), "format version %u, this detvm reads %u", version, SNAPSHOT_FORMAT_VERSION);
		return damaged(path, why, err, errlen);
	}
	struct sha256_ctx c;
	uint8_t digest[SHA256_DIGEST_LEN];
	if (sha256_init(&c))
		return damaged(path, "out of memory", err, errlen);
	sha256_update(&c, s->map, s->len - SHA256_DIGEST_LEN);
	sha256_final(&c, digest);
	if (memcmp(digest, s->map + s->len - SHA256_DIGEST_LEN, SHA256_DIGEST_LEN))
		return damaged(path, "its SHA-256 does not match (truncated or damaged)", err, errlen);
	memcpy(s->sha256, digest, sizeof(digest));
	size_t body = s->len - SHA256_DIGEST_LEN, pos = 16;
	uint64_t slen;
	if (hlen > body - pos || body - pos - hlen < sizeof(slen))
		return damaged(path, "a header longer than the file", err, errlen);
	/* a header of empty repeated records would unpack to ~50x its bytes */
	struct trace_unpack_budget budget;
	s->hdr = detvm__trace_header__unpack(trace_unpack_budget(&budget, hlen), hlen, s->map + pos);
	if (!s->hdr && budget.over)
		return damaged(path, "its configuration unpacks to more memory than any snapshot's",
			       err, errlen);
	if (!s->hdr || !s->hdr->config)
		return damaged(path, "its configuration does not decode", err, errlen);
	pos += hlen;
	memcpy(&slen, s->map + pos, sizeof(slen));
	pos += sizeof(slen);
	if (slen > body - pos)
		return damaged(path, "a state longer than the file", err, errlen);
	s->state = s->map + pos;
	s->state_len = (size_t)slen;
	s->mem = s->state + slen;
	s->mem_len = body - pos - (size_t)slen;
	return 0;
}

static int load_memory(const struct snapshot *s, struct guest_mem *mem, char *err, size_t errlen)
{
	uint64_t pages = mem->size / GUEST_PAGE_SIZE;
	char *packed = malloc(CHUNK_BYTES);
	struct state_in in;
	state_in_init(&in, s->mem, s->mem_len);
	int r = packed ? 0 : -ENOMEM;
	while (!r) {
		uint64_t c = state_get_u64(&in), map[CHUNK_PAGES / 64];
		if (in.err || c == CHUNK_END)
			break;
		state_get(&in, map, sizeof(map));
		uint32_t zlen = state_get_u32(&in);
		unsigned n = 0;
		for (unsigned i = 0; i < CHUNK_PAGES / 64; i++)
			n += (unsigned)__builtin_popcountll(map[i]);
		if (in.err || c >= (pages + CHUNK_PAGES - 1) / CHUNK_PAGES || zlen > in.len - in.pos ||
		    LZ4_decompress_safe((const char *)in.p + in.pos, packed, (int)zlen, CHUNK_BYTES) !=
			    (int)(n * GUEST_PAGE_SIZE)) {
			r = -EINVAL;
			break;
		}
		in.pos += zlen;
		size_t at = 0;
		for (unsigned i = 0; i < CHUNK_PAGES && !r; i++) {
			if (!(map[i / 64] >> (i % 64) & 1))
				continue;
			if (c * CHUNK_PAGES + i >= pages) {
				r = -EINVAL;
				break;
			}
			memcpy(mem->base + (c * CHUNK_PAGES + i) * GUEST_PAGE_SIZE, packed + at, GUEST_PAGE_SIZE);
			at += GUEST_PAGE_SIZE;
		}
	}
	if (!r && (in.err || in.pos != in.len))
		r = -EINVAL;
	free(packed);
	if (r)
		snprintf(err, errlen, "the snapshot's memory does not fit this machine or is damaged");
	return r;
}

int snapshot_apply(const struct snapshot *s, struct machine *m, struct machine_saved *saved, char *err,
		   size_t errlen)
{
	machine_mem_clear(m);
	int r = load_memory(s, &m->mem, err, errlen);
	if (r)
		return r;
	struct state_in in;
	state_in_init(&in, s->state, s->state_len);
	return machine_state_load(m, &in, saved, err, errlen);
}

void snapshot_close(struct snapshot *s)
{
	if (s->hdr)
		detvm__trace_header__free_unpacked(s->hdr, NULL);
	if (s->map)
		munmap(s->map, s->len);
	memset(s, 0, sizeof(*s));
}
