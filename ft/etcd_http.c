#include "ft/etcd_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/secret_file.h"

#define REPLY_MAX (1u << 20)

struct reply {
	char *buf;
	size_t len;
	int over;
};

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
	struct reply *r = ctx;
	size_t take = size * n;
	if (r->len + take > REPLY_MAX) {
		r->over = 1;
		return 0;	/* ends the transfer: no answer of ours is that long */
	}
	char *b = realloc(r->buf, r->len + take + 1);
	if (!b)
		return 0;
	r->buf = b;
	memcpy(r->buf + r->len, data, take);
	r->len += take;
	r->buf[r->len] = 0;
	return take;
}

int etcd_conn_init(struct etcd_conn *c, const char *endpoint, const struct arbiter_creds *cr, char *err,
		   size_t errlen)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->endpoint, sizeof(c->endpoint), "%s", endpoint);
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->curl_mu, NULL);
	c->cacert = cr->cacert ? strdup(cr->cacert) : NULL;
	c->cert = cr->cert ? strdup(cr->cert) : NULL;
	c->key = cr->key ? strdup(cr->key) : NULL;
	if (!cr->auth)
		return 0;
	uint8_t buf[400];
	long n = secret_file_read(cr->auth, "password file", buf, 3, sizeof(buf) - 1, err, errlen);
	if (n < 0)
		return (int)n;
	buf[n] = 0;
	char *nl = strchr((char *)buf, '\n'), *colon = strchr((char *)buf, ':');
	if (nl)
		*nl = 0;
	int bad = !colon || colon == (char *)buf || !colon[1] || colon - (char *)buf >= (long)sizeof(c->user) ||
		  strlen(colon + 1) >= sizeof(c->password);
	if (!bad) {
		snprintf(c->user, sizeof(c->user), "%.*s", (int)(colon - (char *)buf), (char *)buf);
		snprintf(c->password, sizeof(c->password), "%s", colon + 1);
	}
	memset(buf, 0, sizeof(buf));
	if (bad) {
		snprintf(err, errlen, "the password file %s does not hold USER:PASSWORD", cr->auth);
		return -EINVAL;
	}
	return 0;
}

void etcd_conn_destroy(struct etcd_conn *c)
{
	free(c->cacert);
	free(c->cert);
	free(c->key);
	memset(c->password, 0, sizeof(c->password));
	memset(c->token, 0, sizeof(c->token));
	if (c->curl)
		curl_easy_cleanup(c->curl);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->curl_mu);
}

/* The connection's handle: what every call to this etcd has in common. */
static CURL *new_handle(const struct etcd_conn *c)
{
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	/* a first TLS handshake under an emulator takes seconds; a call after it, little */
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 4000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);	/* TLS errors said plainly */
	if (c->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
	if (c->cert)
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
	if (c->key)
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
	return h;
}

/* One POST: 0 with the HTTP status and the reply text, or -EHOSTUNREACH. */
static int post(struct etcd_conn *c, const char *path, const char *body, const char *token, long *status,
		struct reply *out, char *err, size_t errlen)
{
	pthread_mutex_lock(&c->curl_mu);
	CURL *h = c->curl ? c->curl : (c->curl = new_handle(c));
	if (!h) {
		pthread_mutex_unlock(&c->curl_mu);
		snprintf(err, errlen, "cannot start libcurl");
		return -ENOMEM;
	}
	char url[512], auth[1100];
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	if (token && *token) {
		snprintf(auth, sizeof(auth), "Authorization: %s", token);
		hdr = curl_slist_append(hdr, auth);
	}
	snprintf(url, sizeof(url), "%s/v3/%s", c->endpoint, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);	/* hdr goes now; the handle stays */
	pthread_mutex_unlock(&c->curl_mu);
	curl_slist_free_all(hdr);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "etcd at %s is unreachable: %s", c->endpoint,
			 out->over ? "an answer over 1 MiB" : curl_easy_strerror(rc));
		return -EHOSTUNREACH;
	}
	return 0;
}

/* The token for the user: from etcd's auth/authenticate. */
static int authenticate(struct etcd_conn *c, char *token, size_t cap, char *err, size_t errlen)
{
	json_object *b = json_object_new_object();
	json_object_object_add(b, "name", json_object_new_string(c->user));
	json_object_object_add(b, "password", json_object_new_string(c->password));
	struct reply r = { 0 };
	long status = 0;
	int ret = post(c, "auth/authenticate", json_object_to_json_string(b), NULL, &status, &r, err, errlen);
	json_object_put(b);
	json_object *j = ret ? NULL : json_tokener_parse(r.buf ? r.buf : "");
	static const char *const tok[] = { "token" };
	const char *t = j ? etcd_field(j, tok, 1) : NULL;
	if (!ret && (status != 200 || !t || strlen(t) >= cap)) {
		snprintf(err, errlen, "etcd at %s refused the user '%s' (HTTP %ld)", c->endpoint, c->user, status);
		ret = -EACCES;
	}
	if (!ret)
		snprintf(token, cap, "%s", t);
	json_object_put(j);
	free(r.buf);
	return ret;
}

int etcd_call(struct etcd_conn *c, const char *path, json_object *body, json_object **reply, char *err,
	      size_t errlen)
{
	const char *text = json_object_to_json_string(body);
	*reply = NULL;
	int ret = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		char token[sizeof(c->token)] = "";
		if (c->user[0]) {
			pthread_mutex_lock(&c->mu);
			if (!c->token[0])
				ret = authenticate(c, c->token, sizeof(c->token), err, errlen);
			snprintf(token, sizeof(token), "%s", c->token);
			pthread_mutex_unlock(&c->mu);
			if (ret)
				break;
		}
		struct reply r = { 0 };
		long status = 0;
		ret = post(c, path, text, token, &status, &r, err, errlen);
		if (!ret && status == 401 && c->user[0] && !attempt) {
			pthread_mutex_lock(&c->mu);	/* expired: once more with a new one */
			if (!strcmp(c->token, token))
				c->token[0] = 0;
			pthread_mutex_unlock(&c->mu);
			free(r.buf);
			continue;
		}
		if (!ret && status != 200) {
			snprintf(err, errlen, "etcd at %s answered HTTP %ld to %s: %.200s", c->endpoint, status, path,
				 r.buf ? r.buf : "");
			ret = status == 401 || status == 403 ? -EACCES : -EHOSTUNREACH;
		}
		if (!ret && !(*reply = json_tokener_parse(r.buf ? r.buf : ""))) {
			snprintf(err, errlen, "etcd at %s answered %s with no JSON", c->endpoint, path);
			ret = -EHOSTUNREACH;
		}
		free(r.buf);
		break;
	}
	json_object_put(body);
	return ret;
}

const char *etcd_field(json_object *reply, const char *const *path, size_t n)
{
	json_object *o = reply;
	for (size_t i = 0; o && i < n; i++) {
		if (json_object_is_type(o, json_type_array)) {
			char *end;
			unsigned long k = strtoul(path[i], &end, 10);
			o = *end || k >= json_object_array_length(o) ? NULL : json_object_array_get_idx(o, k);
		} else if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, path[i], &o)) {
			o = NULL;
		}
	}
	if (!o || !(json_object_is_type(o, json_type_string) || json_object_is_type(o, json_type_int) ||
		    json_object_is_type(o, json_type_boolean)))
		return NULL;
	return json_object_get_string(o);
}
