/*
 * Unit tests of chorus_decode_frame(): valid frames of every kind field by field, and
 * malformed ones (truncated, oversized, leftover bytes, counts beyond the bytes present,
 * bad values, bad UTF-8). No daemon needed. With a directory argument it also decodes
 * every file there as a stream of valid frames (the fuzzer's seed corpus).
 */
#include "chorus.h"
#include "frames.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
static int checks;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        checks++;                                                                   \
        if (!(cond)) {                                                              \
            failures++;                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)

static int streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* Decodes a buffer that must hold exactly one valid frame. */
static int decode_one(const fbuf *f, chorus_event *ev) {
    size_t used = 99;
    char why[256];
    int rc = chorus_decode_frame(f->b, f->n, &used, ev, why, sizeof why);
    if (rc > 0) {
        CHECK(used == f->n);
    } else {
        fprintf(stderr, "  decode failed (%d): %s\n", rc, why);
    }
    return rc;
}

/* Must fail as a protocol violation, leaving the event empty. */
static void expect_violation(const uint8_t *data, size_t len, const char *what) {
    chorus_event ev;
    memset(&ev, 0xA5, sizeof ev);
    size_t used = 99;
    char why[256] = "";
    int rc = chorus_decode_frame(data, len, &used, &ev, why, sizeof why);
    if (rc != CHORUS_ERR_PROTOCOL) {
        fprintf(stderr, "  %s: expected a protocol violation, got %d\n", what, rc);
        failures++;
        if (rc > 0) chorus_event_free(&ev);
        return;
    }
    checks++;
    CHECK(used == 0);
    CHECK(ev.kind == CHORUS_EVENT_NONE);
    CHECK(ev.storage_ == NULL);
    CHECK(why[0] != '\0');
}

static void expect_incomplete(const uint8_t *data, size_t len, const char *what) {
    chorus_event ev;
    size_t used = 99;
    int rc = chorus_decode_frame(data, len, &used, &ev, NULL, 0);
    if (rc != 0) {
        fprintf(stderr, "  %s: expected 'incomplete' (0), got %d\n", what, rc);
        failures++;
        if (rc > 0) chorus_event_free(&ev);
        return;
    }
    checks++;
    CHECK(used == 0);
    CHECK(ev.storage_ == NULL);
}

/* A copy of the frame whose length field claims `body_len` + 1 bytes, cut there. */
static void with_length(const fbuf *f, size_t body_len, fbuf *out) {
    memset(out, 0, sizeof *out);
    fb_bytes(out, f->b, 5 + body_len);
    uint32_t len = (uint32_t)(1 + body_len);
    out->b[0] = (uint8_t)(len >> 24);
    out->b[1] = (uint8_t)(len >> 16);
    out->b[2] = (uint8_t)(len >> 8);
    out->b[3] = (uint8_t)len;
}

#define NO_REST ((size_t)-1)

static const char *const members3[] = {"#1#d1", "#4#d2", "#9#d3"};

static void test_valid_frames(void) {
    fbuf f = {0};
    chorus_event ev;

    frame_welcome(&f, 3, "#1#d1", "d1", 1u << 24);
    CHECK(decode_one(&f, &ev) == CHORUS_EVENT_WELCOME);
    CHECK(ev.kind == CHORUS_EVENT_WELCOME);
    CHECK(ev.welcome.version == 3);
    CHECK(streq(ev.welcome.private_group, "#1#d1"));
    CHECK(streq(ev.welcome.daemon, "d1"));
    CHECK(ev.welcome.max_payload == 1u << 24);
    chorus_event_free(&ev);
    CHECK(ev.storage_ == NULL && ev.kind == CHORUS_EVENT_NONE);
    chorus_event_free(&ev); /* twice is harmless */
    fb_free(&f);

    const char *groups[] = {"chat", "news"};
    frame_message(&f, CHORUS_SAFE, 0xBEEF, "#2#d2", groups, 2, "hello\0world", 11);
    CHECK(decode_one(&f, &ev) == CHORUS_EVENT_MESSAGE);
    CHECK(ev.message.service == CHORUS_SAFE);
    CHECK(ev.message.type == 0xBEEF);
    CHECK(streq(ev.message.sender, "#2#d2"));
    CHECK(ev.message.ngroups == 2);
    CHECK(streq(ev.message.groups[0], "chat") && streq(ev.message.groups[1], "news"));
    CHECK(ev.message.groups[2] == NULL);
    CHECK(ev.message.len == 11 && memcmp(ev.message.payload, "hello\0world", 11) == 0);
    CHECK(((const char *)ev.message.payload)[11] == '\0');
    chorus_event_free(&ev);
    fb_free(&f);

    /* An empty payload and a group name of 255 bytes. */
    char longname[256];
    memset(longname, 'g', 255);
    longname[255] = '\0';
    const char *one[] = {longname};
    frame_message(&f, CHORUS_UNRELIABLE, 0, "#3#d1", one, 1, "", 0);
    CHECK(decode_one(&f, &ev) == CHORUS_EVENT_MESSAGE);
    CHECK(ev.message.len == 0 && ev.message.payload != NULL);
    CHECK(ev.message.ngroups == 1 && strlen(ev.message.groups[0]) == 255);
    chorus_event_free(&ev);
    fb_free(&f);

    const char *changed[] = {"#4#d2"};
    const char *removed[] = {"#7#d3"};
    frame_membership(&f, "chat", 0x0102030405060708ull, 7, (1ull << 63) | 5, CHORUS_VIEW_TRANSITIONAL,
                     CHORUS_REASON_NETWORK, members3, 3, changed, 1, NULL, 0, removed, 1);
    CHECK(decode_one(&f, &ev) == CHORUS_EVENT_MEMBERSHIP);
    CHECK(streq(ev.membership.group, "chat"));
    CHECK(ev.membership.view.ring_seq == 0x0102030405060708ull);
    CHECK(ev.membership.view.ring_representative == 7);
    CHECK(ev.membership.view.index == ((1ull << 63) | 5));
    CHECK(ev.membership.kind == CHORUS_VIEW_TRANSITIONAL);
    CHECK(ev.membership.reason == CHORUS_REASON_NETWORK);
    CHECK(ev.membership.nmembers == 3);
    for (size_t i = 0; i < 3; i++) CHECK(streq(ev.membership.members[i], members3[i]));
    CHECK(ev.membership.members[3] == NULL);
    CHECK(ev.membership.nchanged == 1 && streq(ev.membership.changed[0], "#4#d2"));
    CHECK(ev.membership.nadded == 0 && ev.membership.added != NULL && ev.membership.added[0] == NULL);
    CHECK(ev.membership.nremoved == 1 && streq(ev.membership.removed[0], "#7#d3"));
    chorus_event_free(&ev);
    fb_free(&f);

    frame_error(&f, 6, "'bad name': expected 1 to 32 characters");
    CHECK(decode_one(&f, &ev) == CHORUS_EVENT_ERROR);
    CHECK(ev.error.code == 6 && streq(ev.error.text, "'bad name': expected 1 to 32 characters"));
    chorus_event_free(&ev);
    fb_free(&f);

    frame_status(&f, "{\"daemon\":\"d1\"}");
    CHECK(decode_one(&f, &ev) == CHORUS_EVENT_STATUS);
    CHECK(ev.status.len == 15 && streq(ev.status.json, "{\"daemon\":\"d1\"}"));
    chorus_event_free(&ev);
    fb_free(&f);

    frame_refused(&f, 18, 0x02, "billing", "may not join 'billing'");
    CHECK(decode_one(&f, &ev) == CHORUS_EVENT_REFUSED);
    CHECK(ev.refused.code == 18 && ev.refused.request == 0x02);
    CHECK(streq(ev.refused.group, "billing") && streq(ev.refused.text, "may not join 'billing'"));
    chorus_event_free(&ev);
    fb_free(&f);

    /* Multibyte UTF-8 is fine. */
    const char *utf[] = {"caf\xC3\xA9", "\xE6\x97\xA5\xE6\x9C\xAC", "\xF0\x9F\x98\x80"};
    frame_membership(&f, "\xC3\xA9t\xC3\xA9", 1, 1, 1, 0, 0, utf, 3, utf, 1, utf, 3, NULL, 0);
    CHECK(decode_one(&f, &ev) == CHORUS_EVENT_MEMBERSHIP);
    CHECK(streq(ev.membership.members[2], "\xF0\x9F\x98\x80"));
    chorus_event_free(&ev);
    fb_free(&f);
}

static void test_stream(void) {
    fbuf f = {0};
    const char *g[] = {"g"};
    frame_welcome(&f, 3, "#1#d1", "d1", 100);
    size_t first = f.n;
    frame_message(&f, CHORUS_AGREED, 1, "#1#d1", g, 1, "x", 1);
    size_t second = f.n - first;
    frame_status(&f, "{}");
    size_t off = 0, used = 0;
    chorus_event ev;
    CHECK(chorus_decode_frame(f.b, f.n, &used, &ev, NULL, 0) == CHORUS_EVENT_WELCOME && used == first);
    chorus_event_free(&ev);
    off += used;
    CHECK(chorus_decode_frame(f.b + off, f.n - off, &used, &ev, NULL, 0) == CHORUS_EVENT_MESSAGE && used == second);
    chorus_event_free(&ev);
    off += used;
    CHECK(chorus_decode_frame(f.b + off, f.n - off, &used, &ev, NULL, 0) == CHORUS_EVENT_STATUS);
    chorus_event_free(&ev);
    off += used;
    CHECK(off == f.n);
    /* Empty input, and the argument checks. */
    CHECK(chorus_decode_frame(f.b, 0, &used, &ev, NULL, 0) == 0);
    CHECK(chorus_decode_frame(NULL, 0, &used, &ev, NULL, 0) == 0);
    CHECK(chorus_decode_frame(NULL, 5, &used, &ev, NULL, 0) == CHORUS_ERR_BAD_ARGUMENT);
    CHECK(chorus_decode_frame(f.b, f.n, NULL, &ev, NULL, 0) == CHORUS_ERR_BAD_ARGUMENT);
    CHECK(chorus_decode_frame(f.b, f.n, &used, NULL, NULL, 0) == CHORUS_ERR_BAD_ARGUMENT);
    fb_free(&f);
}

/*
 * Every prefix of a frame is 'incomplete'; every frame whose length field stops early is a
 * violation, unless the cut falls in a trailing "rest" field (`rest_from`: the body offset
 * where it begins, or NO_REST).
 */
static void truncations(const fbuf *f, size_t rest_from, const char *what) {
    char label[128];
    for (size_t k = 0; k < f->n; k++) {
        snprintf(label, sizeof label, "%s cut to %zu of %zu bytes", what, k, f->n);
        expect_incomplete(f->b, k, label);
    }
    size_t body = f->n - 5;
    for (size_t k = 0; k < body; k++) {
        fbuf cut;
        with_length(f, k, &cut);
        snprintf(label, sizeof label, "%s with its length field cut to a body of %zu of %zu", what, k, body);
        if (k >= rest_from) {
            chorus_event ev;
            size_t used = 0;
            CHECK(chorus_decode_frame(cut.b, cut.n, &used, &ev, NULL, 0) > 0);
            CHECK(used == cut.n);
            chorus_event_free(&ev);
        } else {
            expect_violation(cut.b, cut.n, label);
        }
        fb_free(&cut);
    }
}

/* One byte more inside the frame than its last field: a violation unless the frame ends in "rest". */
static void leftover(const fbuf *f, int has_rest, const char *what) {
    fbuf longer = {0};
    fb_bytes(&longer, f->b, f->n);
    fb_u8(&longer, 0x41);
    uint32_t len = (uint32_t)(longer.n - 4);
    longer.b[0] = (uint8_t)(len >> 24);
    longer.b[1] = (uint8_t)(len >> 16);
    longer.b[2] = (uint8_t)(len >> 8);
    longer.b[3] = (uint8_t)len;
    if (has_rest) {
        chorus_event ev;
        size_t used = 0;
        CHECK(chorus_decode_frame(longer.b, longer.n, &used, &ev, NULL, 0) > 0);
        chorus_event_free(&ev);
    } else {
        char label[128];
        snprintf(label, sizeof label, "%s with a byte left over", what);
        expect_violation(longer.b, longer.n, label);
    }
    fb_free(&longer);
}

static void test_truncated_and_leftover(void) {
    fbuf f = {0};
    const char *g[] = {"chat", "news"};
    const char *changed[] = {"#4#d2"};

    frame_welcome(&f, 3, "#1#d1", "d1", 1000);
    truncations(&f, NO_REST, "welcome");
    leftover(&f, 0, "welcome");
    fb_free(&f);

    frame_message(&f, CHORUS_AGREED, 9, "#2#d2", g, 2, "payload", 7);
    /* body: service 1, type 2, sender 1+5, count 1, groups 5+5 = 20: the payload starts there */
    truncations(&f, 20, "message");
    leftover(&f, 1, "message");
    fb_free(&f);

    frame_membership(&f, "chat", 5, 1, 2, 0, 0, members3, 3, changed, 1, changed, 1, NULL, 0);
    truncations(&f, NO_REST, "membership");
    leftover(&f, 0, "membership");
    fb_free(&f);

    frame_error(&f, 7, "name in use");
    truncations(&f, NO_REST, "error");
    leftover(&f, 0, "error");
    fb_free(&f);

    frame_refused(&f, 18, 4, "billing", "no");
    truncations(&f, NO_REST, "refused");
    leftover(&f, 0, "refused");
    fb_free(&f);

    frame_status(&f, "{\"a\":1}");
    truncations(&f, 0, "statusReply"); /* every cut is a shorter (still valid) reply */
    leftover(&f, 1, "statusReply");
    fb_free(&f);
}

static void test_lengths(void) {
    uint8_t b[8] = {0};
    /* length 0 */
    expect_violation(b, 4, "length 0");
    expect_violation(b, 8, "length 0 with more bytes");
    /* too large: refused from the length field alone */
    uint32_t over = CHORUS_MAX_FRAME_LENGTH + 1;
    b[0] = (uint8_t)(over >> 24), b[1] = (uint8_t)(over >> 16), b[2] = (uint8_t)(over >> 8), b[3] = (uint8_t)over;
    expect_violation(b, 4, "length max+1");
    memset(b, 0xFF, 4);
    expect_violation(b, 4, "length 2^32-1");
    /* exactly the maximum is allowed: it is only incomplete */
    uint32_t max = CHORUS_MAX_FRAME_LENGTH;
    b[0] = (uint8_t)(max >> 24), b[1] = (uint8_t)(max >> 16), b[2] = (uint8_t)(max >> 8), b[3] = (uint8_t)max;
    b[4] = 0x86;
    expect_incomplete(b, 5, "length max");

    /* A status reply of exactly the maximum length decodes. */
    size_t total = 4 + (size_t)CHORUS_MAX_FRAME_LENGTH;
    uint8_t *big = malloc(total);
    CHECK(big != NULL);
    if (big) {
        memcpy(big, b, 5);
        memset(big + 5, 'x', total - 5);
        chorus_event ev;
        size_t used = 0;
        CHECK(chorus_decode_frame(big, total, &used, &ev, NULL, 0) == CHORUS_EVENT_STATUS);
        CHECK(used == total && ev.status.len == total - 5);
        chorus_event_free(&ev);
        free(big);
    }
}

static void test_counts_beyond_bytes(void) {
    fbuf f = {0};
    /* members: count 65535, three names present */
    fb_begin(&f, 0x83);
    fb_str8(&f, "g");
    fb_u64(&f, 1);
    fb_u32(&f, 1);
    fb_u64(&f, 1);
    fb_u8(&f, 0);
    fb_u8(&f, 0);
    fb_u16(&f, 0xFFFF);
    fb_str8(&f, "a");
    fb_str8(&f, "b");
    fb_str8(&f, "c");
    fb_end(&f);
    expect_violation(f.b, f.n, "membership count 65535 with 3 names");
    fb_free(&f);

    /* removed: count 2, one name, then nothing */
    fb_begin(&f, 0x83);
    fb_str8(&f, "g");
    fb_u64(&f, 1);
    fb_u32(&f, 1);
    fb_u64(&f, 1);
    fb_u8(&f, 0);
    fb_u8(&f, 0);
    fb_u16(&f, 0);
    fb_u16(&f, 0);
    fb_u16(&f, 0);
    fb_u16(&f, 2);
    fb_str8(&f, "a");
    fb_end(&f);
    expect_violation(f.b, f.n, "removed count 2 with 1 name");
    fb_free(&f);

    /* message: 255 groups declared, 2 bytes follow */
    fb_begin(&f, 0x82);
    fb_u8(&f, 4);
    fb_u16(&f, 0);
    fb_str8(&f, "#1#d1");
    fb_u8(&f, 255);
    fb_u8(&f, 0);
    fb_u8(&f, 0);
    fb_end(&f);
    expect_violation(f.b, f.n, "message with 255 groups and 2 bytes");
    fb_free(&f);

    /* a str8 longer than the frame */
    fb_begin(&f, 0x81);
    fb_u16(&f, 3);
    fb_u8(&f, 200);
    fb_bytes(&f, "abc", 3);
    fb_end(&f);
    expect_violation(f.b, f.n, "welcome private group of 200 bytes with 3 present");
    fb_free(&f);

    /* a str16 longer than the frame */
    fb_begin(&f, 0x84);
    fb_u16(&f, 1);
    fb_u16(&f, 0xFFFF);
    fb_bytes(&f, "short", 5);
    fb_end(&f);
    expect_violation(f.b, f.n, "error text of 65535 bytes with 5 present");
    fb_free(&f);

    /* refused: text length one past the end */
    fb_begin(&f, 0x87);
    fb_u16(&f, 18);
    fb_u8(&f, 2);
    fb_str8(&f, "g");
    fb_u16(&f, 3);
    fb_bytes(&f, "ab", 2);
    fb_end(&f);
    expect_violation(f.b, f.n, "refused text one byte short");
    fb_free(&f);
}

static void test_bad_values(void) {
    fbuf f = {0};
    const char *g[] = {"g"};
    uint8_t types[] = {0x00, 0x01, 0x04, 0x7F, 0x80, 0x85, 0x88, 0xFF};
    for (size_t i = 0; i < sizeof types; i++) {
        fb_begin(&f, types[i]);
        fb_end(&f);
        char label[64];
        snprintf(label, sizeof label, "frame type 0x%02x", types[i]);
        expect_violation(f.b, f.n, label);
        fb_free(&f);
    }
    frame_message(&f, 6, 0, "#1#d1", g, 1, "x", 1);
    expect_violation(f.b, f.n, "message service 6");
    fb_free(&f);
    frame_message(&f, 255, 0, "#1#d1", g, 1, "x", 1);
    expect_violation(f.b, f.n, "message service 255");
    fb_free(&f);
    frame_membership(&f, "g", 1, 1, 1, 2, 0, members3, 1, members3, 1, members3, 1, NULL, 0);
    expect_violation(f.b, f.n, "membership kind 2");
    fb_free(&f);
    frame_membership(&f, "g", 1, 1, 1, 0, 4, members3, 1, members3, 1, members3, 1, NULL, 0);
    expect_violation(f.b, f.n, "membership reason 4");
    fb_free(&f);

    /* Empty bodies of types that have fields. */
    unsigned with_fields[] = {0x81, 0x82, 0x83, 0x84, 0x87};
    for (size_t i = 0; i < sizeof with_fields / sizeof with_fields[0]; i++) {
        fb_begin(&f, with_fields[i]);
        fb_end(&f);
        expect_violation(f.b, f.n, "an empty body");
        fb_free(&f);
    }
    /* An empty status reply is an empty JSON text: allowed (the body is "rest"). */
    fb_begin(&f, 0x86);
    fb_end(&f);
    chorus_event ev;
    size_t used = 0;
    CHECK(chorus_decode_frame(f.b, f.n, &used, &ev, NULL, 0) == CHORUS_EVENT_STATUS && ev.status.len == 0);
    chorus_event_free(&ev);
    fb_free(&f);
}

static void test_utf8(void) {
    const char *bad[] = {
        "\x80",             /* a lone continuation byte */
        "\xC0\x80",         /* overlong NUL */
        "\xC1\xBF",         /* overlong */
        "\xE0\x80\x80",     /* overlong */
        "\xED\xA0\x80",     /* a surrogate */
        "\xF4\x90\x80\x80", /* above U+10FFFF */
        "\xF5\x80\x80\x80", /* never valid */
        "ab\xC3",           /* cut in the middle */
        "\xE6\x97",         /* cut in the middle */
        "\xFF",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fbuf f = {0};
        const char *g[] = {bad[i]};
        char label[64];
        frame_message(&f, 1, 0, "#1#d1", g, 1, "", 0);
        snprintf(label, sizeof label, "group name with bad UTF-8 #%zu", i);
        expect_violation(f.b, f.n, label);
        fb_free(&f);
        frame_welcome(&f, 3, bad[i], "d1", 1);
        expect_violation(f.b, f.n, "welcome with bad UTF-8");
        fb_free(&f);
        frame_error(&f, 1, bad[i]);
        expect_violation(f.b, f.n, "error text with bad UTF-8");
        fb_free(&f);
    }
    /* The payload is bytes, not text. */
    fbuf f = {0};
    const char *g[] = {"g"};
    frame_message(&f, 1, 0, "#1#d1", g, 1, "\xFF\xFE", 2);
    chorus_event ev;
    CHECK(decode_one(&f, &ev) == CHORUS_EVENT_MESSAGE);
    chorus_event_free(&ev);
    fb_free(&f);
}

static void test_view_compare(void) {
    chorus_view_id a = {1, 2, 3}, b = {1, 2, 4}, c = {1, 3, 0}, d = {2, 0, 0};
    CHECK(chorus_view_id_compare(&a, &a) == 0);
    CHECK(chorus_view_id_compare(&a, &b) < 0 && chorus_view_id_compare(&b, &a) > 0);
    CHECK(chorus_view_id_compare(&b, &c) < 0);
    CHECK(chorus_view_id_compare(&c, &d) < 0);
}

static void test_strerror(void) {
    CHECK(strcmp(chorus_strerror(CHORUS_OK), "success") == 0);
    CHECK(CHORUS_ERR_FROM_DAEMON(6) == CHORUS_ERR_INVALID_NAME);
    CHECK(CHORUS_ERR_FROM_DAEMON(19) == CHORUS_ERR_RELOAD_FAILED);
    CHECK(CHORUS_DAEMON_CODE(CHORUS_ERR_NAME_IN_USE) == 7);
    CHECK(CHORUS_IS_DAEMON_ERROR(CHORUS_ERR_MALFORMED_FRAME) && !CHORUS_IS_DAEMON_ERROR(CHORUS_ERR_SYSTEM));
    const char *seen[64] = {0};
    int codes[] = {CHORUS_ERR_BAD_ARGUMENT, CHORUS_ERR_COULD_NOT_CONNECT, CHORUS_ERR_CONNECTION_LOST,
                   CHORUS_ERR_PROTOCOL, CHORUS_ERR_TIMEOUT, CHORUS_ERR_NO_MEMORY, CHORUS_ERR_MESSAGE_TOO_LONG,
                   CHORUS_ERR_SYSTEM};
    size_t n = 0;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) seen[n++] = chorus_strerror(codes[i]);
    for (int code = 1; code <= 19; code++) seen[n++] = chorus_strerror(CHORUS_ERR_FROM_DAEMON(code));
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) CHECK(strcmp(seen[i], seen[j]) != 0); /* all distinct */
    }
    CHECK(strstr(chorus_strerror(CHORUS_ERR_FROM_DAEMON(4000)), "unknown") != NULL);
}

/* Every file of the seed corpus is a stream of valid frames. */
static void test_corpus(const char *dir) {
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) return;
    int files = 0;
    unsigned kinds = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *fp = fopen(path, "rb");
        if (!fp) continue;
        fbuf f = {0};
        uint8_t chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) fb_bytes(&f, chunk, n);
        fclose(fp);
        size_t off = 0;
        int frames = 0;
        while (off < f.n) {
            chorus_event ev;
            size_t used = 0;
            char why[256];
            int rc = chorus_decode_frame(f.b + off, f.n - off, &used, &ev, why, sizeof why);
            if (rc <= 0) {
                fprintf(stderr, "  corpus file %s: frame %d at %zu: %d %s\n", path, frames, off, rc, why);
                failures++;
                break;
            }
            kinds |= 1u << rc;
            chorus_event_free(&ev);
            off += used;
            frames++;
        }
        files++;
        fb_free(&f);
    }
    closedir(d);
    CHECK(files > 0);
    for (int k = CHORUS_EVENT_MESSAGE; k <= CHORUS_EVENT_WELCOME; k++) CHECK(kinds & (1u << k));
}

int main(int argc, char **argv) {
    test_valid_frames();
    test_stream();
    test_truncated_and_leftover();
    test_lengths();
    test_counts_beyond_bytes();
    test_bad_values();
    test_utf8();
    test_view_compare();
    test_strerror();
    if (argc > 1) test_corpus(argv[1]);
    if (failures) {
        fprintf(stderr, "test_decoder: %d of %d checks FAILED\n", failures, checks);
        return 1;
    }
    printf("test_decoder: all %d checks passed\n", checks);
    return 0;
}
