/*
 * The frame decoder: daemon-to-client frames from bytes, with no socket.
 *
 * Every frame body is walked twice by the same code: first to check it and count
 * the memory its event needs (names, lists, payload), then, after one allocation of
 * exactly that size, to copy the fields. Nothing is allocated for a frame that is not
 * valid, and a count is trusted only as far as the bytes after it can hold it.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Frame types of docs/protocol.md. */
enum {
    TYPE_WELCOME = 0x81,
    TYPE_MESSAGE = 0x82,
    TYPE_MEMBERSHIP = 0x83,
    TYPE_ERROR = 0x84,
    TYPE_STATUS_REPLY = 0x86,
    TYPE_REFUSED = 0x87,
};

typedef struct reader {
    const uint8_t *p;
    size_t len;
    size_t off;
    char *why;
    size_t whylen;
} reader;

/* Where decoded names go: in the first pass only their sizes are added up. */
typedef struct builder {
    int filling;
    size_t nptrs;   /* pointer slots (lists, with their NULL terminators) */
    size_t nbytes;  /* string and payload bytes, NUL terminators included */
    const char **ptrs;
    char *bytes;
} builder;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(reader *r, const char *fmt, ...) {
    if (r->why && r->whylen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->why, r->whylen, fmt, ap);
        va_end(ap);
    }
    return CHORUS_ERR_PROTOCOL;
}

static size_t left(const reader *r) { return r->len - r->off; }

static int read_u8(reader *r, const char *field, uint8_t *out) {
    if (left(r) < 1) return fail(r, "truncated at %s", field);
    *out = r->p[r->off];
    r->off += 1;
    return CHORUS_OK;
}

static int read_u16(reader *r, const char *field, uint16_t *out) {
    if (left(r) < 2) return fail(r, "truncated at %s", field);
    *out = chorus_get_u16(r->p + r->off);
    r->off += 2;
    return CHORUS_OK;
}

static int read_u32(reader *r, const char *field, uint32_t *out) {
    if (left(r) < 4) return fail(r, "truncated at %s", field);
    *out = chorus_get_u32(r->p + r->off);
    r->off += 4;
    return CHORUS_OK;
}

static int read_u64(reader *r, const char *field, uint64_t *out) {
    if (left(r) < 8) return fail(r, "truncated at %s", field);
    *out = ((uint64_t)chorus_get_u32(r->p + r->off) << 32) | chorus_get_u32(r->p + r->off + 4);
    r->off += 8;
    return CHORUS_OK;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
int chorus_valid_utf8(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i += 1;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return 0;
        }
        if (n - i - 1 < need) return 0;
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t k = 2; k <= need; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
        }
        i += need + 1;
    }
    return 1;
}

static const char *build_bytes(builder *b, const uint8_t *src, size_t n) {
    if (!b->filling) {
        b->nbytes += n + 1;
        return NULL;
    }
    char *dst = b->bytes;
    if (n > 0) memcpy(dst, src, n);
    dst[n] = '\0';
    b->bytes += n + 1;
    return dst;
}

/* A slot array of count + 1 pointers (the last NULL). */
static const char **build_list(builder *b, size_t count) {
    if (!b->filling) {
        b->nptrs += count + 1;
        return NULL;
    }
    const char **list = b->ptrs;
    list[count] = NULL;
    b->ptrs += count + 1;
    return list;
}

/* A string of `prefix` length bytes (1 or 2), checked to lie inside the frame and be UTF-8. */
static int read_string(reader *r, builder *b, int prefix, const char *field, const char **out) {
    size_t n;
    if (prefix == 1) {
        uint8_t len8 = 0;
        int rc = read_u8(r, field, &len8);
        if (rc < 0) return rc;
        n = len8;
    } else {
        uint16_t len16 = 0;
        int rc = read_u16(r, field, &len16);
        if (rc < 0) return rc;
        n = len16;
    }
    if (n > left(r)) return fail(r, "%s: %zu bytes declared, %zu left in the frame", field, n, left(r));
    const uint8_t *src = r->p + r->off;
    if (!b->filling && !chorus_valid_utf8(src, n)) return fail(r, "%s is not valid UTF-8", field);
    *out = build_bytes(b, src, n);
    r->off += n;
    return CHORUS_OK;
}

/* A list of str8: `count` already read; each entry takes at least one byte. */
static int read_names(reader *r, builder *b, size_t count, const char *field, size_t *n_out,
                      const char *const **out) {
    if (count > left(r)) return fail(r, "%s: %zu entries, but only %zu bytes left in the frame", field, count, left(r));
    const char **list = build_list(b, count);
    for (size_t i = 0; i < count; i++) {
        const char *name = NULL;
        int rc = read_string(r, b, 1, field, &name);
        if (rc < 0) return rc;
        if (list) list[i] = name;
    }
    *n_out = count;
    *out = list;
    return CHORUS_OK;
}

static int read_list16(reader *r, builder *b, const char *field, size_t *n_out, const char *const **out) {
    uint16_t count = 0;
    int rc = read_u16(r, field, &count);
    if (rc < 0) return rc;
    return read_names(r, b, count, field, n_out, out);
}

static int decode_body(uint8_t type, reader *r, builder *b, chorus_event *ev) {
    int rc;
    switch (type) {
    case TYPE_WELCOME: {
        chorus_welcome *w = &ev->welcome;
        ev->kind = CHORUS_EVENT_WELCOME;
        if ((rc = read_u16(r, "welcome version", &w->version)) < 0) return rc;
        if ((rc = read_string(r, b, 1, "welcome private group", &w->private_group)) < 0) return rc;
        if ((rc = read_string(r, b, 1, "welcome daemon", &w->daemon)) < 0) return rc;
        if ((rc = read_u32(r, "welcome max payload", &w->max_payload)) < 0) return rc;
        break;
    }
    case TYPE_MESSAGE: {
        chorus_message *m = &ev->message;
        uint8_t service = 0, count = 0;
        ev->kind = CHORUS_EVENT_MESSAGE;
        if ((rc = read_u8(r, "message service", &service)) < 0) return rc;
        if (service > CHORUS_SAFE) return fail(r, "message service %u (expected 0 to 5)", service);
        m->service = service;
        if ((rc = read_u16(r, "message type", &m->type)) < 0) return rc;
        if ((rc = read_string(r, b, 1, "message sender", &m->sender)) < 0) return rc;
        if ((rc = read_u8(r, "message group count", &count)) < 0) return rc;
        if ((rc = read_names(r, b, count, "message groups", &m->ngroups, &m->groups)) < 0) return rc;
        /* The payload is the rest of the frame. */
        m->len = left(r);
        m->payload = build_bytes(b, r->p + r->off, m->len);
        r->off = r->len;
        break;
    }
    case TYPE_MEMBERSHIP: {
        chorus_membership *v = &ev->membership;
        uint8_t kind = 0, reason = 0;
        ev->kind = CHORUS_EVENT_MEMBERSHIP;
        if ((rc = read_string(r, b, 1, "membership group", &v->group)) < 0) return rc;
        if ((rc = read_u64(r, "view ring seq", &v->view.ring_seq)) < 0) return rc;
        if ((rc = read_u32(r, "view ring representative", &v->view.ring_representative)) < 0) return rc;
        if ((rc = read_u64(r, "view index", &v->view.index)) < 0) return rc;
        if ((rc = read_u8(r, "membership kind", &kind)) < 0) return rc;
        if (kind > CHORUS_VIEW_TRANSITIONAL) return fail(r, "membership kind %u (expected 0 or 1)", kind);
        if ((rc = read_u8(r, "membership reason", &reason)) < 0) return rc;
        if (reason > CHORUS_REASON_NETWORK) return fail(r, "membership reason %u (expected 0 to 3)", reason);
        v->kind = kind;
        v->reason = reason;
        if ((rc = read_list16(r, b, "members", &v->nmembers, &v->members)) < 0) return rc;
        if ((rc = read_list16(r, b, "changed", &v->nchanged, &v->changed)) < 0) return rc;
        if ((rc = read_list16(r, b, "added", &v->nadded, &v->added)) < 0) return rc;
        if ((rc = read_list16(r, b, "removed", &v->nremoved, &v->removed)) < 0) return rc;
        break;
    }
    case TYPE_ERROR: {
        chorus_daemon_error *e = &ev->error;
        ev->kind = CHORUS_EVENT_ERROR;
        if ((rc = read_u16(r, "error code", &e->code)) < 0) return rc;
        if ((rc = read_string(r, b, 2, "error text", &e->text)) < 0) return rc;
        break;
    }
    case TYPE_STATUS_REPLY: {
        chorus_status_reply *s = &ev->status;
        ev->kind = CHORUS_EVENT_STATUS;
        s->len = left(r);
        s->json = build_bytes(b, r->p + r->off, s->len);
        r->off = r->len;
        break;
    }
    case TYPE_REFUSED: {
        chorus_refused *f = &ev->refused;
        ev->kind = CHORUS_EVENT_REFUSED;
        if ((rc = read_u16(r, "refused code", &f->code)) < 0) return rc;
        if ((rc = read_u8(r, "refused request", &f->request)) < 0) return rc;
        if ((rc = read_string(r, b, 1, "refused group", &f->group)) < 0) return rc;
        if ((rc = read_string(r, b, 2, "refused text", &f->text)) < 0) return rc;
        break;
    }
    default:
        if (type < 0x80) return fail(r, "frame type 0x%02x is a client frame type", type);
        return fail(r, "unknown frame type 0x%02x", type);
    }
    if (left(r) != 0) return fail(r, "%zu bytes left over after the last field of frame type 0x%02x", left(r), type);
    return CHORUS_OK;
}

int chorus_decode_frame(const void *data, size_t len, size_t *consumed, chorus_event *event, char *why,
                        size_t whylen) {
    if (consumed) *consumed = 0;
    if (why && whylen > 0) why[0] = '\0';
    if ((!data && len > 0) || !consumed || !event) return CHORUS_ERR_BAD_ARGUMENT;
    memset(event, 0, sizeof *event);
    reader head = {.p = data, .len = len, .off = 0, .why = why, .whylen = whylen};
    if (len < 4) return 0;
    uint32_t length = chorus_get_u32(head.p);
    if (length == 0) return fail(&head, "frame length 0 (a frame holds at least its type byte)");
    if (length > CHORUS_MAX_FRAME_LENGTH) {
        return fail(&head, "frame length %lu exceeds the protocol's maximum %lu", (unsigned long)length,
                    (unsigned long)CHORUS_MAX_FRAME_LENGTH);
    }
    if (len - 4 < length) return 0;
    uint8_t type = head.p[4];
    reader body = {.p = head.p + 5, .len = (size_t)length - 1, .off = 0, .why = why, .whylen = whylen};

    /* Pass 1: check everything and count. */
    builder b = {0};
    chorus_event scratch;
    memset(&scratch, 0, sizeof scratch);
    int rc = decode_body(type, &body, &b, &scratch);
    if (rc < 0) return rc;

    /* One block: pointer slots first (aligned), then the bytes. */
    size_t ptr_bytes = b.nptrs * sizeof(const char *);
    size_t total = ptr_bytes + b.nbytes;
    if (total == 0) total = 1;
    void *storage = malloc(total);
    if (!storage) {
        fail(&body, "cannot allocate %zu bytes for a frame of %lu bytes", total, (unsigned long)length);
        return CHORUS_ERR_NO_MEMORY;
    }
    builder fill = {.filling = 1, .ptrs = storage, .bytes = (char *)storage + ptr_bytes};
    body.off = 0;
    rc = decode_body(type, &body, &fill, event);
    if (rc < 0) { /* cannot happen: the same bytes passed above */
        free(storage);
        memset(event, 0, sizeof *event);
        return rc;
    }
    event->storage_ = storage;
    *consumed = 4 + (size_t)length;
    return (int)event->kind;
}

void chorus_event_free(chorus_event *event) {
    if (!event) return;
    free(event->storage_);
    memset(event, 0, sizeof *event);
}

int chorus_view_id_compare(const chorus_view_id *a, const chorus_view_id *b) {
    if (a->ring_seq != b->ring_seq) return a->ring_seq < b->ring_seq ? -1 : 1;
    if (a->ring_representative != b->ring_representative) return a->ring_representative < b->ring_representative ? -1 : 1;
    if (a->index != b->index) return a->index < b->index ? -1 : 1;
    return 0;
}

int chorus_frame_span(const uint8_t *data, size_t len, size_t *frame_size) {
    *frame_size = 0;
    if (len < 4) return 0;
    uint32_t length = chorus_get_u32(data);
    if (length == 0 || length > CHORUS_MAX_FRAME_LENGTH) return CHORUS_ERR_PROTOCOL;
    *frame_size = 4 + (size_t)length;
    return len >= *frame_size ? 1 : 0;
}
