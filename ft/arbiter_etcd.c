/*
 * The etcd:// arbiter: etcd v3's JSON gateway over HTTP (libcurl). The claim is one
 * transaction guarded by KEY/generation's mod_revision, so two sides that read the same
 * generation cannot both win; KEY/live names the winner under a lease that a thread
 * keeps alive while this process lives.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ft/arbiter.h"

#define LEASE_TTL_S 5
#define REPLY_MAX 65536

struct etcd_arbiter {
	struct arbiter a;	/* first: the ops see this */
	char endpoint[256], key_gen[512], key_live[512];
	char lease[32];		/* the winner's lease id, "" before */
	pthread_t keeper;
	int keeping;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

struct reply {
	char buf[REPLY_MAX];
	size_t len;
};

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
	struct reply *r = ctx;
	size_t take = size * n;
	if (take > sizeof(r->buf) - 1 - r->len)
		take = sizeof(r->buf) - 1 - r->len;
	memcpy(r->buf + r->len, data, take);
	r->len += take;
	r->buf[r->len] = 0;
	return size * n;
}

/* POSTs body to endpoint/v3/PATH: 0 with the reply, or -EHOSTUNREACH (err says why). */
static int post(struct etcd_arbiter *e, const char *path, const char *body, struct reply *out, char *err,
		size_t errlen)
{
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(err, errlen, "cannot start libcurl");
		return -ENOMEM;
	}
	char url[512];
	snprintf(url, sizeof(url), "%s/v3/%s", e->endpoint, path);
	out->len = 0;
	out->buf[0] = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "etcd at %s is unreachable: %s", e->endpoint, curl_easy_strerror(rc));
		return -EHOSTUNREACH;
	}
	if (status != 200) {
		snprintf(err, errlen, "etcd at %s answered HTTP %ld to %s: %.200s", e->endpoint, status, path, out->buf);
		return -EHOSTUNREACH;
	}
	return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(const char *in, char *out)
{
	size_t n = strlen(in), o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint8_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint8_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (uint8_t)in[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = 0;
}

static void b64_decode(const char *in, char *out, size_t cap)
{
	uint32_t v = 0;
	int bits = 0;
	size_t o = 0;
	for (; *in && *in != '"' && *in != '='; in++) {
		const char *p = strchr(b64, *in);
		if (!p)
			break;
		v = v << 6 | (uint32_t)(p - b64);
		bits += 6;
		if (bits >= 8 && o + 1 < cap) {
			bits -= 8;
			out[o++] = (char)(v >> bits & 0xff);
		}
	}
	out[o] = 0;
}

/* The string value of the first "name":"..." in a reply, "" if none. */
static void field(const char *json, const char *name, char *out, size_t cap)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":\"", name);
	const char *p = strstr(json, pat);
	out[0] = 0;
	if (!p)
		return;
	p += strlen(pat);
	size_t n = strcspn(p, "\"");
	snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
}

/* KEY/generation: its generation, holder and mod_revision ("0" and gen 0 when absent). */
static int read_generation(struct etcd_arbiter *e, uint64_t *gen, char *holder, size_t hcap, char *rev,
			   size_t rcap, char *err, size_t errlen)
{
	static __thread struct reply r;
	char key[700], body[800];
	b64_encode(e->key_gen, key);
	snprintf(body, sizeof(body), "{\"key\":\"%s\"}", key);
	int ret = post(e, "kv/range", body, &r, err, errlen);
	if (ret)
		return ret;
	char value[512], text[256];
	field(r.buf, "value", value, sizeof(value));
	field(r.buf, "mod_revision", rev, rcap);
	*gen = 0;
	holder[0] = 0;
	if (!rev[0]) {
		snprintf(rev, rcap, "0");
		return 0;
	}
	b64_decode(value, text, sizeof(text));
	char *end;
	*gen = strtoull(text, &end, 10);
	if (end == text || *end != ' ') {
		snprintf(err, errlen, "etcd key %s holds '%.60s', not a detvm generation", e->key_gen, text);
		return -EBADMSG;
	}
	snprintf(holder, hcap, "%s", end + 1);
	return 0;
}

static int e_generation(struct arbiter *a, uint64_t *gen, char *err, size_t errlen)
{
	char holder[160], rev[32];
	return read_generation((struct etcd_arbiter *)a, gen, holder, sizeof(holder), rev, sizeof(rev), err, errlen);
}

static void *keep_alive(void *arg)
{
	struct etcd_arbiter *e = arg;
	static __thread struct reply r;
	char body[96], err[300];
	snprintf(body, sizeof(body), "{\"ID\":\"%s\"}", e->lease);
	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&e->cv, &e->mu, &until);
		if (e->stop)
			break;
		pthread_mutex_unlock(&e->mu);
		post(e, "lease/keepalive", body, &r, err, sizeof(err));	/* a miss: the next try */
		pthread_mutex_lock(&e->mu);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

static int e_claim(struct arbiter *a, uint64_t gen, char *err, size_t errlen)
{
	struct etcd_arbiter *e = (struct etcd_arbiter *)a;
	static __thread struct reply r;
	uint64_t now_gen;
	char holder[160], rev[32];
	int ret = read_generation(e, &now_gen, holder, sizeof(holder), rev, sizeof(rev), err, errlen);
	if (ret)
		return ret;
	if (now_gen == gen + 1 && !strcmp(holder, a->holder))
		return 1;
	if (now_gen != gen) {
		snprintf(err, errlen, "generation %" PRIu64 " went to %s already (etcd is at %" PRIu64 ")", gen + 1,
			 holder[0] ? holder : "another side", now_gen);
		return 0;
	}
	char body[2048];
	if (!e->lease[0]) {
		snprintf(body, sizeof(body), "{\"TTL\":%d}", LEASE_TTL_S);
		ret = post(e, "lease/grant", body, &r, err, errlen);
		if (ret)
			return ret;
		field(r.buf, "ID", e->lease, sizeof(e->lease));
		if (!e->lease[0]) {
			snprintf(err, errlen, "etcd at %s granted no lease: %.200s", e->endpoint, r.buf);
			return -EHOSTUNREACH;
		}
	}
	char value[256], kgen[700], klive[700], vgen[400], vlive[300];
	snprintf(value, sizeof(value), "%" PRIu64 " %s", gen + 1, a->holder);
	b64_encode(e->key_gen, kgen);
	b64_encode(e->key_live, klive);
	b64_encode(value, vgen);
	b64_encode(a->holder, vlive);
	snprintf(body, sizeof(body),
		 "{\"compare\":[{\"key\":\"%s\",\"target\":\"MOD\",\"result\":\"EQUAL\",\"mod_revision\":\"%s\"}],"
		 "\"success\":[{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}},"
		 "{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%s\"}}],\"failure\":[]}",
		 kgen, rev, kgen, vgen, klive, vlive, e->lease);
	ret = post(e, "kv/txn", body, &r, err, errlen);
	if (ret)
		return ret;
	if (!strstr(r.buf, "\"succeeded\":true")) {
		snprintf(err, errlen, "generation %" PRIu64 " went to the other side first", gen + 1);
		return 0;
	}
	if (!e->keeping && !pthread_create(&e->keeper, NULL, keep_alive, e))
		e->keeping = 1;
	return 1;
}

static void e_close(struct arbiter *a)
{
	struct etcd_arbiter *e = (struct etcd_arbiter *)a;
	if (e->keeping) {
		pthread_mutex_lock(&e->mu);
		e->stop = 1;
		pthread_cond_signal(&e->cv);
		pthread_mutex_unlock(&e->mu);
		pthread_join(e->keeper, NULL);
	}
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

static const struct arbiter_ops etcd_ops = { "etcd", e_generation, e_claim, e_close };

static void init_curl(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int arbiter_etcd_open(struct arbiter **out, const char *endpoint, const char *key, char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, init_curl);
	if (strlen(key) > 400 || strlen(endpoint) >= 200) {
		snprintf(err, errlen, "etcd key or address too long");
		return -EINVAL;
	}
	struct etcd_arbiter *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	snprintf(e->endpoint, sizeof(e->endpoint), "%s", endpoint);
	snprintf(e->key_gen, sizeof(e->key_gen), "%s/generation", key);
	snprintf(e->key_live, sizeof(e->key_live), "%s/live", key);
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	e->a.ops = &etcd_ops;
	*out = &e->a;
	return 0;
}
