/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every trace
 * header, block and footer. Same parameters as iSCSI / ext4 / SSE4.2 `crc32`:
 * initial value ~0, final xor ~0, so crc32c("123456789") == 0xE3069283.
 */
#ifndef DETVM_LOGS_CRC32C_H
#define DETVM_LOGS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C of buf[0..len). */
uint32_t crc32c(const void *buf, size_t len);

/*
 * Incremental form: crc32c_extend(crc32c_extend(0, a, n), b, m) == crc32c(a||b).
 * Start with crc = 0.
 */
uint32_t crc32c_extend(uint32_t crc, const void *buf, size_t len);

/* The portable table-driven path, exposed so tests can compare it with the hardware one. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* Nonzero when the SSE4.2 instruction is used. */
int crc32c_hw_available(void);

#endif
