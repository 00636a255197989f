/*
 * Talking to etcd v3's JSON gateway (libcurl, json-c): http or https (the server checked
 * against a CA, a client certificate if given), and a user's token when the arbiter has
 * a password: got from auth/authenticate, sent on every call, renewed once when etcd
 * says it expired. Thread-safe: the lease keeper calls from its own thread.
 */
#ifndef DETVM_FT_ETCD_HTTP_H
#define DETVM_FT_ETCD_HTTP_H

#include <pthread.h>
#include <stddef.h>

#include "ft/arbiter.h"
#include "ft/etcd_libs.h"

struct etcd_conn {
	char endpoint[256];		/* http(s)://HOST:PORT */
	char *cacert, *cert, *key;	/* PEM paths, or NULL */
	char user[128], password[256];	/* user "": no authentication */
	char token[1024];
	pthread_mutex_t mu;		/* the token */
	/* one handle, so one connection (and one TLS handshake) serves every call: a
	 * handshake per call is slow where the host is, and the lease keeper calls every
	 * second */
	void *curl;
	pthread_mutex_t curl_mu;
};

/* 0, or -errno with err (a password file that is not private, or not USER:PASSWORD). */
int etcd_conn_init(struct etcd_conn *c, const char *endpoint, const struct arbiter_creds *cr, char *err,
		   size_t errlen);
void etcd_conn_destroy(struct etcd_conn *c);
/* POSTs body (consumed) to /v3/PATH: 0 and *reply (json_object_put it), -EHOSTUNREACH
 * (unreachable, TLS refused, an error answer) or -EACCES (the user was refused), err
 * saying why in one line. */
int etcd_call(struct etcd_conn *c, const char *path, json_object *body, json_object **reply, char *err,
	      size_t errlen);

/* Reply fields: the string (or number, as etcd's gateway writes int64s as strings) at a
 * path of keys and array indices ("kvs", "0", "value"); NULL if absent. */
const char *etcd_field(json_object *reply, const char *const *path, size_t n);

#endif
