/* Whole transfers on a file descriptor at an offset, retried across EINTR and short I/O. */
#ifndef DETVM_VMM_FILE_IO_H
#define DETVM_VMM_FILE_IO_H

#include <stddef.h>
#include <stdint.h>

/* 0 when all len bytes moved; -errno, or -EIO if the file ended first. */
int file_pread_full(int fd, void *buf, size_t len, uint64_t off);
int file_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* At the file position (pipes, sockets, append-only files). */
int file_write_full(int fd, const void *buf, size_t len);

#endif
