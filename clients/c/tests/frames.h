/*
 * Builds daemon-to-client frames byte by byte, as docs/protocol.md lays them out,
 * for the decoder tests and the fuzzer's seed corpus. Independent of the library.
 */
#ifndef CHORUS_TEST_FRAMES_H
#define CHORUS_TEST_FRAMES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fbuf {
    uint8_t *b;
    size_t n, cap;
    size_t start; /* where the frame being built begins */
} fbuf;

static inline void fb_need(fbuf *f, size_t more) {
    if (f->n + more <= f->cap) return;
    size_t cap = f->cap ? f->cap : 256;
    while (cap < f->n + more) cap *= 2;
    uint8_t *p = realloc(f->b, cap);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    f->b = p;
    f->cap = cap;
}

static inline void fb_bytes(fbuf *f, const void *p, size_t n) {
    fb_need(f, n);
    if (n) memcpy(f->b + f->n, p, n);
    f->n += n;
}

static inline void fb_u8(fbuf *f, unsigned v) {
    uint8_t b = (uint8_t)v;
    fb_bytes(f, &b, 1);
}

static inline void fb_u16(fbuf *f, unsigned v) {
    fb_u8(f, (v >> 8) & 0xff);
    fb_u8(f, v & 0xff);
}

static inline void fb_u32(fbuf *f, uint32_t v) {
    fb_u16(f, (unsigned)(v >> 16));
    fb_u16(f, (unsigned)(v & 0xffff));
}

static inline void fb_u64(fbuf *f, uint64_t v) {
    fb_u32(f, (uint32_t)(v >> 32));
    fb_u32(f, (uint32_t)v);
}

static inline void fb_str8(fbuf *f, const char *s) {
    size_t n = strlen(s);
    fb_u8(f, (unsigned)n);
    fb_bytes(f, s, n);
}

static inline void fb_str16(fbuf *f, const char *s) {
    size_t n = strlen(s);
    fb_u16(f, (unsigned)n);
    fb_bytes(f, s, n);
}

static inline void fb_list16(fbuf *f, const char *const *names, size_t count) {
    fb_u16(f, (unsigned)count);
    for (size_t i = 0; i < count; i++) fb_str8(f, names[i]);
}

static inline void fb_begin(fbuf *f, unsigned type) {
    f->start = f->n;
    fb_u32(f, 0);
    fb_u8(f, type);
}

static inline void fb_end(fbuf *f) {
    uint32_t len = (uint32_t)(f->n - f->start - 4);
    f->b[f->start] = (uint8_t)(len >> 24);
    f->b[f->start + 1] = (uint8_t)(len >> 16);
    f->b[f->start + 2] = (uint8_t)(len >> 8);
    f->b[f->start + 3] = (uint8_t)len;
}

static inline void fb_free(fbuf *f) {
    free(f->b);
    memset(f, 0, sizeof *f);
}

static inline void frame_welcome(fbuf *f, unsigned version, const char *pg, const char *daemon, uint32_t max_payload) {
    fb_begin(f, 0x81);
    fb_u16(f, version);
    fb_str8(f, pg);
    fb_str8(f, daemon);
    fb_u32(f, max_payload);
    fb_end(f);
}

static inline void frame_message(fbuf *f, unsigned service, unsigned type, const char *sender, const char *const *groups,
                          size_t ngroups, const void *payload, size_t len) {
    fb_begin(f, 0x82);
    fb_u8(f, service);
    fb_u16(f, type);
    fb_str8(f, sender);
    fb_u8(f, (unsigned)ngroups);
    for (size_t i = 0; i < ngroups; i++) fb_str8(f, groups[i]);
    fb_bytes(f, payload, len);
    fb_end(f);
}

static inline void frame_membership(fbuf *f, const char *group, uint64_t seq, uint32_t rep, uint64_t index, unsigned kind,
                             unsigned reason, const char *const *members, size_t nmembers, const char *const *changed,
                             size_t nchanged, const char *const *added, size_t nadded, const char *const *removed,
                             size_t nremoved) {
    fb_begin(f, 0x83);
    fb_str8(f, group);
    fb_u64(f, seq);
    fb_u32(f, rep);
    fb_u64(f, index);
    fb_u8(f, kind);
    fb_u8(f, reason);
    fb_list16(f, members, nmembers);
    fb_list16(f, changed, nchanged);
    fb_list16(f, added, nadded);
    fb_list16(f, removed, nremoved);
    fb_end(f);
}

static inline void frame_error(fbuf *f, unsigned code, const char *text) {
    fb_begin(f, 0x84);
    fb_u16(f, code);
    fb_str16(f, text);
    fb_end(f);
}

static inline void frame_status(fbuf *f, const char *json) {
    fb_begin(f, 0x86);
    fb_bytes(f, json, strlen(json));
    fb_end(f);
}

static inline void frame_refused(fbuf *f, unsigned code, unsigned request, const char *group, const char *text) {
    fb_begin(f, 0x87);
    fb_u16(f, code);
    fb_u8(f, request);
    fb_str8(f, group);
    fb_str16(f, text);
    fb_end(f);
}

#endif
