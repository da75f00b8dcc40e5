/*
 * Session-level tests against a scripted fake daemon on a Unix socket (no chorusd needed):
 * what a session does when the daemon sends malformed frames, a second welcome, an
 * oversized length, an unknown error code, half a frame, or nothing at all.
 */
#define _POSIX_C_SOURCE 200809L

#include "chorus.h"
#include "frames.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define REQUIRE(cond, ...)                                                                  \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "    %s:%d: requirement failed: %s\n      ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fputc('\n', stderr);                                                            \
            return -1;                                                                      \
        }                                                                                   \
    } while (0)

static char dir[256];

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The fake daemon: accepts one client, reads its connect frame, writes `script`, then
   either closes at once or holds the connection until the client goes. */
struct fake {
    char path[300];
    int listener;
    fbuf script;
    int hold;
    pthread_t thread;
};

static void *fake_run(void *arg) {
    struct fake *f = arg;
    int fd = accept(f->listener, NULL, NULL);
    if (fd < 0) return NULL;
    uint8_t buf[2048];
    size_t got = 0;
    /* The connect frame: a length, then that many bytes. */
    while (got < 4 || got < 4 + (((size_t)buf[0] << 24) | ((size_t)buf[1] << 16) | ((size_t)buf[2] << 8) | buf[3])) {
        ssize_t n = read(fd, buf + got, sizeof buf - got);
        if (n <= 0) break;
        got += (size_t)n;
        if (got == sizeof buf) break;
    }
    if (f->script.n > 0) {
        size_t off = 0;
        while (off < f->script.n) {
            ssize_t n = write(fd, f->script.b + off, f->script.n - off);
            if (n <= 0) break;
            off += (size_t)n;
        }
    }
    if (f->hold) {
        while (read(fd, buf, sizeof buf) > 0) {
        }
    }
    close(fd);
    return NULL;
}

static int fake_start(struct fake *f, const char *name, int hold) {
    snprintf(f->path, sizeof f->path, "%s/%s.sock", dir, name);
    f->hold = hold;
    f->listener = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(f->path) >= sizeof addr.sun_path) {
        fprintf(stderr, "socket path too long: %s\n", f->path);
        return -1;
    }
    memcpy(addr.sun_path, f->path, strlen(f->path) + 1);
    unlink(f->path);
    if (f->listener < 0 || bind(f->listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(f->listener, 4) < 0) {
        perror("fake daemon");
        return -1;
    }
    return pthread_create(&f->thread, NULL, fake_run, f) == 0 ? 0 : -1;
}

static void fake_stop(struct fake *f) {
    pthread_join(f->thread, NULL);
    close(f->listener);
    unlink(f->path);
    fb_free(&f->script);
}

static void welcome(fbuf *b) { frame_welcome(b, 3, "#1#d9", "fake", 1000); }

/* welcome, then a frame the protocol does not allow: the session ends with CHORUS_ERR_PROTOCOL. */
static int test_malformed_after_welcome(void) {
    struct fake f = {0};
    const char *g[] = {"g"};
    welcome(&f.script);
    frame_message(&f.script, 0, 1, "#2#d9", g, 1, "ok", 2);
    frame_message(&f.script, 9, 1, "#2#d9", g, 1, "bad service", 11);
    if (fake_start(&f, "malformed", 1) < 0) return -1;
    chorus_session *s = NULL;
    int rc = chorus_connect_timeout(f.path, "c", 0, NULL, 3000, &s);
    REQUIRE(rc == CHORUS_OK, "connect: %s (%s)", chorus_strerror(rc), chorus_error_text(NULL));
    REQUIRE(strcmp(chorus_private_group(s), "#1#d9") == 0 && strcmp(chorus_daemon_name(s), "fake") == 0, "welcome");
    REQUIRE(chorus_max_payload(s) == 1000 && chorus_welcome_version(s) == 3, "welcome fields");
    chorus_event ev;
    REQUIRE(chorus_receive(s, &ev, 3000) == CHORUS_EVENT_MESSAGE, "the valid message first");
    chorus_event_free(&ev);
    rc = chorus_receive(s, &ev, 3000);
    REQUIRE(rc == CHORUS_ERR_PROTOCOL && ev.kind == CHORUS_EVENT_NONE, "got %d", rc);
    REQUIRE(strstr(chorus_error_text(s), "service 9") != NULL, "text: %s", chorus_error_text(s));
    REQUIRE(chorus_receive(s, &ev, 100) == CHORUS_ERR_PROTOCOL, "again");
    REQUIRE(chorus_join(s, "g") == CHORUS_ERR_PROTOCOL && chorus_poll(s) == CHORUS_ERR_PROTOCOL, "sticky");
    chorus_disconnect(s);
    fake_stop(&f);
    return 0;
}

static int test_second_welcome(void) {
    struct fake f = {0};
    welcome(&f.script);
    welcome(&f.script);
    if (fake_start(&f, "welcome2", 1) < 0) return -1;
    chorus_session *s = NULL;
    REQUIRE(chorus_connect_timeout(f.path, "c", 0, NULL, 3000, &s) == CHORUS_OK, "connect");
    chorus_event ev;
    REQUIRE(chorus_receive(s, &ev, 3000) == CHORUS_ERR_PROTOCOL && ev.kind == CHORUS_EVENT_NONE, "second welcome");
    chorus_disconnect(s);
    fake_stop(&f);
    return 0;
}

/* A length field above the maximum fails at once, without waiting for (or allocating) the body. */
static int test_oversized_length(void) {
    struct fake f = {0};
    welcome(&f.script);
    fb_u32(&f.script, 0xFFFFFFF0u);
    fb_u8(&f.script, 0x82);
    if (fake_start(&f, "oversized", 1) < 0) return -1;
    chorus_session *s = NULL;
    REQUIRE(chorus_connect_timeout(f.path, "c", 0, NULL, 3000, &s) == CHORUS_OK, "connect");
    chorus_event ev;
    int64_t t0 = now_ms();
    int rc = chorus_receive(s, &ev, 3000);
    REQUIRE(rc == CHORUS_ERR_PROTOCOL, "got %d", rc);
    REQUIRE(now_ms() - t0 < 1000, "waited %lld ms", (long long)(now_ms() - t0));
    chorus_disconnect(s);
    fake_stop(&f);
    return 0;
}

static int test_length_zero_instead_of_welcome(void) {
    struct fake f = {0};
    fb_u32(&f.script, 0);
    if (fake_start(&f, "zero", 1) < 0) return -1;
    chorus_session *s = NULL;
    int rc = chorus_connect_timeout(f.path, "c", 0, NULL, 3000, &s);
    REQUIRE(rc == CHORUS_ERR_PROTOCOL && s == NULL, "got %d", rc);
    REQUIRE(strstr(chorus_error_text(NULL), "length 0") != NULL, "text: %s", chorus_error_text(NULL));
    fake_stop(&f);
    return 0;
}

static int test_message_before_welcome(void) {
    struct fake f = {0};
    frame_status(&f.script, "{}");
    if (fake_start(&f, "early", 1) < 0) return -1;
    chorus_session *s = NULL;
    int rc = chorus_connect_timeout(f.path, "c", 0, NULL, 3000, &s);
    REQUIRE(rc == CHORUS_ERR_PROTOCOL && s == NULL, "got %d", rc);
    fake_stop(&f);
    return 0;
}

static int test_closed_before_welcome(void) {
    struct fake f = {0};
    if (fake_start(&f, "closed", 0) < 0) return -1;
    chorus_session *s = NULL;
    int rc = chorus_connect_timeout(f.path, "c", 0, NULL, 3000, &s);
    REQUIRE(rc == CHORUS_ERR_CONNECTION_LOST && s == NULL, "got %d", rc);
    fake_stop(&f);
    return 0;
}

static int test_no_answer_times_out(void) {
    struct fake f = {0};
    welcome(&f.script);
    f.script.n = 0; /* says nothing, holds the connection */
    if (fake_start(&f, "silent", 1) < 0) return -1;
    chorus_session *s = NULL;
    int64_t t0 = now_ms();
    int rc = chorus_connect_timeout(f.path, "c", 0, NULL, 300, &s);
    int64_t took = now_ms() - t0;
    REQUIRE(rc == CHORUS_ERR_TIMEOUT && s == NULL, "got %d", rc);
    REQUIRE(took >= 290 && took < 2000, "took %lld ms", (long long)took);
    fake_stop(&f);
    return 0;
}

/* The connection ends in the middle of a frame: the frames before it, then connection lost. */
static int test_eof_inside_frame(void) {
    struct fake f = {0};
    welcome(&f.script);
    frame_status(&f.script, "{\"a\":1}");
    fbuf whole = {0};
    frame_status(&whole, "{\"b\":2}");
    fb_bytes(&f.script, whole.b, whole.n - 3);
    fb_free(&whole);
    if (fake_start(&f, "halfframe", 0) < 0) return -1;
    chorus_session *s = NULL;
    REQUIRE(chorus_connect_timeout(f.path, "c", 0, NULL, 3000, &s) == CHORUS_OK, "connect");
    chorus_event ev;
    REQUIRE(chorus_receive(s, &ev, 3000) == CHORUS_EVENT_STATUS && strcmp(ev.status.json, "{\"a\":1}") == 0, "first");
    chorus_event_free(&ev);
    int rc = chorus_receive(s, &ev, 3000);
    REQUIRE(rc == CHORUS_ERR_CONNECTION_LOST, "got %d", rc);
    REQUIRE(chorus_poll(s) == CHORUS_ERR_CONNECTION_LOST, "poll");
    REQUIRE(chorus_multicast(s, CHORUS_AGREED, (const char *[]){"g"}, 1, 0, "x", 1, 0) == CHORUS_ERR_CONNECTION_LOST,
            "multicast");
    chorus_disconnect(s);
    fake_stop(&f);
    return 0;
}

/* An error code this client does not know still ends the session, with its code and text. */
static int test_unknown_error_code(void) {
    struct fake f = {0};
    welcome(&f.script);
    frame_error(&f.script, 4000, "something new");
    if (fake_start(&f, "newcode", 0) < 0) return -1;
    chorus_session *s = NULL;
    REQUIRE(chorus_connect_timeout(f.path, "c", 0, NULL, 3000, &s) == CHORUS_OK, "connect");
    chorus_event ev;
    int rc = chorus_receive(s, &ev, 3000);
    REQUIRE(rc == CHORUS_ERR_FROM_DAEMON(4000) && CHORUS_DAEMON_CODE(rc) == 4000, "got %d", rc);
    REQUIRE(ev.kind == CHORUS_EVENT_ERROR && ev.error.code == 4000 && strcmp(ev.error.text, "something new") == 0,
            "event");
    chorus_event_free(&ev);
    REQUIRE(chorus_receive(s, &ev, 100) == CHORUS_ERR_FROM_DAEMON(4000), "sticky");
    chorus_disconnect(s);
    fake_stop(&f);
    return 0;
}

/* A refusal of the connect (error frame instead of welcome) gives the daemon's code. */
static int test_refused_with_error_frame(void) {
    struct fake f = {0};
    frame_error(&f.script, 13, "daemon fake has 1 sessions, its limit");
    if (fake_start(&f, "full", 0) < 0) return -1;
    chorus_session *s = NULL;
    int rc = chorus_connect_timeout(f.path, "c", 0, NULL, 3000, &s);
    REQUIRE(rc == CHORUS_ERR_TOO_MANY_SESSIONS && s == NULL, "got %d", rc);
    REQUIRE(strstr(chorus_error_text(NULL), "its limit") != NULL, "text %s", chorus_error_text(NULL));
    fake_stop(&f);
    return 0;
}

/* Many frames arriving in one read, and one frame arriving a byte at a time, decode alike. */
static int test_many_small_frames(void) {
    struct fake f = {0};
    welcome(&f.script);
    const char *g[] = {"g"};
    for (int i = 0; i < 5000; i++) {
        char text[16];
        snprintf(text, sizeof text, "%d", i);
        frame_message(&f.script, 4, (unsigned)(i & 0xffff), "#2#d9", g, 1, text, strlen(text));
    }
    if (fake_start(&f, "many", 1) < 0) return -1;
    chorus_session *s = NULL;
    REQUIRE(chorus_connect_timeout(f.path, "c", 0, NULL, 3000, &s) == CHORUS_OK, "connect");
    for (int i = 0; i < 5000; i++) {
        chorus_event ev;
        REQUIRE(chorus_receive(s, &ev, 3000) == CHORUS_EVENT_MESSAGE, "message %d", i);
        REQUIRE(ev.message.type == (i & 0xffff), "order");
        chorus_event_free(&ev);
    }
    chorus_event ev;
    REQUIRE(chorus_receive(s, &ev, 0) == CHORUS_ERR_TIMEOUT, "nothing more");
    /* The welcome's max payload (1000) is the local limit. */
    static char big[1001];
    REQUIRE(chorus_multicast(s, CHORUS_AGREED, g, 1, 0, big, 1001, 0) == CHORUS_ERR_MESSAGE_TOO_LONG, "1001 bytes");
    REQUIRE(chorus_multicast(s, CHORUS_AGREED, g, 1, 0, big, 1000, 0) == CHORUS_OK, "1000 bytes");
    chorus_disconnect(s);
    fake_stop(&f);
    return 0;
}

/* A frame larger than chorus_poll()'s read-ahead: poll() + chorus_poll() still get it whole. */
static int test_poll_large_frame(void) {
    struct fake f = {0};
    welcome(&f.script);
    size_t big = (size_t)6 << 20;
    char *json = malloc(big + 1);
    REQUIRE(json, "memory");
    memset(json, ' ', big);
    json[0] = '{';
    json[big - 1] = '}';
    json[big] = '\0';
    frame_status(&f.script, json);
    free(json);
    if (fake_start(&f, "bigpoll", 1) < 0) return -1;
    chorus_session *s = NULL;
    REQUIRE(chorus_connect_timeout(f.path, "c", 0, NULL, 3000, &s) == CHORUS_OK, "connect");
    int64_t deadline = now_ms() + 5000;
    int frames, wakeups = 0;
    while ((frames = chorus_poll(s)) == 0) {
        REQUIRE(now_ms() < deadline, "no whole frame after %d wakeups", wakeups);
        struct pollfd pfd = {.fd = chorus_fd(s), .events = POLLIN};
        REQUIRE(poll(&pfd, 1, 1000) >= 0, "poll");
        wakeups++;
    }
    REQUIRE(frames == 1, "frames %d", frames);
    chorus_event ev;
    REQUIRE(chorus_receive(s, &ev, 0) == CHORUS_EVENT_STATUS && ev.status.len == big, "the big frame");
    chorus_event_free(&ev);
    chorus_disconnect(s);
    fake_stop(&f);
    return 0;
}

int main(void) {
    snprintf(dir, sizeof dir, "%s/chorus-c-fake.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    alarm(30);
    struct {
        const char *name;
        int (*run)(void);
    } tests[] = {
        {"a malformed frame after the welcome", test_malformed_after_welcome},
        {"a second welcome", test_second_welcome},
        {"an oversized length field", test_oversized_length},
        {"length 0 instead of a welcome", test_length_zero_instead_of_welcome},
        {"another frame before the welcome", test_message_before_welcome},
        {"closed before the welcome", test_closed_before_welcome},
        {"no answer: connect times out", test_no_answer_times_out},
        {"the connection ends inside a frame", test_eof_inside_frame},
        {"an error code unknown to the client", test_unknown_error_code},
        {"connect refused with an error frame", test_refused_with_error_frame},
        {"5000 frames in a few reads", test_many_small_frames},
        {"chorus_poll() and a frame above its read-ahead", test_poll_large_frame},
    };
    int passed = 0, total = (int)(sizeof tests / sizeof tests[0]);
    for (int i = 0; i < total; i++) {
        if (tests[i].run() == 0) {
            passed++;
        } else {
            printf("FAIL - fake daemon: %s\n", tests[i].name);
            failures++;
        }
    }
    /* A failed test may have left its socket behind. */
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char path[600];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
    printf("test_fake_daemon: %d of %d tests passed\n", passed, total);
    return failures ? 1 : 0;
}
