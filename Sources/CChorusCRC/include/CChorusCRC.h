#ifndef CCHORUSCRC_H
#define CCHORUSCRC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78) of `len` bytes at `data`.
///
/// Pass `crc = 0` to start; pass a previous result to continue over more bytes, so that
/// `chorus_crc32c(chorus_crc32c(0, a, n), b, m)` is the CRC of `a` followed by `b`.
/// `chorus_crc32c(0, "123456789", 9) == 0xE3069283`. `data` may be NULL when `len` is 0.
///
/// Uses SSE4.2 (`crc32q`, chosen at run time) on x86_64, the ARMv8 CRC32C instructions on
/// aarch64 builds that have them, and a slicing-by-8 table otherwise. Thread-safe.
uint32_t chorus_crc32c(uint32_t crc, const void *_Nullable data, size_t len);

/// The portable slicing-by-8 implementation, same contract as `chorus_crc32c`.
/// Exposed so tests can check that the hardware path agrees with it.
uint32_t chorus_crc32c_sw(uint32_t crc, const void *_Nullable data, size_t len);

/// 1 when `chorus_crc32c` uses CPU instructions on this machine, 0 when it uses the table.
int chorus_crc32c_hw_available(void);

#ifdef __cplusplus
}
#endif

#endif /* CCHORUSCRC_H */
