// CRC32C with a hardware path (x86_64 SSE4.2 chosen at run time, aarch64 CRC when compiled
// for it) and a portable slicing-by-8 fallback. All paths work on the inverted register and
// invert on entry and exit, so results chain (see CChorusCRC.h).

#include "CChorusCRC.h"
#include "crc32c_table.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define CHORUS_CRC_X86 1
#include <nmmintrin.h>
#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
#define CHORUS_CRC_ARM 1
#include <arm_acle.h>
#endif

// MARK: - Portable slicing-by-8

static inline uint32_t load32le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t crc32c_sw_raw(uint32_t crc, const uint8_t *p, size_t len) {
    const uint32_t (*t)[256] = chorus_crc32c_table;
    while (len >= 8) {
        uint32_t lo = crc ^ load32le(p);
        uint32_t hi = load32le(p + 4);
        crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24]
            ^ t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        crc = t[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
        p++;
        len--;
    }
    return crc;
}

uint32_t chorus_crc32c_sw(uint32_t crc, const void *data, size_t len) {
    if (len == 0) return crc;
    return ~crc32c_sw_raw(~crc, (const uint8_t *)data, len);
}

// MARK: - x86_64 SSE4.2

#if CHORUS_CRC_X86

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw_raw(uint32_t crc, const uint8_t *p, size_t len) {
    // Byte steps up to an 8-byte boundary, then 8 bytes per instruction, then the tail.
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        crc = _mm_crc32_u8(crc, *p);
        p++;
        len--;
    }
    uint64_t crc64 = crc;
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, sizeof word);
        crc64 = _mm_crc32_u64(crc64, word);
        p += 8;
        len -= 8;
    }
    crc = (uint32_t)crc64;
    while (len > 0) {
        crc = _mm_crc32_u8(crc, *p);
        p++;
        len--;
    }
    return crc;
}

static int crc32c_detect_hw(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

#elif CHORUS_CRC_ARM

static uint32_t crc32c_hw_raw(uint32_t crc, const uint8_t *p, size_t len) {
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        crc = __crc32cb(crc, *p);
        p++;
        len--;
    }
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, sizeof word);
        crc = __crc32cd(crc, word);
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        crc = __crc32cb(crc, *p);
        p++;
        len--;
    }
    return crc;
}

static int crc32c_detect_hw(void) { return 1; }

#endif

// MARK: - Dispatch

#if CHORUS_CRC_X86 || CHORUS_CRC_ARM

// 0: not yet detected, 1: hardware, 2: table. Detection is idempotent, so racing threads that
// both detect store the same value; relaxed atomics make the race well defined.
static int crc32c_mode = 0;

static int crc32c_use_hw(void) {
    int mode = __atomic_load_n(&crc32c_mode, __ATOMIC_RELAXED);
    if (mode == 0) {
        mode = crc32c_detect_hw() ? 1 : 2;
        __atomic_store_n(&crc32c_mode, mode, __ATOMIC_RELAXED);
    }
    return mode == 1;
}

uint32_t chorus_crc32c(uint32_t crc, const void *data, size_t len) {
    if (len == 0) return crc;
    if (crc32c_use_hw()) return ~crc32c_hw_raw(~crc, (const uint8_t *)data, len);
    return ~crc32c_sw_raw(~crc, (const uint8_t *)data, len);
}

int chorus_crc32c_hw_available(void) { return crc32c_use_hw(); }

#else

uint32_t chorus_crc32c(uint32_t crc, const void *data, size_t len) { return chorus_crc32c_sw(crc, data, len); }

int chorus_crc32c_hw_available(void) { return 0; }

#endif
