/*
 * Integration tests of the C client against a real site of three chorusd processes,
 * started by tests/run.sh, which passes their addresses and PIDs in the environment:
 * CHORUS_TEST_TCP1..3, CHORUS_TEST_UNIX1..3, CHORUS_TEST_PID1..3,
 * CHORUS_TEST_CLOSED_PORT (a port of the site's block nothing listens on with TCP),
 * CHORUS_TEST_DIR (the site's temporary directory).
 *
 *   test_chorus --ports-free B exits 0 if the 12 ports from B are free for TCP and UDP
 *   test_chorus --wait-ready   waits until every daemon serves clients in one 3-daemon ring
 *   test_chorus [NAME...]      runs the tests (all, or those named); the fault test runs last
 *                              because it kills daemon d3
 *
 * Every receive has a time limit, and an alarm ends the program if it ever hangs.
 */
#define _POSIX_C_SOURCE 200809L

#include "chorus.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define REQUIRE(cond, ...)                                                                  \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "    %s:%d: requirement failed: %s\n      ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fputc('\n', stderr);                                                            \
            return -1;                                                                      \
        }                                                                                   \
    } while (0)

#define RECV_MS 5000 /* the default limit for one receive */

static const char *TCP[3], *UNIXP[3];
static pid_t PID[3];
static const char *CLOSED_PORT, *DIR_;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static const char *need_env(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "test_chorus: %s is not set (run me through tests/run.sh)\n", name);
        exit(2);
    }
    return v;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static chorus_session *open_session(const char *address, const char *name, int flags) {
    chorus_session *s = NULL;
    int rc = chorus_connect_timeout(address, name, flags, NULL, 5000, &s);
    if (rc != CHORUS_OK) {
        fprintf(stderr, "    connect %s as %s: %s (%s)\n", address, name, chorus_strerror(rc), chorus_error_text(NULL));
        return NULL;
    }
    return s;
}

static const char *kind_name(int kind) {
    switch (kind) {
    case CHORUS_EVENT_MESSAGE: return "message";
    case CHORUS_EVENT_MEMBERSHIP: return "membership";
    case CHORUS_EVENT_REFUSED: return "refused";
    case CHORUS_EVENT_STATUS: return "status";
    case CHORUS_EVENT_ERROR: return "error";
    default: return chorus_strerror(kind);
    }
}

/* Receives one event that must be of `kind`. */
static int expect_event(chorus_session *s, chorus_event *ev, int kind, int timeout_ms, const char *who) {
    int rc = chorus_receive(s, ev, timeout_ms);
    if (rc != kind) {
        fprintf(stderr, "    %s: expected a %s event, got %d (%s) %s\n", who, kind_name(kind), rc, kind_name(rc),
                rc < 0 ? chorus_error_text(s) : "");
        if (rc == CHORUS_EVENT_MEMBERSHIP)
            fprintf(stderr, "      (membership of '%s', %zu members, reason %d)\n", ev->membership.group,
                    ev->membership.nmembers, ev->membership.reason);
        if (rc == CHORUS_EVENT_MESSAGE)
            fprintf(stderr, "      (message from %s, %zu bytes)\n", ev->message.sender, ev->message.len);
        chorus_event_free(ev);
        return -1;
    }
    return 0;
}

/* Nothing arrives within `ms`. */
static int expect_quiet(chorus_session *s, int ms, const char *who) {
    chorus_event ev;
    int rc = chorus_receive(s, &ev, ms);
    if (rc != CHORUS_ERR_TIMEOUT) {
        fprintf(stderr, "    %s: expected nothing for %d ms, got %d (%s)\n", who, ms, rc, kind_name(rc));
        if (rc == CHORUS_EVENT_MESSAGE)
            fprintf(stderr, "      (message from %s: %.*s)\n", ev.message.sender, (int)ev.message.len,
                    (const char *)ev.message.payload);
        chorus_event_free(&ev);
        return -1;
    }
    return 0;
}

static int contains(const char *const *list, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0) return 1;
    return 0;
}

/* The list holds exactly these names, in any order. */
static int set_is(const char *const *list, size_t n, int count, ...) {
    if ((int)n != count) return 0;
    va_list ap;
    va_start(ap, count);
    int ok = 1;
    for (int i = 0; i < count; i++) {
        const char *name = va_arg(ap, const char *);
        if (!contains(list, n, name)) ok = 0;
    }
    va_end(ap);
    return ok;
}

static int same_list(const char *const *a, size_t na, const char *const *b, size_t nb) {
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0) return 0;
    return 1;
}

/* Every session joins `group`; then each waits for the regular view that has all of them. */
static int form_group(chorus_session **ss, int n, const char *group) {
    for (int i = 0; i < n; i++) REQUIRE(chorus_join(ss[i], group) == CHORUS_OK, "join %s", group);
    for (int i = 0; i < n; i++) {
        int64_t deadline = now_ms() + 10000;
        for (;;) {
            chorus_event ev;
            int left = (int)(deadline - now_ms());
            REQUIRE(left > 0, "session %d never saw all %d members of %s", i, n, group);
            if (expect_event(ss[i], &ev, CHORUS_EVENT_MEMBERSHIP, left, "forming a group") < 0) return -1;
            int done = strcmp(ev.membership.group, group) == 0 && ev.membership.kind == CHORUS_VIEW_REGULAR &&
                       (int)ev.membership.nmembers == n;
            chorus_event_free(&ev);
            if (done) break;
        }
    }
    return 0;
}

static int send_text(chorus_session *s, int service, const char *group, uint16_t type, const char *text, int flags) {
    const char *groups[] = {group};
    return chorus_multicast(s, service, groups, 1, type, text, strlen(text), flags);
}

static int payload_is(const chorus_event *ev, const char *text) {
    return ev->message.len == strlen(text) && memcmp(ev->message.payload, text, ev->message.len) == 0;
}

/* ---- the tests ------------------------------------------------------------------- */

static int check_status_reply(chorus_session *s, const char *daemon) {
    chorus_event ev;
    REQUIRE(chorus_status(s) == CHORUS_OK, "status request");
    if (expect_event(s, &ev, CHORUS_EVENT_STATUS, RECV_MS, "status") < 0) return -1;
    char want[64];
    snprintf(want, sizeof want, "\"daemon\":\"%s\"", daemon);
    int ok = strstr(ev.status.json, want) != NULL && ev.status.len == strlen(ev.status.json);
    if (!ok) fprintf(stderr, "    status JSON lacks %s: %.300s\n", want, ev.status.json);
    chorus_event_free(&ev);
    return ok ? 0 : -1;
}

static int test_connect_tcp_and_unix(void) {
    chorus_session *a = open_session(TCP[0], "conn-tcp", CHORUS_MEMBERSHIP);
    REQUIRE(a, "TCP connect");
    REQUIRE(strcmp(chorus_daemon_name(a), "d1") == 0, "daemon name %s", chorus_daemon_name(a));
    const char *pa = chorus_private_group(a);
    REQUIRE(pa[0] == '#' && ends_with(pa, "#d1"), "private group %s", pa);
    REQUIRE(chorus_max_payload(a) == (1u << 24), "max payload %u", (unsigned)chorus_max_payload(a));
    REQUIRE(chorus_welcome_version(a) >= 1, "welcome version %u", chorus_welcome_version(a));
    REQUIRE(chorus_fd(a) >= 0, "fd");

    chorus_session *b = open_session(UNIXP[1], "conn-unix", 0);
    REQUIRE(b, "Unix socket connect");
    REQUIRE(strcmp(chorus_daemon_name(b), "d2") == 0, "daemon name %s", chorus_daemon_name(b));
    const char *pb = chorus_private_group(b);
    REQUIRE(pb[0] == '#' && ends_with(pb, "#d2"), "private group %s", pb);

    if (check_status_reply(a, "d1") < 0 || check_status_reply(b, "d2") < 0) return -1;

    /* A bare port and a host name (which may resolve to ::1 first) reach d3 over TCP. */
    const char *port3 = strrchr(TCP[2], ':') + 1;
    chorus_session *c = open_session(port3, "conn-port", 0);
    REQUIRE(c && strcmp(chorus_daemon_name(c), "d3") == 0, "bare port %s", port3);
    char byname[64];
    snprintf(byname, sizeof byname, "localhost:%s", port3);
    chorus_session *d = open_session(byname, "conn-host", 0);
    REQUIRE(d && strcmp(chorus_daemon_name(d), "d3") == 0, "%s", byname);
    if (check_status_reply(d, "d3") < 0) return -1;

    REQUIRE(chorus_disconnect(a) == CHORUS_OK, "disconnect");
    REQUIRE(chorus_disconnect(b) == CHORUS_OK, "disconnect");
    REQUIRE(chorus_disconnect(c) == CHORUS_OK, "disconnect");
    REQUIRE(chorus_disconnect(d) == CHORUS_OK, "disconnect");
    REQUIRE(chorus_disconnect(NULL) == CHORUS_ERR_BAD_ARGUMENT, "disconnect NULL");
    return 0;
}

static int test_join_leave_membership(void) {
    chorus_session *A = open_session(TCP[0], "jl-a", CHORUS_MEMBERSHIP);
    chorus_session *B = open_session(UNIXP[1], "jl-b", CHORUS_MEMBERSHIP);
    chorus_session *C = open_session(TCP[2], "jl-c", CHORUS_MEMBERSHIP);
    REQUIRE(A && B && C, "connect");
    char pa[256], pb[256], pc[256]; /* copies: C's session ends before its name is checked */
    snprintf(pa, sizeof pa, "%s", chorus_private_group(A));
    snprintf(pb, sizeof pb, "%s", chorus_private_group(B));
    snprintf(pc, sizeof pc, "%s", chorus_private_group(C));
    chorus_event a1, a2, b2, a3, b3, c3, a4, b4, a5;

    /* A joins: its first view has only itself. */
    REQUIRE(chorus_join(A, "jl") == CHORUS_OK, "join");
    if (expect_event(A, &a1, CHORUS_EVENT_MEMBERSHIP, RECV_MS, "A, own join") < 0) return -1;
    const chorus_membership *m = &a1.membership;
    REQUIRE(strcmp(m->group, "jl") == 0, "group %s", m->group);
    REQUIRE(m->kind == CHORUS_VIEW_REGULAR, "kind %d", m->kind);
    REQUIRE(m->reason == CHORUS_REASON_JOIN, "reason %d", m->reason);
    REQUIRE(m->view.index != 0, "a regular view has index > 0");
    REQUIRE(set_is(m->members, m->nmembers, 1, pa), "members");
    REQUIRE(set_is(m->changed, m->nchanged, 1, pa), "changed");
    REQUIRE(set_is(m->added, m->nadded, 1, pa), "added");
    REQUIRE(m->nremoved == 0, "removed %zu", m->nremoved);

    /* B joins: A sees B added; B's first view adds every member. */
    REQUIRE(chorus_join(B, "jl") == CHORUS_OK, "join");
    if (expect_event(A, &a2, CHORUS_EVENT_MEMBERSHIP, RECV_MS, "A, B's join") < 0) return -1;
    if (expect_event(B, &b2, CHORUS_EVENT_MEMBERSHIP, RECV_MS, "B, own join") < 0) return -1;
    m = &a2.membership;
    REQUIRE(m->kind == CHORUS_VIEW_REGULAR && m->reason == CHORUS_REASON_JOIN, "kind/reason %d/%d", m->kind, m->reason);
    REQUIRE(set_is(m->members, m->nmembers, 2, pa, pb), "members");
    REQUIRE(set_is(m->changed, m->nchanged, 1, pb), "changed");
    REQUIRE(set_is(m->added, m->nadded, 1, pb), "added");
    REQUIRE(m->nremoved == 0, "removed");
    REQUIRE(chorus_view_id_compare(&a1.membership.view, &m->view) < 0, "view ids increase");
    const chorus_membership *mb = &b2.membership;
    REQUIRE(strcmp(mb->group, "jl") == 0 && mb->kind == CHORUS_VIEW_REGULAR && mb->reason == CHORUS_REASON_JOIN, "B's view");
    REQUIRE(chorus_view_id_compare(&m->view, &mb->view) == 0, "same view id at A and B");
    REQUIRE(same_list(m->members, m->nmembers, mb->members, mb->nmembers), "same members in the same order");
    REQUIRE(set_is(mb->changed, mb->nchanged, 1, pb), "B's changed");
    REQUIRE(set_is(mb->added, mb->nadded, 2, pa, pb), "B's added (its first view: every member)");
    REQUIRE(mb->nremoved == 0, "B's removed");

    /* C joins, then disconnects: a join view, then a disconnect view. */
    REQUIRE(chorus_join(C, "jl") == CHORUS_OK, "join");
    if (expect_event(A, &a3, CHORUS_EVENT_MEMBERSHIP, RECV_MS, "A, C's join") < 0) return -1;
    if (expect_event(B, &b3, CHORUS_EVENT_MEMBERSHIP, RECV_MS, "B, C's join") < 0) return -1;
    if (expect_event(C, &c3, CHORUS_EVENT_MEMBERSHIP, RECV_MS, "C, own join") < 0) return -1;
    REQUIRE(set_is(a3.membership.members, a3.membership.nmembers, 3, pa, pb, pc), "members");
    REQUIRE(same_list(a3.membership.members, 3, b3.membership.members, b3.membership.nmembers), "order A/B");
    REQUIRE(same_list(a3.membership.members, 3, c3.membership.members, c3.membership.nmembers), "order A/C");
    REQUIRE(chorus_view_id_compare(&a3.membership.view, &c3.membership.view) == 0, "same view at A and C");
    REQUIRE(set_is(a3.membership.added, a3.membership.nadded, 1, pc), "A's added");
    REQUIRE(set_is(b3.membership.added, b3.membership.nadded, 1, pc), "B's added");
    REQUIRE(set_is(c3.membership.added, c3.membership.nadded, 3, pa, pb, pc), "C's added");
    REQUIRE(set_is(c3.membership.changed, c3.membership.nchanged, 1, pc), "C's changed");
    REQUIRE(chorus_view_id_compare(&a2.membership.view, &a3.membership.view) < 0, "view ids increase");

    REQUIRE(chorus_disconnect(C) == CHORUS_OK, "disconnect");
    if (expect_event(A, &a4, CHORUS_EVENT_MEMBERSHIP, RECV_MS, "A, C's disconnect") < 0) return -1;
    if (expect_event(B, &b4, CHORUS_EVENT_MEMBERSHIP, RECV_MS, "B, C's disconnect") < 0) return -1;
    m = &a4.membership;
    REQUIRE(m->kind == CHORUS_VIEW_REGULAR && m->reason == CHORUS_REASON_DISCONNECT, "kind/reason %d/%d", m->kind,
            m->reason);
    REQUIRE(set_is(m->members, m->nmembers, 2, pa, pb), "members");
    REQUIRE(set_is(m->changed, m->nchanged, 1, pc), "changed");
    REQUIRE(m->nadded == 0, "added");
    REQUIRE(set_is(m->removed, m->nremoved, 1, pc), "removed");
    REQUIRE(chorus_view_id_compare(&m->view, &b4.membership.view) == 0, "same view at A and B");
    REQUIRE(chorus_view_id_compare(&a3.membership.view, &m->view) < 0, "view ids increase");
    REQUIRE(b4.membership.reason == CHORUS_REASON_DISCONNECT && set_is(b4.membership.removed, b4.membership.nremoved, 1, pc),
            "B's disconnect view");

    /* B leaves: A sees it; B, no longer a member, gets no view of the group. */
    REQUIRE(chorus_leave(B, "jl") == CHORUS_OK, "leave");
    if (expect_event(A, &a5, CHORUS_EVENT_MEMBERSHIP, RECV_MS, "A, B's leave") < 0) return -1;
    m = &a5.membership;
    REQUIRE(m->kind == CHORUS_VIEW_REGULAR && m->reason == CHORUS_REASON_LEAVE, "kind/reason %d/%d", m->kind, m->reason);
    REQUIRE(set_is(m->members, m->nmembers, 1, pa), "members");
    REQUIRE(set_is(m->changed, m->nchanged, 1, pb), "changed");
    REQUIRE(m->nadded == 0, "added");
    REQUIRE(set_is(m->removed, m->nremoved, 1, pb), "removed");
    REQUIRE(chorus_view_id_compare(&a4.membership.view, &m->view) < 0, "view ids increase");
    if (expect_quiet(B, 300, "B after its leave") < 0) return -1;

    /* Leaving a group one is not in is not an error; the session goes on. */
    REQUIRE(chorus_leave(B, "jl") == CHORUS_OK, "second leave");
    if (check_status_reply(B, "d2") < 0) return -1;

    chorus_event *all[] = {&a1, &a2, &b2, &a3, &b3, &c3, &a4, &b4, &a5};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) chorus_event_free(all[i]);
    chorus_disconnect(A);
    chorus_disconnect(B);
    return 0;
}

static int test_every_service(void) {
    chorus_session *s[3] = {open_session(TCP[0], "svc-a", CHORUS_MEMBERSHIP),
                            open_session(UNIXP[1], "svc-b", CHORUS_MEMBERSHIP),
                            open_session(UNIXP[2], "svc-c", CHORUS_MEMBERSHIP)};
    REQUIRE(s[0] && s[1] && s[2], "connect");
    if (form_group(s, 3, "svc") < 0) return -1;
    const char *pa = chorus_private_group(s[0]);
    for (int svc = CHORUS_UNRELIABLE; svc <= CHORUS_SAFE; svc++) {
        char text[32];
        snprintf(text, sizeof text, "service-%d", svc);
        REQUIRE(send_text(s[0], svc, "svc", (uint16_t)(100 + svc), text, 0) == CHORUS_OK, "multicast %d", svc);
    }
    for (int i = 0; i < 3; i++) {
        int seen[6] = {0};
        for (int k = 0; k < 6; k++) {
            chorus_event ev;
            if (expect_event(s[i], &ev, CHORUS_EVENT_MESSAGE, RECV_MS, "service messages") < 0) return -1;
            const chorus_message *m = &ev.message;
            REQUIRE(m->service >= 0 && m->service <= 5, "service %d", m->service);
            char text[32];
            snprintf(text, sizeof text, "service-%d", m->service);
            REQUIRE(strcmp(m->sender, pa) == 0, "sender %s", m->sender);
            REQUIRE(m->ngroups == 1 && strcmp(m->groups[0], "svc") == 0, "groups");
            REQUIRE(m->type == 100 + m->service, "type %u for service %d", m->type, m->service);
            REQUIRE(payload_is(&ev, text), "payload %.*s", (int)m->len, (const char *)m->payload);
            seen[m->service]++;
            chorus_event_free(&ev);
        }
        for (int svc = 0; svc < 6; svc++) REQUIRE(seen[svc] == 1, "receiver %d got service %d %d times", i, svc, seen[svc]);
    }
    for (int i = 0; i < 3; i++) chorus_disconnect(s[i]);
    return 0;
}

/* ---- agreed order under concurrent senders ---- */

#define ORDER_SENDERS 3
#define ORDER_MESSAGES 300

struct order_sender {
    chorus_session *s;
    int index;
    pthread_barrier_t *start;
    int rc;
};

struct order_receiver {
    chorus_session *s;
    char (*log)[48]; /* "sender-index:seq" per delivery */
    int count;
    int rc;
};

static void *order_send(void *arg) {
    struct order_sender *o = arg;
    pthread_barrier_wait(o->start);
    for (int seq = 0; seq < ORDER_MESSAGES; seq++) {
        char text[48];
        snprintf(text, sizeof text, "%d:%d", o->index, seq);
        o->rc = send_text(o->s, CHORUS_AGREED, "ord", (uint16_t)o->index, text, 0);
        if (o->rc != CHORUS_OK) return NULL;
        if (seq % 4 == 3) sleep_ms(1); /* bursts, so the senders' messages interleave */
    }
    return NULL;
}

static void *order_receive(void *arg) {
    struct order_receiver *o = arg;
    int total = ORDER_SENDERS * ORDER_MESSAGES;
    while (o->count < total) {
        chorus_event ev;
        int rc = chorus_receive(o->s, &ev, 10000);
        if (rc != CHORUS_EVENT_MESSAGE) {
            o->rc = rc;
            chorus_event_free(&ev);
            return NULL;
        }
        snprintf(o->log[o->count], sizeof o->log[0], "%.*s", (int)ev.message.len, (const char *)ev.message.payload);
        o->count++;
        chorus_event_free(&ev);
    }
    return NULL;
}

static int test_agreed_order(void) {
    chorus_session *recv[3], *send[ORDER_SENDERS];
    const char *names_r[] = {"ord-r1", "ord-r2", "ord-r3"};
    const char *names_s[] = {"ord-s1", "ord-s2", "ord-s3"};
    for (int i = 0; i < 3; i++) {
        recv[i] = open_session(i == 1 ? UNIXP[i] : TCP[i], names_r[i], CHORUS_MEMBERSHIP);
        send[i] = open_session(i == 1 ? TCP[i] : UNIXP[i], names_s[i], 0);
        REQUIRE(recv[i] && send[i], "connect");
    }
    if (form_group(recv, 3, "ord") < 0) return -1;

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, ORDER_SENDERS);
    struct order_sender so[ORDER_SENDERS];
    struct order_receiver ro[3];
    pthread_t ts[ORDER_SENDERS], tr[3];
    int total = ORDER_SENDERS * ORDER_MESSAGES;
    for (int i = 0; i < 3; i++) {
        ro[i] = (struct order_receiver){.s = recv[i], .log = calloc((size_t)total, sizeof *ro[i].log), .count = 0, .rc = 0};
        REQUIRE(ro[i].log, "memory");
        pthread_create(&tr[i], NULL, order_receive, &ro[i]);
    }
    for (int i = 0; i < ORDER_SENDERS; i++) {
        so[i] = (struct order_sender){.s = send[i], .index = i, .start = &start, .rc = 0};
        pthread_create(&ts[i], NULL, order_send, &so[i]);
    }
    for (int i = 0; i < ORDER_SENDERS; i++) pthread_join(ts[i], NULL);
    for (int i = 0; i < 3; i++) pthread_join(tr[i], NULL);
    pthread_barrier_destroy(&start);

    for (int i = 0; i < ORDER_SENDERS; i++) REQUIRE(so[i].rc == CHORUS_OK, "sender %d: %s", i, chorus_strerror(so[i].rc));
    for (int i = 0; i < 3; i++)
        REQUIRE(ro[i].count == total, "receiver %d got %d of %d, then %s", i, ro[i].count, total, kind_name(ro[i].rc));
    /* The same sequence at every receiver, each sender's messages in its order. */
    for (int k = 0; k < total; k++) {
        REQUIRE(strcmp(ro[0].log[k], ro[1].log[k]) == 0 && strcmp(ro[0].log[k], ro[2].log[k]) == 0,
                "delivery %d differs: %s / %s / %s", k, ro[0].log[k], ro[1].log[k], ro[2].log[k]);
    }
    int next[ORDER_SENDERS] = {0};
    int interleavings = 0;
    for (int k = 0; k < total; k++) {
        int who = -1, seq = -1;
        REQUIRE(sscanf(ro[0].log[k], "%d:%d", &who, &seq) == 2 && who >= 0 && who < ORDER_SENDERS, "payload %s",
                ro[0].log[k]);
        REQUIRE(seq == next[who], "sender %d: got %d, expected %d", who, seq, next[who]);
        next[who]++;
        if (k > 0 && ro[0].log[k][0] != ro[0].log[k - 1][0]) interleavings++;
    }
    printf("    %d agreed messages from %d concurrent senders, the same order at 3 receivers (%d sender switches)\n",
           total, ORDER_SENDERS, interleavings);
    for (int i = 0; i < 3; i++) {
        free(ro[i].log);
        chorus_disconnect(recv[i]);
        chorus_disconnect(send[i]);
    }
    return 0;
}

static int test_self_discard(void) {
    chorus_session *s[2] = {open_session(TCP[0], "sd-a", CHORUS_MEMBERSHIP), open_session(TCP[1], "sd-b", CHORUS_MEMBERSHIP)};
    REQUIRE(s[0] && s[1], "connect");
    if (form_group(s, 2, "sd") < 0) return -1;
    REQUIRE(send_text(s[0], CHORUS_AGREED, "sd", 1, "discarded", CHORUS_SELF_DISCARD) == CHORUS_OK, "multicast");
    REQUIRE(send_text(s[0], CHORUS_AGREED, "sd", 2, "kept", 0) == CHORUS_OK, "multicast");
    chorus_event ev;
    if (expect_event(s[0], &ev, CHORUS_EVENT_MESSAGE, RECV_MS, "sender") < 0) return -1;
    REQUIRE(ev.message.type == 2 && payload_is(&ev, "kept"), "the sender got its self-discarded message");
    chorus_event_free(&ev);
    if (expect_quiet(s[0], 200, "sender") < 0) return -1;
    if (expect_event(s[1], &ev, CHORUS_EVENT_MESSAGE, RECV_MS, "other member") < 0) return -1;
    REQUIRE(ev.message.type == 1 && payload_is(&ev, "discarded"), "first message at the other member");
    chorus_event_free(&ev);
    if (expect_event(s[1], &ev, CHORUS_EVENT_MESSAGE, RECV_MS, "other member") < 0) return -1;
    REQUIRE(ev.message.type == 2 && payload_is(&ev, "kept"), "second message at the other member");
    chorus_event_free(&ev);
    chorus_disconnect(s[0]);
    chorus_disconnect(s[1]);
    return 0;
}

static int test_multigroup(void) {
    chorus_session *A = open_session(TCP[0], "mg-a", CHORUS_MEMBERSHIP);
    chorus_session *B = open_session(UNIXP[1], "mg-b", CHORUS_MEMBERSHIP);
    chorus_session *C = open_session(TCP[2], "mg-c", CHORUS_MEMBERSHIP);
    chorus_session *D = open_session(TCP[1], "mg-d", 0); /* sends, is in no group */
    REQUIRE(A && B && C && D, "connect");
    chorus_session *g1[] = {A, C}, *g2[] = {B, C};
    if (form_group(g1, 2, "mg1") < 0 || form_group(g2, 2, "mg2") < 0) return -1;
    const char *both[] = {"mg1", "mg2"};
    REQUIRE(chorus_multicast(D, CHORUS_AGREED, both, 2, 5, "both", 4, 0) == CHORUS_OK, "multicast");
    REQUIRE(chorus_multicast(D, CHORUS_AGREED, both, 2, 6, "end", 3, 0) == CHORUS_OK, "multicast");
    chorus_session *rx[] = {A, B, C};
    for (int i = 0; i < 3; i++) {
        chorus_event ev;
        if (expect_event(rx[i], &ev, CHORUS_EVENT_MESSAGE, RECV_MS, "multigroup") < 0) return -1;
        REQUIRE(payload_is(&ev, "both") && ev.message.type == 5, "first message at %d", i);
        REQUIRE(strcmp(ev.message.sender, chorus_private_group(D)) == 0, "sender");
        REQUIRE(same_list(ev.message.groups, ev.message.ngroups, both, 2), "groups as addressed");
        chorus_event_free(&ev);
        /* A member of both groups gets the message once: the next one is "end". */
        if (expect_event(rx[i], &ev, CHORUS_EVENT_MESSAGE, RECV_MS, "multigroup") < 0) return -1;
        REQUIRE(payload_is(&ev, "end"), "receiver %d got '%.*s' instead of the second message", i, (int)ev.message.len,
                (const char *)ev.message.payload);
        chorus_event_free(&ev);
    }
    if (expect_quiet(D, 100, "sender outside the groups") < 0) return -1;
    chorus_disconnect(A);
    chorus_disconnect(B);
    chorus_disconnect(C);
    chorus_disconnect(D);
    return 0;
}

static int test_private_group(void) {
    chorus_session *A = open_session(TCP[0], "pg-a", CHORUS_MEMBERSHIP);
    chorus_session *B = open_session(UNIXP[2], "pg-b", CHORUS_MEMBERSHIP);
    chorus_session *C = open_session(TCP[1], "pg-c", CHORUS_MEMBERSHIP);
    REQUIRE(A && B && C, "connect");
    chorus_session *ac[] = {A, C};
    if (form_group(ac, 2, "pg-shared") < 0) return -1; /* C shares a group with A, not with B */
    const char *pa = chorus_private_group(A), *pb = chorus_private_group(B), *pc = chorus_private_group(C);

    REQUIRE(send_text(A, CHORUS_RELIABLE, pb, 9, "for b only", 0) == CHORUS_OK, "multicast to %s", pb);
    chorus_event ev;
    if (expect_event(B, &ev, CHORUS_EVENT_MESSAGE, RECV_MS, "B") < 0) return -1;
    REQUIRE(strcmp(ev.message.sender, pa) == 0 && ev.message.type == 9 && payload_is(&ev, "for b only"), "message");
    REQUIRE(ev.message.ngroups == 1 && strcmp(ev.message.groups[0], pb) == 0, "groups");
    chorus_event_free(&ev);

    /* To one's own private group, and to two private groups at once. */
    REQUIRE(send_text(A, CHORUS_AGREED, pa, 10, "to myself", 0) == CHORUS_OK, "multicast");
    if (expect_event(A, &ev, CHORUS_EVENT_MESSAGE, RECV_MS, "A") < 0) return -1;
    REQUIRE(payload_is(&ev, "to myself") && strcmp(ev.message.groups[0], pa) == 0, "own private group");
    chorus_event_free(&ev);
    const char *two[] = {pa, pc};
    REQUIRE(chorus_multicast(B, CHORUS_FIFO, two, 2, 11, "to a and c", 10, 0) == CHORUS_OK, "multicast");
    chorus_session *rx[] = {A, C};
    for (int i = 0; i < 2; i++) {
        if (expect_event(rx[i], &ev, CHORUS_EVENT_MESSAGE, RECV_MS, "two private groups") < 0) return -1;
        REQUIRE(payload_is(&ev, "to a and c") && strcmp(ev.message.sender, pb) == 0, "message");
        REQUIRE(same_list(ev.message.groups, ev.message.ngroups, two, 2), "groups");
        chorus_event_free(&ev);
    }
    if (expect_quiet(C, 200, "C") < 0 || expect_quiet(A, 1, "A") < 0 || expect_quiet(B, 1, "B") < 0) return -1;
    chorus_disconnect(A);
    chorus_disconnect(B);
    chorus_disconnect(C);
    return 0;
}

static int expect_connect_error(const char *address, const char *name, int flags, const char *token, int want,
                                const char *what) {
    chorus_session *s = (chorus_session *)&s; /* must be reset to NULL */
    int rc = chorus_connect_timeout(address, name, flags, token, 5000, &s);
    REQUIRE(rc == want, "%s: got %d (%s: %s), expected %d (%s)", what, rc, chorus_strerror(rc),
            chorus_error_text(NULL), want, chorus_strerror(want));
    REQUIRE(s == NULL, "%s: session not NULL", what);
    REQUIRE(chorus_error_text(NULL)[0] != '\0', "%s: no error text", what);
    return 0;
}

static int test_refused_connect(void) {
    /* The daemon judges names: these reach it and come back refused. */
    if (expect_connect_error(TCP[0], "bad name!", 0, NULL, CHORUS_ERR_INVALID_NAME, "bad name") < 0) return -1;
    REQUIRE(strstr(chorus_error_text(NULL), "bad name!") != NULL, "error text: %s", chorus_error_text(NULL));
    if (expect_connect_error(UNIXP[1], "", 0, NULL, CHORUS_ERR_INVALID_NAME, "empty name") < 0) return -1;
    if (expect_connect_error(TCP[2], "abcdefghijklmnopqrstuvwxyz0123456", 0, NULL, CHORUS_ERR_INVALID_NAME,
                             "33-byte name") < 0)
        return -1;
    chorus_session *a = open_session(UNIXP[0], "dup-name", 0);
    REQUIRE(a, "connect");
    if (expect_connect_error(TCP[0], "dup-name", 0, NULL, CHORUS_ERR_NAME_IN_USE, "name in use") < 0) return -1;
    chorus_session *b = open_session(TCP[1], "dup-name", 0); /* unique per daemon only */
    REQUIRE(b, "the same name on another daemon");
    if (expect_connect_error(TCP[0], "tokened", 0, "no-such-token-0123456789", CHORUS_ERR_AUTHENTICATION_FAILED,
                             "unknown token") < 0)
        return -1;
    /* Refused before anything is sent. */
    char longname[300];
    memset(longname, 'n', 299);
    longname[299] = '\0';
    if (expect_connect_error(TCP[0], longname, 0, NULL, CHORUS_ERR_BAD_ARGUMENT, "299-byte name") < 0) return -1;
    if (expect_connect_error(TCP[0], NULL, 0, NULL, CHORUS_ERR_BAD_ARGUMENT, "NULL name") < 0) return -1;
    if (expect_connect_error(TCP[0], "x", 2, NULL, CHORUS_ERR_BAD_ARGUMENT, "unknown flag") < 0) return -1;
    if (expect_connect_error("no-port-here", "x", 0, NULL, CHORUS_ERR_BAD_ARGUMENT, "address without port") < 0) return -1;
    if (expect_connect_error("127.0.0.1:0", "x", 0, NULL, CHORUS_ERR_BAD_ARGUMENT, "port 0") < 0) return -1;
    if (expect_connect_error("127.0.0.1:70000", "x", 0, NULL, CHORUS_ERR_BAD_ARGUMENT, "port 70000") < 0) return -1;
    REQUIRE(chorus_connect(TCP[0], "x", 0, NULL, NULL) == CHORUS_ERR_BAD_ARGUMENT, "NULL session pointer");
    /* Nobody there. */
    char closed[64], missing[512];
    snprintf(closed, sizeof closed, "127.0.0.1:%s", CLOSED_PORT);
    snprintf(missing, sizeof missing, "%s/nobody.sock", DIR_);
    if (expect_connect_error(closed, "x", 0, NULL, CHORUS_ERR_COULD_NOT_CONNECT, "closed port") < 0) return -1;
    if (expect_connect_error(missing, "x", 0, NULL, CHORUS_ERR_COULD_NOT_CONNECT, "missing socket") < 0) return -1;
    chorus_disconnect(a);
    chorus_disconnect(b);
    return 0;
}

static int test_bad_arguments(void) {
    chorus_session *A = open_session(TCP[1], "args-a", CHORUS_MEMBERSHIP);
    REQUIRE(A, "connect");
    if (form_group(&A, 1, "args") < 0) return -1;
    char g256[257];
    memset(g256, 'g', 256);
    g256[256] = '\0';
    REQUIRE(chorus_join(A, NULL) == CHORUS_ERR_BAD_ARGUMENT, "join NULL");
    REQUIRE(chorus_join(A, "") == CHORUS_ERR_BAD_ARGUMENT, "join empty");
    REQUIRE(chorus_join(A, "#1#d1") == CHORUS_ERR_BAD_ARGUMENT, "join a private group");
    REQUIRE(chorus_join(A, g256) == CHORUS_ERR_BAD_ARGUMENT, "join a 256-byte name");
    REQUIRE(chorus_leave(A, "#x") == CHORUS_ERR_BAD_ARGUMENT, "leave a private group");
    REQUIRE(chorus_join(NULL, "x") == CHORUS_ERR_BAD_ARGUMENT, "NULL session");
    const char *ok[] = {"args"}, *empty[] = {""}, *nul[] = {NULL}, *long1[] = {g256};
    REQUIRE(chorus_multicast(A, -1, ok, 1, 0, "x", 1, 0) == CHORUS_ERR_BAD_ARGUMENT, "service -1");
    REQUIRE(chorus_multicast(A, 6, ok, 1, 0, "x", 1, 0) == CHORUS_ERR_BAD_ARGUMENT, "service 6");
    REQUIRE(chorus_multicast(A, CHORUS_AGREED, ok, 1, 0, "x", 1, 2) == CHORUS_ERR_BAD_ARGUMENT, "flags 2");
    REQUIRE(chorus_multicast(A, CHORUS_AGREED, ok, 0, 0, "x", 1, 0) == CHORUS_ERR_BAD_ARGUMENT, "no groups");
    REQUIRE(chorus_multicast(A, CHORUS_AGREED, ok, 256, 0, "x", 1, 0) == CHORUS_ERR_BAD_ARGUMENT, "256 groups");
    REQUIRE(chorus_multicast(A, CHORUS_AGREED, NULL, 1, 0, "x", 1, 0) == CHORUS_ERR_BAD_ARGUMENT, "groups NULL");
    REQUIRE(chorus_multicast(A, CHORUS_AGREED, empty, 1, 0, "x", 1, 0) == CHORUS_ERR_BAD_ARGUMENT, "empty group");
    REQUIRE(chorus_multicast(A, CHORUS_AGREED, nul, 1, 0, "x", 1, 0) == CHORUS_ERR_BAD_ARGUMENT, "NULL group");
    REQUIRE(chorus_multicast(A, CHORUS_AGREED, long1, 1, 0, "x", 1, 0) == CHORUS_ERR_BAD_ARGUMENT, "long group");
    REQUIRE(chorus_multicast(A, CHORUS_AGREED, ok, 1, 0, NULL, 5, 0) == CHORUS_ERR_BAD_ARGUMENT, "NULL payload");
    size_t too_long = (size_t)chorus_max_payload(A) + 1;
    REQUIRE(chorus_multicast(A, CHORUS_AGREED, ok, 1, 0, "x", too_long, 0) == CHORUS_ERR_MESSAGE_TOO_LONG,
            "payload above the maximum");
    chorus_event ev;
    REQUIRE(chorus_receive(NULL, &ev, 0) == CHORUS_ERR_BAD_ARGUMENT, "receive NULL session");
    REQUIRE(chorus_receive(A, NULL, 0) == CHORUS_ERR_BAD_ARGUMENT, "receive NULL event");
    REQUIRE(chorus_poll(NULL) == CHORUS_ERR_BAD_ARGUMENT && chorus_fd(NULL) == -1, "NULL session");
    REQUIRE(strstr(chorus_error_text(A), "255") != NULL || chorus_error_text(A)[0], "error text");
    /* None of it reached the daemon: the session goes on. An empty payload is fine. */
    REQUIRE(chorus_multicast(A, CHORUS_AGREED, ok, 1, 3, NULL, 0, 0) == CHORUS_OK, "empty payload");
    if (expect_event(A, &ev, CHORUS_EVENT_MESSAGE, RECV_MS, "after bad arguments") < 0) return -1;
    REQUIRE(ev.message.len == 0 && ev.message.type == 3, "empty message");
    chorus_event_free(&ev);
    chorus_disconnect(A);
    return 0;
}

static int test_daemon_error(void) {
    chorus_session *A = open_session(TCP[0], "err-a", CHORUS_MEMBERSHIP);
    REQUIRE(A, "connect");
    char g200[201];
    memset(g200, 'x', 200);
    g200[200] = '\0';
    /* Valid for the protocol (1 to 255 bytes), above the daemon's limit (128): it ends the session. */
    REQUIRE(chorus_join(A, g200) == CHORUS_OK, "join");
    chorus_event ev;
    int rc = chorus_receive(A, &ev, RECV_MS);
    REQUIRE(rc == CHORUS_ERR_INVALID_GROUP_NAME, "got %d (%s)", rc, chorus_strerror(rc));
    REQUIRE(ev.kind == CHORUS_EVENT_ERROR && ev.error.code == 8 && ev.error.text[0], "error event");
    REQUIRE(strstr(chorus_error_text(A), ev.error.text) != NULL, "error text %s", chorus_error_text(A));
    chorus_event_free(&ev);
    /* Every call after it gives the same error. */
    rc = chorus_receive(A, &ev, RECV_MS);
    REQUIRE(rc == CHORUS_ERR_INVALID_GROUP_NAME && ev.kind == CHORUS_EVENT_NONE, "again: %d", rc);
    REQUIRE(send_text(A, CHORUS_AGREED, "g", 0, "x", 0) == CHORUS_ERR_INVALID_GROUP_NAME, "multicast after");
    REQUIRE(chorus_join(A, "g") == CHORUS_ERR_INVALID_GROUP_NAME, "join after");
    REQUIRE(chorus_poll(A) == CHORUS_ERR_INVALID_GROUP_NAME, "poll after");
    REQUIRE(chorus_disconnect(A) == CHORUS_OK, "disconnect");

    /* 200 target groups: valid for the protocol (up to 255), above the daemon's limit (128). */
    chorus_session *B = open_session(UNIXP[2], "err-b", 0);
    REQUIRE(B, "connect");
    static char names[200][16];
    const char *groups[200];
    for (int i = 0; i < 200; i++) {
        snprintf(names[i], sizeof names[i], "g%d", i);
        groups[i] = names[i];
    }
    REQUIRE(chorus_multicast(B, CHORUS_AGREED, groups, 200, 0, "x", 1, 0) == CHORUS_OK, "multicast");
    rc = chorus_receive(B, &ev, RECV_MS);
    REQUIRE(rc == CHORUS_ERR_TOO_MANY_GROUPS && ev.error.code == 10, "got %d (%s)", rc, chorus_strerror(rc));
    chorus_event_free(&ev);
    chorus_disconnect(B);
    return 0;
}

static int test_refused_requests(void) {
    chorus_session *A = open_session(UNIXP[0], "ref-a", CHORUS_MEMBERSHIP);
    REQUIRE(A, "connect");
    chorus_event ev;
    REQUIRE(chorus_join(A, "forbidden-x") == CHORUS_OK, "join");
    if (expect_event(A, &ev, CHORUS_EVENT_REFUSED, RECV_MS, "refused join") < 0) return -1;
    REQUIRE(ev.refused.code == CHORUS_CODE_ACCESS_DENIED && ev.refused.request == CHORUS_REQUEST_JOIN, "code/request %u/%u",
            ev.refused.code, ev.refused.request);
    REQUIRE(strcmp(ev.refused.group, "forbidden-x") == 0 && strstr(ev.refused.text, "forbidden-x"), "group/text");
    chorus_event_free(&ev);
    REQUIRE(send_text(A, CHORUS_AGREED, "forbidden-y", 0, "x", 0) == CHORUS_OK, "multicast");
    if (expect_event(A, &ev, CHORUS_EVENT_REFUSED, RECV_MS, "refused multicast") < 0) return -1;
    REQUIRE(ev.refused.code == 18 && ev.refused.request == CHORUS_REQUEST_MULTICAST, "request %u", ev.refused.request);
    REQUIRE(strcmp(ev.refused.group, "forbidden-y") == 0, "group %s", ev.refused.group);
    chorus_event_free(&ev);
    const char *mixed[] = {"ref-ok", "forbidden-z", "forbidden-w"};
    REQUIRE(chorus_multicast(A, CHORUS_AGREED, mixed, 3, 0, "x", 1, 0) == CHORUS_OK, "multicast");
    if (expect_event(A, &ev, CHORUS_EVENT_REFUSED, RECV_MS, "refused multicast") < 0) return -1;
    REQUIRE(strcmp(ev.refused.group, "forbidden-z") == 0, "the first refused group: %s", ev.refused.group);
    chorus_event_free(&ev);
    /* The session stays open. */
    if (form_group(&A, 1, "ref-ok") < 0) return -1;
    chorus_disconnect(A);
    return 0;
}

static int test_poll_fd_timeout_status(void) {
    chorus_session *A = open_session(TCP[1], "poll-a", 0);
    REQUIRE(A, "connect");
    REQUIRE(chorus_poll(A) == 0, "nothing pending");
    chorus_event ev;
    int64_t t0 = now_ms();
    int rc = chorus_receive(A, &ev, 200);
    int64_t took = now_ms() - t0;
    REQUIRE(rc == CHORUS_ERR_TIMEOUT && ev.kind == CHORUS_EVENT_NONE, "rc %d", rc);
    REQUIRE(took >= 190 && took < 2000, "a 200 ms receive took %lld ms", (long long)took);
    t0 = now_ms();
    REQUIRE(chorus_receive(A, &ev, 0) == CHORUS_ERR_TIMEOUT, "no wait");
    REQUIRE(now_ms() - t0 < 100, "a receive with no wait waited");

    /* Three messages to itself and a status request; poll() on the fd, then chorus_poll(). */
    const char *pa = chorus_private_group(A);
    for (int i = 0; i < 3; i++) REQUIRE(send_text(A, CHORUS_FIFO, pa, (uint16_t)i, "p", 0) == CHORUS_OK, "multicast");
    REQUIRE(chorus_status(A) == CHORUS_OK, "status");
    int64_t deadline = now_ms() + RECV_MS;
    int frames = 0;
    while ((frames = chorus_poll(A)) < 4) {
        REQUIRE(frames >= 0, "chorus_poll: %s", chorus_strerror(frames));
        int left = (int)(deadline - now_ms());
        REQUIRE(left > 0, "only %d frames arrived", frames);
        struct pollfd pfd = {.fd = chorus_fd(A), .events = POLLIN};
        REQUIRE(poll(&pfd, 1, left) >= 0, "poll");
    }
    REQUIRE(frames == 4, "frames %d", frames);
    /* All four are buffered: each receive returns at once. The daemon answers status at once,
       so the reply may come before the messages, which go round the ring first. */
    int messages = 0, statuses = 0;
    for (int i = 0; i < 4; i++) {
        rc = chorus_receive(A, &ev, 0);
        REQUIRE(rc == CHORUS_EVENT_MESSAGE || rc == CHORUS_EVENT_STATUS, "buffered event %d: %d", i, rc);
        if (rc == CHORUS_EVENT_MESSAGE) {
            REQUIRE(ev.message.type == messages && ev.message.service == CHORUS_FIFO, "fifo order");
            messages++;
        } else {
            REQUIRE(strstr(ev.status.json, "\"sessions\"") && strstr(ev.status.json, "poll-a"), "status JSON");
            statuses++;
        }
        chorus_event_free(&ev);
    }
    REQUIRE(messages == 3 && statuses == 1, "%d messages, %d status replies", messages, statuses);
    REQUIRE(chorus_poll(A) == 0, "drained");
    chorus_disconnect(A);
    return 0;
}

static int test_large_messages(void) {
    chorus_session *s[2] = {open_session(TCP[0], "big-a", CHORUS_MEMBERSHIP),
                            open_session(UNIXP[2], "big-b", CHORUS_MEMBERSHIP)};
    REQUIRE(s[0] && s[1], "connect");
    if (form_group(s, 2, "big") < 0) return -1;
    size_t sizes[] = {1 << 20, 3 << 20, (size_t)chorus_max_payload(s[0])};
    int services[] = {CHORUS_RELIABLE, CHORUS_SAFE, CHORUS_AGREED};
    size_t max = sizes[2];
    uint8_t *buf = malloc(max);
    REQUIRE(buf, "memory");
    for (size_t i = 0; i < max; i++) buf[i] = (uint8_t)(i * 131 + (i >> 16));
    const char *g[] = {"big"};
    for (int k = 0; k < 3; k++)
        REQUIRE(chorus_multicast(s[0], services[k], g, 1, (uint16_t)k, buf, sizes[k], 0) == CHORUS_OK, "multicast %zu",
                sizes[k]);
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 3; k++) {
            chorus_event ev;
            if (expect_event(s[i], &ev, CHORUS_EVENT_MESSAGE, 15000, "large message") < 0) return -1;
            REQUIRE(ev.message.type == k && ev.message.len == sizes[k], "message %d: %zu bytes", k, ev.message.len);
            REQUIRE(memcmp(ev.message.payload, buf, sizes[k]) == 0, "payload of %zu bytes differs", sizes[k]);
            chorus_event_free(&ev);
        }
    }
    free(buf);
    chorus_disconnect(s[0]);
    chorus_disconnect(s[1]);
    return 0;
}

/*
 * A sender that does not read while it sends 24 MiB to a group it is in: its writes
 * block on the daemon, which blocks on the sender's unread socket, unless the library
 * reads while it waits to write. Everything then arrives, in order.
 */
static int test_send_without_reading(void) {
    chorus_session *A = open_session(UNIXP[0], "bp-a", CHORUS_MEMBERSHIP);
    REQUIRE(A, "connect");
    if (form_group(&A, 1, "bp") < 0) return -1;
    enum { COUNT = 3000, SIZE = 8192 };
    uint8_t *buf = malloc(SIZE);
    REQUIRE(buf, "memory");
    const char *g[] = {"bp"};
    for (int i = 0; i < COUNT; i++) {
        memset(buf, i & 0xff, SIZE);
        memcpy(buf, &i, sizeof i);
        int rc = chorus_multicast(A, CHORUS_AGREED, g, 1, 0, buf, SIZE, 0);
        REQUIRE(rc == CHORUS_OK, "multicast %d: %s (%s)", i, chorus_strerror(rc), chorus_error_text(A));
    }
    for (int i = 0; i < COUNT; i++) {
        chorus_event ev;
        if (expect_event(A, &ev, CHORUS_EVENT_MESSAGE, 10000, "own messages") < 0) return -1;
        int seq;
        memcpy(&seq, ev.message.payload, sizeof seq);
        REQUIRE(ev.message.len == SIZE && seq == i, "message %d is %d", i, seq);
        REQUIRE(((const uint8_t *)ev.message.payload)[SIZE - 1] == (uint8_t)(i & 0xff), "content");
        chorus_event_free(&ev);
    }
    free(buf);
    chorus_disconnect(A);
    return 0;
}

/* One thread receives while another sends on the same session. */
struct thread_recv {
    chorus_session *s;
    int want, got, rc;
};

static void *thread_receive(void *arg) {
    struct thread_recv *t = arg;
    while (t->got < t->want) {
        chorus_event ev;
        int rc = chorus_receive(t->s, &ev, 10000);
        if (rc != CHORUS_EVENT_MESSAGE) {
            t->rc = rc;
            chorus_event_free(&ev);
            return NULL;
        }
        uint32_t seq;
        memcpy(&seq, ev.message.payload, sizeof seq);
        if (seq != (uint32_t)t->got) {
            t->rc = -1000;
            chorus_event_free(&ev);
            return NULL;
        }
        t->got++;
        chorus_event_free(&ev);
    }
    return NULL;
}

static int test_two_threads(void) {
    chorus_session *A = open_session(TCP[2], "thr-a", CHORUS_MEMBERSHIP);
    REQUIRE(A, "connect");
    if (form_group(&A, 1, "thr") < 0) return -1;
    struct thread_recv t = {.s = A, .want = 2000, .got = 0, .rc = 0};
    pthread_t th;
    pthread_create(&th, NULL, thread_receive, &t);
    const char *g[] = {"thr"};
    uint8_t buf[1000];
    memset(buf, 7, sizeof buf);
    int rc = CHORUS_OK;
    for (uint32_t i = 0; i < 2000 && rc == CHORUS_OK; i++) {
        memcpy(buf, &i, sizeof i);
        rc = chorus_multicast(A, CHORUS_FIFO, g, 1, 0, buf, sizeof buf, 0);
    }
    pthread_join(th, NULL);
    REQUIRE(rc == CHORUS_OK, "multicast: %s", chorus_strerror(rc));
    REQUIRE(t.got == 2000, "received %d (rc %d)", t.got, t.rc);
    chorus_disconnect(A);
    return 0;
}

/*
 * Daemon d3 is killed with SIGKILL. Members on d1 and d2 get a transitional view without
 * d3's member, then the regular view of the new configuration; clients of d3 get
 * CHORUS_ERR_CONNECTION_LOST at once. Runs last: d3 stays dead.
 */
static int test_daemon_killed(void) {
    chorus_session *A = open_session(TCP[0], "fault-a", CHORUS_MEMBERSHIP);
    chorus_session *B = open_session(UNIXP[1], "fault-b", CHORUS_MEMBERSHIP);
    chorus_session *C = open_session(UNIXP[2], "fault-c", CHORUS_MEMBERSHIP);
    chorus_session *D = open_session(TCP[2], "fault-d", 0);
    REQUIRE(A && B && C && D, "connect");
    chorus_session *abc[] = {A, B, C};
    if (form_group(abc, 3, "fault") < 0) return -1;
    const char *pa = chorus_private_group(A), *pb = chorus_private_group(B), *pc = chorus_private_group(C);
    /* The last regular view, seen by A (a message round makes sure nothing else is pending). */
    REQUIRE(send_text(A, CHORUS_SAFE, "fault", 1, "before", 0) == CHORUS_OK, "multicast");
    chorus_event ev;
    chorus_session *all[] = {A, B, C};
    for (int i = 0; i < 3; i++) {
        if (expect_event(all[i], &ev, CHORUS_EVENT_MESSAGE, RECV_MS, "before the kill") < 0) return -1;
        chorus_event_free(&ev);
    }

    int64_t t0 = now_ms();
    REQUIRE(kill(PID[2], SIGKILL) == 0, "kill d3 (pid %ld): %s", (long)PID[2], strerror(errno));

    /* The clients of d3: the connection is lost, promptly. */
    int rc = chorus_receive(C, &ev, 5000);
    int64_t lost_c = now_ms() - t0;
    REQUIRE(rc == CHORUS_ERR_CONNECTION_LOST && ev.kind == CHORUS_EVENT_NONE, "C got %d (%s)", rc, chorus_strerror(rc));
    rc = chorus_receive(D, &ev, 5000);
    int64_t lost_d = now_ms() - t0;
    REQUIRE(rc == CHORUS_ERR_CONNECTION_LOST, "D got %d (%s)", rc, chorus_strerror(rc));
    REQUIRE(lost_c < 1000 && lost_d < 1000, "connection loss reported after %lld / %lld ms", (long long)lost_c,
            (long long)lost_d);
    REQUIRE(chorus_receive(C, &ev, 1000) == CHORUS_ERR_CONNECTION_LOST, "C again");
    REQUIRE(send_text(D, CHORUS_AGREED, "fault", 0, "x", 0) == CHORUS_ERR_CONNECTION_LOST, "D multicast");
    REQUIRE(chorus_join(C, "other") == CHORUS_ERR_CONNECTION_LOST, "C join");
    REQUIRE(chorus_poll(D) == CHORUS_ERR_CONNECTION_LOST, "D poll");

    /* The members on the other daemons: transitional, then regular, the same at both. */
    chorus_event tr[2], rg[2];
    chorus_session *survivors[] = {A, B};
    for (int i = 0; i < 2; i++) {
        if (expect_event(survivors[i], &tr[i], CHORUS_EVENT_MEMBERSHIP, 10000, "transitional view") < 0) return -1;
        const chorus_membership *m = &tr[i].membership;
        REQUIRE(strcmp(m->group, "fault") == 0, "group %s", m->group);
        REQUIRE(m->kind == CHORUS_VIEW_TRANSITIONAL, "kind %d (expected transitional)", m->kind);
        REQUIRE(m->reason == CHORUS_REASON_NETWORK, "reason %d", m->reason);
        REQUIRE(m->view.index == 0, "a transitional view's index is 0, not %llu", (unsigned long long)m->view.index);
        REQUIRE(set_is(m->members, m->nmembers, 2, pa, pb), "members (%zu)", m->nmembers);
        REQUIRE(set_is(m->changed, m->nchanged, 2, pa, pb), "changed");
        REQUIRE(m->nadded == 0, "added %zu", m->nadded);
        REQUIRE(set_is(m->removed, m->nremoved, 1, pc), "removed");

        if (expect_event(survivors[i], &rg[i], CHORUS_EVENT_MEMBERSHIP, 10000, "regular view") < 0) return -1;
        m = &rg[i].membership;
        REQUIRE(strcmp(m->group, "fault") == 0, "group %s", m->group);
        REQUIRE(m->kind == CHORUS_VIEW_REGULAR && m->reason == CHORUS_REASON_NETWORK, "kind/reason %d/%d", m->kind,
                m->reason);
        REQUIRE(set_is(m->members, m->nmembers, 2, pa, pb), "members (%zu)", m->nmembers);
        REQUIRE(set_is(m->changed, m->nchanged, 2, pa, pb), "changed");
        REQUIRE(m->nadded == 0 && m->nremoved == 0, "added %zu removed %zu", m->nadded, m->nremoved);
        REQUIRE(chorus_view_id_compare(&tr[i].membership.view, &m->view) < 0, "the regular view follows");
    }
    REQUIRE(chorus_view_id_compare(&tr[0].membership.view, &tr[1].membership.view) == 0, "same transitional view id");
    REQUIRE(chorus_view_id_compare(&rg[0].membership.view, &rg[1].membership.view) == 0, "same regular view id");
    REQUIRE(same_list(rg[0].membership.members, 2, rg[1].membership.members, rg[1].membership.nmembers), "same order");
    int64_t views = now_ms() - t0;

    /* The new configuration carries messages. */
    REQUIRE(send_text(B, CHORUS_AGREED, "fault", 2, "after", 0) == CHORUS_OK, "multicast");
    for (int i = 0; i < 2; i++) {
        if (expect_event(survivors[i], &ev, CHORUS_EVENT_MESSAGE, RECV_MS, "after the kill") < 0) return -1;
        REQUIRE(payload_is(&ev, "after"), "message");
        chorus_event_free(&ev);
    }
    printf("    connection loss seen after %lld ms (Unix) and %lld ms (TCP); both views after %lld ms\n",
           (long long)lost_c, (long long)lost_d, (long long)views);
    for (int i = 0; i < 2; i++) {
        chorus_event_free(&tr[i]);
        chorus_event_free(&rg[i]);
    }
    chorus_disconnect(A);
    chorus_disconnect(B);
    chorus_disconnect(C);
    chorus_disconnect(D);
    return 0;
}

/* ---- readiness --------------------------------------------------------------------- */

/* Whether daemon i answers on both listeners and its ring is regular with d1, d2 and d3. */
static int daemon_ready(int i) {
    chorus_session *u = NULL, *t = NULL;
    if (chorus_connect_timeout(UNIXP[i], "ready-probe", 0, NULL, 2000, &u) != CHORUS_OK) return 0;
    chorus_disconnect(u);
    if (chorus_connect_timeout(TCP[i], "ready-probe", 0, NULL, 2000, &t) != CHORUS_OK) return 0;
    int ready = 0;
    chorus_event ev;
    if (chorus_status(t) == CHORUS_OK && chorus_receive(t, &ev, 2000) == CHORUS_EVENT_STATUS) {
        const char *ring = strstr(ev.status.json, "\"ring\":{");
        const char *end = ring ? strchr(ring, '}') : NULL;
        if (ring && end) {
            char part[512];
            snprintf(part, sizeof part, "%.*s", (int)(end - ring), ring);
            ready = strstr(part, "\"kind\":\"regular\"") && strstr(part, "\"members\":[\"d1\",\"d2\",\"d3\"]");
        }
        chorus_event_free(&ev);
    }
    chorus_disconnect(t);
    return ready;
}

/* Whether process `pid` (a child of the runner, not ours to reap) has exited: gone or a zombie. */
static int has_exited(pid_t pid) {
    if (kill(pid, 0) != 0) return 1;
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0; /* no /proc: kill() said it exists */
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *end = strrchr(buf, ')'); /* "pid (comm) state ..." */
    return end && end[1] == ' ' && (end[2] == 'Z' || end[2] == 'X');
}

static int wait_ready(void) {
    int64_t deadline = now_ms() + 20000;
    for (int i = 0; i < 3; i++) {
        while (!daemon_ready(i)) {
            if (now_ms() > deadline) {
                fprintf(stderr, "test_chorus: daemon d%d is not ready after 20 s\n", i + 1);
                return 1;
            }
            if (has_exited(PID[i])) {
                fprintf(stderr, "test_chorus: daemon d%d (pid %ld) has exited\n", i + 1, (long)PID[i]);
                return 1;
            }
            sleep_ms(50);
        }
    }
    return 0;
}

/*
 * Whether the 12 ports from `base` are free on 127.0.0.1 for TCP and UDP (47000-47999 is
 * inside Linux's ephemeral range: any connection may hold one of them for a while).
 */
static int ports_free(int base) {
    for (int port = base; port < base + 12; port++) {
        int types[] = {SOCK_STREAM, SOCK_DGRAM};
        for (int t = 0; t < 2; t++) {
            int fd = socket(AF_INET, types[t], 0);
            if (fd < 0) return 0;
            int one = 1;
            if (types[t] == SOCK_STREAM) (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            struct sockaddr_in addr;
            memset(&addr, 0, sizeof addr);
            addr.sin_family = AF_INET;
            addr.sin_port = htons((uint16_t)port);
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            int ok = bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
            close(fd);
            if (!ok) return 0;
        }
    }
    return 1;
}

/* ---- main ---------------------------------------------------------------------------- */

struct test {
    const char *name;
    int (*run)(void);
};

static const struct test TESTS[] = {
    {"connect over TCP and a Unix socket", test_connect_tcp_and_unix},
    {"join/leave/disconnect membership, field by field", test_join_leave_membership},
    {"multicast with every service", test_every_service},
    {"agreed order at 3 receivers under 3 concurrent senders", test_agreed_order},
    {"self-discard", test_self_discard},
    {"multigroup send", test_multigroup},
    {"private group send", test_private_group},
    {"refused connects", test_refused_connect},
    {"bad arguments are refused locally", test_bad_arguments},
    {"daemon error frames end the session", test_daemon_error},
    {"refused join and multicast (access rules)", test_refused_requests},
    {"poll, fd, receive timeout, status", test_poll_fd_timeout_status},
    {"large messages up to the maximum payload", test_large_messages},
    {"sending 24 MiB without reading", test_send_without_reading},
    {"one thread receives, another sends", test_two_threads},
    {"SIGKILL of a daemon: views and connection loss", test_daemon_killed}, /* last: kills d3 */
};

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 2 && strcmp(argv[1], "--ports-free") == 0) return ports_free(atoi(argv[2])) ? 0 : 1;
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "CHORUS_TEST_TCP%d", i + 1);
        TCP[i] = need_env(name);
        snprintf(name, sizeof name, "CHORUS_TEST_UNIX%d", i + 1);
        UNIXP[i] = need_env(name);
        snprintf(name, sizeof name, "CHORUS_TEST_PID%d", i + 1);
        PID[i] = (pid_t)atol(need_env(name));
    }
    CLOSED_PORT = need_env("CHORUS_TEST_CLOSED_PORT");
    DIR_ = need_env("CHORUS_TEST_DIR");
    alarm(55); /* never hang: the runner cleans up after a killed test */
    if (argc > 1 && strcmp(argv[1], "--wait-ready") == 0) return wait_ready();

    int failed = 0, ran = 0;
    int64_t start = now_ms();
    for (size_t i = 0; i < sizeof TESTS / sizeof TESTS[0]; i++) {
        if (argc > 1) {
            int wanted = 0;
            for (int k = 1; k < argc; k++)
                if (strstr(TESTS[i].name, argv[k])) wanted = 1;
            if (!wanted) continue;
        }
        int64_t t0 = now_ms();
        int rc = TESTS[i].run();
        ran++;
        if (rc == 0) {
            printf("ok - %s (%lld ms)\n", TESTS[i].name, (long long)(now_ms() - t0));
        } else {
            printf("FAIL - %s (%lld ms)\n", TESTS[i].name, (long long)(now_ms() - t0));
            failed++;
        }
    }
    printf("test_chorus: %d of %d tests passed in %lld ms\n", ran - failed, ran, (long long)(now_ms() - start));
    return failed ? 1 : 0;
}
