/*
 * The etcd:// and etcds:// arbiter: etcd v3's JSON gateway (ft/etcd_http.h). The claim is
 * one transaction guarded by KEY/generation's mod_revision, so two sides that read the
 * same generation cannot both win; KEY/live names the winner under a lease that a thread
 * keeps alive while this process lives. When that fails for longer than the lease lives,
 * or etcd says the lease is gone, the arbiter is lost: someone may take the next
 * generation, and this side must stop.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ft/arbiter.h"
#include "ft/etcd_http.h"
#include "vmm/log.h"
#include "vmm/mono_clock.h"

#define LEASE_TTL_S 5
#define KEEP_EVERY_S 1

struct etcd_arbiter {
	struct arbiter a;	/* first: the ops see this */
	struct etcd_conn conn;
	char key_gen[512], key_live[512];
	char lease[32];		/* the winner's lease id, "" before */
	uint64_t won;		/* the generation won, for messages */
	pthread_t keeper;
	int keeping;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* etcd's gateway takes keys and values in base64. out: 4 * ((len + 2) / 3) + 1 bytes. */
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
	for (; *in && *in != '='; in++) {
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

static json_object *b64_string(const char *s)
{
	char out[700];
	b64_encode(s, out);
	return json_object_new_string(out);
}

/* KEY/generation: its generation, holder and mod_revision ("0" and gen 0 when absent). */
static int read_generation(struct etcd_arbiter *e, uint64_t *gen, char *holder, size_t hcap, char *rev,
			   size_t rcap, char *err, size_t errlen)
{
	json_object *body = json_object_new_object(), *r;
	json_object_object_add(body, "key", b64_string(e->key_gen));
	int ret = etcd_call(&e->conn, "kv/range", body, &r, err, errlen);
	if (ret)
		return ret;
	static const char *const pvalue[] = { "kvs", "0", "value" }, *const prev[] = { "kvs", "0", "mod_revision" };
	const char *value = etcd_field(r, pvalue, 3), *mod = etcd_field(r, prev, 3);
	char text[256];
	*gen = 0;
	holder[0] = 0;
	snprintf(rev, rcap, "%s", mod && value ? mod : "0");
	b64_decode(value && mod ? value : "", text, sizeof(text));
	json_object_put(r);
	if (!mod)
		return 0;
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

/* One keep-alive: 1 the lease lives, 0 etcd says it is gone, -errno not heard. */
static int keep_once(struct etcd_arbiter *e, char *err, size_t errlen)
{
	json_object *body = json_object_new_object(), *r;
	json_object_object_add(body, "ID", json_object_new_string(e->lease));
	int ret = etcd_call(&e->conn, "lease/keepalive", body, &r, err, errlen);
	if (ret)
		return ret;
	static const char *const pttl[] = { "result", "TTL" };
	const char *ttl = etcd_field(r, pttl, 2);
	ret = ttl && strtoll(ttl, NULL, 10) > 0;
	if (!ret)
		snprintf(err, errlen, "etcd says the lease is gone");
	json_object_put(r);
	return ret;
}

static void *keep_alive(void *arg)
{
	struct etcd_arbiter *e = arg;
	char err[300];
	uint64_t heard = mono_clock_ns();
	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += KEEP_EVERY_S;
		pthread_cond_timedwait(&e->cv, &e->mu, &until);
		if (e->stop)
			break;
		pthread_mutex_unlock(&e->mu);
		int r = keep_once(e, err, sizeof(err));
		if (r > 0)
			heard = mono_clock_ns();
		/* not heard for a lease's life: etcd may have let it go, and the next generation
		 * with it -- from here this side cannot know it still holds its own */
		if (r == 0 || mono_clock_ns() - heard >= (uint64_t)LEASE_TTL_S * 1000000000ULL) {
			__atomic_store_n(&e->a.lost, 1, __ATOMIC_RELEASE);
			log_error("the arbiter's lease on generation %" PRIu64 " is lost: %s", e->won, err);
			pthread_mutex_lock(&e->mu);
			break;
		}
		pthread_mutex_lock(&e->mu);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

static int e_claim(struct arbiter *a, uint64_t gen, char *err, size_t errlen)
{
	struct etcd_arbiter *e = (struct etcd_arbiter *)a;
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
	json_object *body, *r;
	if (!e->lease[0]) {
		body = json_object_new_object();
		json_object_object_add(body, "TTL", json_object_new_int(LEASE_TTL_S));
		if ((ret = etcd_call(&e->conn, "lease/grant", body, &r, err, errlen)))
			return ret;
		static const char *const pid[] = { "ID" };
		const char *id = etcd_field(r, pid, 1);
		snprintf(e->lease, sizeof(e->lease), "%s", id && strlen(id) < sizeof(e->lease) ? id : "");
		json_object_put(r);
		if (!e->lease[0]) {
			snprintf(err, errlen, "etcd at %s granted no lease", e->conn.endpoint);
			return -EHOSTUNREACH;
		}
	}
	char value[256];
	snprintf(value, sizeof(value), "%" PRIu64 " %s", gen + 1, a->holder);
	json_object *cmp = json_object_new_object(), *put_gen = json_object_new_object(),
		    *put_live = json_object_new_object(), *op_gen = json_object_new_object(),
		    *op_live = json_object_new_object(), *compare = json_object_new_array(),
		    *success = json_object_new_array();
	json_object_object_add(cmp, "key", b64_string(e->key_gen));
	json_object_object_add(cmp, "target", json_object_new_string("MOD"));
	json_object_object_add(cmp, "result", json_object_new_string("EQUAL"));
	json_object_object_add(cmp, "mod_revision", json_object_new_string(rev));
	json_object_array_add(compare, cmp);
	json_object_object_add(put_gen, "key", b64_string(e->key_gen));
	json_object_object_add(put_gen, "value", b64_string(value));
	json_object_object_add(op_gen, "request_put", put_gen);
	json_object_object_add(put_live, "key", b64_string(e->key_live));
	json_object_object_add(put_live, "value", b64_string(a->holder));
	json_object_object_add(put_live, "lease", json_object_new_string(e->lease));
	json_object_object_add(op_live, "request_put", put_live);
	json_object_array_add(success, op_gen);
	json_object_array_add(success, op_live);
	body = json_object_new_object();
	json_object_object_add(body, "compare", compare);
	json_object_object_add(body, "success", success);
	json_object_object_add(body, "failure", json_object_new_array());
	if ((ret = etcd_call(&e->conn, "kv/txn", body, &r, err, errlen)))
		return ret;
	static const char *const pok[] = { "succeeded" };
	const char *ok = etcd_field(r, pok, 1);
	int won = ok && !strcmp(ok, "true");
	json_object_put(r);
	if (!won) {
		snprintf(err, errlen, "generation %" PRIu64 " went to the other side first", gen + 1);
		return 0;
	}
	e->won = gen + 1;
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
	etcd_conn_destroy(&e->conn);
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

static const struct arbiter_ops etcd_ops = { "etcd", e_generation, e_claim, e_close };

int arbiter_etcd_open(struct arbiter **out, const char *endpoint, const char *key, const struct arbiter_creds *creds,
		      char *err, size_t errlen)
{
	if (etcd_libs_load(err, errlen))
		return -ELIBACC;
	if (strlen(key) > 400 || strlen(endpoint) >= 200) {
		snprintf(err, errlen, "etcd key or address too long");
		return -EINVAL;
	}
	struct etcd_arbiter *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	int r = etcd_conn_init(&e->conn, endpoint, creds, err, errlen);
	if (r) {
		etcd_conn_destroy(&e->conn);
		free(e);
		return r;
	}
	snprintf(e->key_gen, sizeof(e->key_gen), "%s/generation", key);
	snprintf(e->key_live, sizeof(e->key_live), "%s/live", key);
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	e->a.ops = &etcd_ops;
	*out = &e->a;
	return 0;
}
