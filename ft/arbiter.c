#include "ft/arbiter.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/mono_clock.h"

int arbiter_open(struct arbiter **out, const char *url, const char *role, const struct arbiter_creds *creds,
		 char *err, size_t errlen)
{
	int r, tls = !strncmp(url, "etcds://", 8);
	int any_creds = creds && (creds->cacert || creds->cert || creds->key || creds->auth);
	*out = NULL;
	if (!strncmp(url, "file:", 5) && url[5]) {
		if (any_creds) {
			snprintf(err, errlen, "the --arbiter-* credentials are for etcd, not for a file: arbiter");
			return -EINVAL;
		}
		r = arbiter_file_open(out, url + 5, err, errlen);
	} else if (!strncmp(url, "etcd://", 7) || tls) {
		const char *host = url + (tls ? 8 : 7), *slash = strchr(host, '/');
		if (!slash || slash == host || !slash[1]) {
			snprintf(err, errlen, "bad arbiter '%s': want %s://HOST:PORT/KEY", url, tls ? "etcds" : "etcd");
			return -EINVAL;
		}
		if (!tls && any_creds) {
			/* a password in clear, or TLS options that would not be used: both mistakes */
			snprintf(err, errlen, "the --arbiter-* credentials need etcds:// (TLS), not etcd://");
			return -EINVAL;
		}
		char endpoint[256];
		snprintf(endpoint, sizeof(endpoint), "%s://%.*s", tls ? "https" : "http", (int)(slash - host), host);
		static const struct arbiter_creds none;
		r = arbiter_etcd_open(out, endpoint, slash, creds ? creds : &none, err, errlen);
	} else {
		snprintf(err, errlen, "bad arbiter '%s': use file:PATH, etcd://HOST:PORT/KEY or etcds://HOST:PORT/KEY", url);
		return -EINVAL;
	}
	if (r)
		return r;
	char host[64] = "?";
	gethostname(host, sizeof(host) - 1);
	snprintf((*out)->holder, sizeof((*out)->holder), "%s:%d:%s", host, (int)getpid(), role);
	return 0;
}

int arbiter_claim(struct arbiter *a, uint64_t gen, int wait_ms, char *err, size_t errlen)
{
	uint64_t until = mono_clock_ns() + (uint64_t)(wait_ms > 0 ? wait_ms : 0) * 1000000ULL;
	for (;;) {
		int r = a->ops->claim(a, gen, err, errlen);
		if (r >= 0 || mono_clock_ns() >= until)
			return r;
		struct timespec ts = { 0, 100 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

int arbiter_decide(struct arbiter *a, uint64_t gen, const char *then)
{
	char err[512] = "";
	int r = arbiter_claim(a, gen, FT_ARBITER_WAIT_MS, err, sizeof(err));
	if (r == 1) {
		log_info("won generation %" PRIu64 " at the arbiter: %s", gen + 1, then);
		return 1;
	}
	log_error("%s: %s; halting", r == 0 ? "lost the arbiter" : "the arbiter is unreachable", err);
	return 0;
}

int arbiter_fenced(const struct arbiter *a, int *fenced)
{
	if (!*fenced && arbiter_lost(a)) {
		*fenced = 1;
		log_error("this side no longer holds the arbiter: releasing nothing more; halting");
	}
	return *fenced;
}

void arbiter_close(struct arbiter *a)
{
	if (a)
		a->ops->close(a);
}
