/*
 * snapshot_forge: copies a snapshot with its header edited as an attacker would: it says
 * the run starts from a state that came over an FT link (TRACE_START_FT_LINK) and names
 * DISK as disk 0, and its SHA-256 is made right again (it is only a self-checksum).
 * `--restore` of the copy must not open DISK (ft_wire_trust.sh).
 *
 * usage: snapshot_forge IN OUT DISK       exit 0 done, 1 error, 2 usage
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs/trace.h"
#include "replay/sha256.h"
#include "replay/trace_header.h"

static int put(FILE *f, struct sha256_ctx *c, const void *p, size_t len)
{
	sha256_update(c, p, len);
	return fwrite(p, 1, len, f) != len;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: snapshot_forge IN OUT DISK\n");
		return 2;
	}
	FILE *in = fopen(argv[1], "rb");
	static uint8_t buf[64 << 20];
	size_t len = in ? fread(buf, 1, sizeof(buf), in) : 0;
	uint32_t hlen;
	memcpy(&hlen, buf + 12, 4);
	if (!in || len < 16 + SHA256_DIGEST_LEN || hlen > len - 16 - SHA256_DIGEST_LEN) {
		fprintf(stderr, "snapshot_forge: cannot read a snapshot from %s\n", argv[1]);
		return 1;
	}
	Detvm__TraceHeader *h = detvm__trace_header__unpack(NULL, hlen, buf + 16);
	if (!h || !h->config || !h->config->n_disks) {
		fprintf(stderr, "snapshot_forge: %s has no header with a disk\n", argv[1]);
		return 1;
	}
	Detvm__ImageRef start;
	detvm__image_ref__init(&start);
	start.path = TRACE_START_FT_LINK;
	Detvm__ImageRef *was_start = h->config->start_state;
	char *was_path = h->config->disks[0]->path;
	h->config->start_state = &start;
	h->config->disks[0]->path = argv[3];
	uint32_t nlen = (uint32_t)detvm__trace_header__get_packed_size(h);
	uint8_t *nh = malloc(nlen);
	FILE *out = fopen(argv[2], "wb");
	struct sha256_ctx c;
	if (!nh || !out || sha256_init(&c)) {
		fprintf(stderr, "snapshot_forge: cannot write %s\n", argv[2]);
		return 1;
	}
	detvm__trace_header__pack(h, nh);
	/* what the unpacker allocated goes back before it frees (a clean LeakSanitizer run) */
	h->config->start_state = was_start;
	h->config->disks[0]->path = was_path;
	detvm__trace_header__free_unpacked(h, NULL);
	fclose(in);
	uint8_t digest[SHA256_DIGEST_LEN];
	int bad = put(out, &c, buf, 12) || put(out, &c, &nlen, 4) || put(out, &c, nh, nlen) ||
		  put(out, &c, buf + 16 + hlen, len - 16 - hlen - SHA256_DIGEST_LEN);
	sha256_final(&c, digest);
	bad = bad || fwrite(digest, 1, sizeof(digest), out) != sizeof(digest);
	free(nh);
	if (fclose(out) || bad) {
		fprintf(stderr, "snapshot_forge: cannot write %s\n", argv[2]);
		return 1;
	}
	return 0;
}
