/*
 * Reading a secret from a file (the FT link's key, the arbiter's password): only from a
 * regular file, not through a link, that its owner (this user or root) alone can read
 * or write -- what ssh demands of its keys.
 */
#ifndef DETVM_NET_SECRET_FILE_H
#define DETVM_NET_SECRET_FILE_H

#include <stddef.h>
#include <stdint.h>

/* what: "key file", "password file"... for messages. Reads min..cap bytes into buf:
 * its length, or -errno with one line in err. */
long secret_file_read(const char *path, const char *what, uint8_t *buf, size_t min, size_t cap, char *err,
		      size_t errlen);

#endif
