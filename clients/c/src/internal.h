/* Internal helpers shared by the library's files; not part of the API. */
#ifndef CHORUS_INTERNAL_H
#define CHORUS_INTERNAL_H

#include "chorus.h"

#include <stddef.h>
#include <stdint.h>

static inline uint16_t chorus_get_u16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static inline uint32_t chorus_get_u32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint8_t *chorus_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static inline uint8_t *chorus_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

/* 1 if the n bytes at s are valid UTF-8. */
int chorus_valid_utf8(const uint8_t *s, size_t n);

/*
 * The size of the frame at data (4 + its length field): returns 1 and sets *frame_size
 * if the whole frame is present, 0 if not (with *frame_size set once the length field
 * is, else 0), CHORUS_ERR_PROTOCOL for a length the protocol does not allow.
 */
int chorus_frame_span(const uint8_t *data, size_t len, size_t *frame_size);

#endif
