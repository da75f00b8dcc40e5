/*
 * Sessions: the socket, the connect handshake, requests and the receive buffer.
 *
 * The socket is non-blocking; the library blocks in poll(). Received bytes go to one
 * buffer from which chorus_decode_frame() cuts frames. A write the daemon does not
 * take at once (backpressure) waits in poll() and meanwhile reads what the daemon
 * sends into that buffer (up to ABSORB_LIMIT bytes), so a client that sends a lot
 * from the thread that also receives never stalls the daemon waiting on it.
 */
#define _GNU_SOURCE 1 /* MSG_NOSIGNAL, getaddrinfo, fcntl flags */

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* platforms without it get SO_NOSIGPIPE below */
#endif

enum {
    TYPE_CONNECT = 0x01,
    TYPE_JOIN = 0x02,
    TYPE_LEAVE = 0x03,
    TYPE_MULTICAST = 0x04,
    TYPE_DISCONNECT = 0x05,
    TYPE_STATUS = 0x06,
    TYPE_RELOAD_KEYS = 0x07,
};

#define READ_CHUNK ((size_t)64 << 10)
/* Bytes a blocked write reads ahead at most (the daemon's default client backlog). */
#define ABSORB_LIMIT ((size_t)64 << 20)
/* Bytes chorus_poll() reads ahead at most. */
#define POLL_LIMIT ((size_t)4 << 20)
/* A buffer this large is given back once it is empty. */
#define SHRINK_ABOVE ((size_t)1 << 20)
#define DISCONNECT_WAIT_MS 2000
#define TEXT_LEN 1400

struct chorus_session {
    int fd;
    pthread_mutex_t send_lock;  /* one request written at a time */
    pthread_mutex_t recv_lock;  /* the buffer and `eof` */
    pthread_mutex_t text_lock;  /* `text` */
    uint8_t *in;
    size_t in_start, in_end, in_cap;
    int eof;                    /* the read side ended (under recv_lock) */
    atomic_int fatal;           /* 0, or the error that ended the session */
    char text[TEXT_LEN];
    char private_group[256];
    char daemon[256];
    uint32_t max_payload;
    unsigned version;
};

static _Thread_local char connect_text[TEXT_LEN];

/* ---- small helpers --------------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void set_text(chorus_session *s, const char *fmt, ...) {
    char buf[TEXT_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&s->text_lock);
    memcpy(s->text, buf, sizeof buf);
    pthread_mutex_unlock(&s->text_lock);
}

/* Records the error that ends the session unless one already did; returns the one that holds. */
static int set_fatal(chorus_session *s, int rc) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&s->fatal, &expected, rc)) return rc;
    return expected;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before `deadline` (-1: none) as a poll() timeout. */
static int remaining_ms(int64_t deadline) {
    if (deadline < 0) return -1;
    int64_t left = deadline - now_ms();
    if (left <= 0) return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

static int64_t deadline_after(int timeout_ms) { return timeout_ms < 0 ? -1 : now_ms() + timeout_ms; }

static int set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -1;
    int fdflags = fcntl(fd, F_GETFD, 0);
    if (fdflags >= 0) (void)fcntl(fd, F_SETFD, fdflags | FD_CLOEXEC);
#ifdef SO_NOSIGPIPE
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    return 0;
}

/* Waits until fd is ready for `events` or the deadline passes: 1 ready, 0 timeout, <0 error. */
static int wait_fd(int fd, short events, int64_t deadline, short *revents) {
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events, .revents = 0};
        int n = poll(&pfd, 1, remaining_ms(deadline));
        if (n > 0) {
            if (revents) *revents = pfd.revents;
            return 1;
        }
        if (n == 0) return 0;
        if (errno != EINTR) return -1;
    }
}

/* ---- opening the socket ----------------------------------------------------------- */

static int open_unix(const char *path, int64_t deadline, char *why, size_t whylen, int *out) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof addr.sun_path) {
        snprintf(why, whylen, "Unix socket path '%s' is longer than %zu bytes", path, sizeof addr.sun_path - 1);
        return CHORUS_ERR_BAD_ARGUMENT;
    }
    memcpy(addr.sun_path, path, n);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        snprintf(why, whylen, "socket: %s", strerror(errno));
        return CHORUS_ERR_SYSTEM;
    }
    /* A connect that waits for room in the listener's backlog waits at most this long. */
    int left = remaining_ms(deadline);
    if (left >= 0) {
        struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
        if (left == 0) tv.tv_usec = 1000;
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    int rc;
    do {
        rc = connect(fd, (struct sockaddr *)&addr, (socklen_t)sizeof addr);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        int err = errno;
        snprintf(why, whylen, "%s: %s", path, strerror(err));
        close(fd);
        return err == EAGAIN || err == EWOULDBLOCK || err == ETIMEDOUT ? CHORUS_ERR_TIMEOUT : CHORUS_ERR_COULD_NOT_CONNECT;
    }
    struct timeval none = {0, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
    if (set_nonblocking(fd) < 0) {
        snprintf(why, whylen, "fcntl: %s", strerror(errno));
        close(fd);
        return CHORUS_ERR_SYSTEM;
    }
    *out = fd;
    return CHORUS_OK;
}

static int open_tcp(const char *host, const char *port, int64_t deadline, char *why, size_t whylen, int *out) {
    struct addrinfo hints, *list = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(host, port, &hints, &list);
    if (gai != 0) {
        snprintf(why, whylen, "%s:%s: %s", host, port, gai_strerror(gai));
        return CHORUS_ERR_COULD_NOT_CONNECT;
    }
    int result = CHORUS_ERR_COULD_NOT_CONNECT;
    snprintf(why, whylen, "%s:%s: no address", host, port);
    for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            snprintf(why, whylen, "socket: %s", strerror(errno));
            continue;
        }
        if (set_nonblocking(fd) < 0) {
            snprintf(why, whylen, "fcntl: %s", strerror(errno));
            close(fd);
            continue;
        }
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc < 0 && (errno == EINPROGRESS || errno == EINTR)) {
            short revents = 0;
            int ready = wait_fd(fd, POLLOUT, deadline, &revents);
            if (ready == 0) {
                snprintf(why, whylen, "%s:%s: connect timed out", host, port);
                close(fd);
                result = CHORUS_ERR_TIMEOUT;
                break;
            }
            int err = 0;
            socklen_t errlen = sizeof err;
            if (ready < 0) {
                err = errno;
            } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0) {
                err = errno;
            }
            if (err != 0) {
                errno = err;
                rc = -1;
            } else {
                rc = 0;
            }
        }
        if (rc < 0) {
            snprintf(why, whylen, "%s:%s: %s", host, port, strerror(errno));
            close(fd);
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        *out = fd;
        result = CHORUS_OK;
        break;
    }
    freeaddrinfo(list);
    return result;
}

/* Parses `address` (see chorus.h) and connects. */
static int open_address(const char *address, int64_t deadline, char *why, size_t whylen, int *out) {
    if (!address || !*address) {
        char first[TEXT_LEN];
        int rc = open_unix(CHORUS_DEFAULT_UNIX_SOCKET, deadline, first, sizeof first, out);
        if (rc != CHORUS_ERR_COULD_NOT_CONNECT) {
            if (rc < 0) snprintf(why, whylen, "%s", first);
            return rc;
        }
        char second[TEXT_LEN];
        rc = open_tcp("127.0.0.1", "4800", deadline, second, sizeof second, out);
        if (rc < 0) snprintf(why, whylen, "no default daemon: %.600s; %.600s", first, second);
        return rc;
    }
    if (strchr(address, '/')) return open_unix(address, deadline, why, whylen, out);

    char host[256];
    const char *port;
    size_t n = strlen(address);
    if (strspn(address, "0123456789") == n) { /* a bare port */
        snprintf(host, sizeof host, "127.0.0.1");
        port = address;
    } else {
        const char *colon = strrchr(address, ':');
        if (!colon || colon == address) {
            snprintf(why, whylen, "address '%.300s': expected host:port, [v6]:port, a port or a socket path", address);
            return CHORUS_ERR_BAD_ARGUMENT;
        }
        const char *h = address;
        size_t hlen = (size_t)(colon - address);
        if (h[0] == '[') {
            if (hlen < 2 || h[hlen - 1] != ']') {
                snprintf(why, whylen, "address '%.300s': unbalanced brackets", address);
                return CHORUS_ERR_BAD_ARGUMENT;
            }
            h += 1;
            hlen -= 2;
        }
        if (hlen == 0 || hlen >= sizeof host) {
            snprintf(why, whylen, "address '%.300s': bad host", address);
            return CHORUS_ERR_BAD_ARGUMENT;
        }
        memcpy(host, h, hlen);
        host[hlen] = '\0';
        port = colon + 1;
    }
    size_t plen = strlen(port);
    if (plen == 0 || plen > 5 || strspn(port, "0123456789") != plen || atoi(port) < 1 || atoi(port) > 65535) {
        snprintf(why, whylen, "address '%.300s': bad port", address);
        return CHORUS_ERR_BAD_ARGUMENT;
    }
    return open_tcp(host, port, deadline, why, whylen, out);
}

/* ---- the receive buffer --------------------------------------------------------- */

static size_t buffered(const chorus_session *s) { return s->in_end - s->in_start; }

/* Makes room for `want` more bytes after in_end. */
static int reserve(chorus_session *s, size_t want) {
    if (s->in_start == s->in_end) s->in_start = s->in_end = 0;
    if (s->in_cap - s->in_end >= want) return CHORUS_OK;
    if (s->in_start > 0) {
        memmove(s->in, s->in + s->in_start, buffered(s));
        s->in_end -= s->in_start;
        s->in_start = 0;
        if (s->in_cap - s->in_end >= want) return CHORUS_OK;
    }
    size_t cap = s->in_cap ? s->in_cap : READ_CHUNK;
    while (cap - s->in_end < want) cap *= 2;
    uint8_t *grown = realloc(s->in, cap);
    if (!grown) return CHORUS_ERR_NO_MEMORY;
    s->in = grown;
    s->in_cap = cap;
    return CHORUS_OK;
}

/* How much to read next: a chunk, or the rest of a frame larger than that. */
static size_t next_read_size(const chorus_session *s) {
    size_t frame = 0;
    (void)chorus_frame_span(s->in + s->in_start, buffered(s), &frame);
    size_t have = buffered(s);
    if (frame > have && frame - have > READ_CHUNK) return frame - have;
    return READ_CHUNK;
}

/*
 * One read() into the buffer (recv_lock held): 1 bytes came, 0 nothing now (EAGAIN),
 * or <0. The end of the stream sets `eof` and the session's fatal error.
 */
static int read_once(chorus_session *s) {
    if (s->eof) return 0;
    int rc = reserve(s, next_read_size(s));
    if (rc < 0) {
        set_text(s, "cannot grow the receive buffer beyond %zu bytes", s->in_cap);
        return rc;
    }
    for (;;) {
        ssize_t n = read(s->fd, s->in + s->in_end, s->in_cap - s->in_end);
        if (n > 0) {
            s->in_end += (size_t)n;
            return 1;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        s->eof = 1;
        if (n == 0) {
            if (set_fatal(s, CHORUS_ERR_CONNECTION_LOST) == CHORUS_ERR_CONNECTION_LOST)
                set_text(s, "the daemon closed the connection");
        } else {
            int err = errno;
            if (set_fatal(s, CHORUS_ERR_CONNECTION_LOST) == CHORUS_ERR_CONNECTION_LOST)
                set_text(s, "connection lost: %s", strerror(err));
        }
        return 0;
    }
}

/* Whether the buffer starts with a whole frame (or a length no frame may have). */
static int whole_frame_buffered(const chorus_session *s) {
    size_t size = 0;
    return chorus_frame_span(s->in + s->in_start, buffered(s), &size) != 0;
}

/*
 * Reads without blocking until the socket is empty, or `limit` bytes are buffered and
 * they start with a whole frame (so a frame larger than the limit is still read whole).
 */
static int absorb(chorus_session *s, size_t limit) {
    while (!s->eof && (buffered(s) < limit || !whole_frame_buffered(s))) {
        int rc = read_once(s);
        if (rc <= 0) return rc;
    }
    return 0;
}

/*
 * The next frame from the buffer and socket until `deadline` (recv_lock held): an
 * event kind, CHORUS_ERR_TIMEOUT, or the error that ends the session. The daemon's
 * error frame is returned as CHORUS_EVENT_ERROR.
 */
static int next_frame(chorus_session *s, chorus_event *ev, int64_t deadline) {
    for (;;) {
        int fatal = atomic_load(&s->fatal);
        if (fatal != 0 && fatal != CHORUS_ERR_CONNECTION_LOST) return fatal;
        if (buffered(s) > 0) {
            size_t used = 0;
            char why[512];
            int rc = chorus_decode_frame(s->in + s->in_start, buffered(s), &used, ev, why, sizeof why);
            if (rc > 0) {
                s->in_start += used;
                if (s->in_start == s->in_end) {
                    s->in_start = s->in_end = 0;
                    if (s->in_cap > SHRINK_ABOVE) { /* give a large buffer back */
                        free(s->in);
                        s->in = NULL;
                        s->in_cap = 0;
                    }
                }
                return rc;
            }
            if (rc < 0) {
                if (rc == CHORUS_ERR_NO_MEMORY) {
                    set_text(s, "%s", why);
                    return rc;
                }
                atomic_store(&s->fatal, CHORUS_ERR_PROTOCOL);
                set_text(s, "protocol violation by the daemon: %s", why);
                return CHORUS_ERR_PROTOCOL;
            }
        }
        if (s->eof) {
            int rc = set_fatal(s, CHORUS_ERR_CONNECTION_LOST);
            if (buffered(s) > 0 && rc == CHORUS_ERR_CONNECTION_LOST)
                set_text(s, "the connection ended inside a frame (%zu bytes of it had arrived)", buffered(s));
            return rc;
        }
        int got = read_once(s);
        if (got < 0) return got;
        if (got > 0 || s->eof) continue;
        short revents = 0;
        int ready = wait_fd(s->fd, POLLIN, deadline, &revents);
        if (ready == 0) return CHORUS_ERR_TIMEOUT;
        if (ready < 0) {
            set_text(s, "poll: %s", strerror(errno));
            return CHORUS_ERR_SYSTEM;
        }
    }
}

/* ---- writing -------------------------------------------------------------------- */

/*
 * Writes the whole iovec (send_lock held), blocking until the daemon takes it or
 * `deadline` passes. While it waits it reads what the daemon sends, if no other thread
 * is receiving.
 */
static int write_all(chorus_session *s, struct iovec *iov, int iovcnt, int64_t deadline) {
    int fatal = atomic_load(&s->fatal);
    if (fatal != 0) return fatal;
    while (iovcnt > 0) {
        struct msghdr msg;
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t)iovcnt;
        ssize_t n = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
        if (n >= 0) {
            size_t done = (size_t)n;
            while (iovcnt > 0 && done >= iov->iov_len) {
                done -= iov->iov_len;
                iov++;
                iovcnt--;
            }
            if (iovcnt > 0) {
                iov->iov_base = (uint8_t *)iov->iov_base + done;
                iov->iov_len -= done;
            }
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            int err = errno;
            int rc = set_fatal(s, CHORUS_ERR_CONNECTION_LOST);
            if (rc == CHORUS_ERR_CONNECTION_LOST) set_text(s, "connection lost while writing: %s", strerror(err));
            return rc;
        }
        /* The daemon is not taking more: wait, reading what it sends meanwhile. */
        short events = POLLOUT;
        if (pthread_mutex_trylock(&s->recv_lock) == 0) {
            int rc = absorb(s, ABSORB_LIMIT);
            if (rc == 0 && !s->eof && buffered(s) < ABSORB_LIMIT) events |= POLLIN;
            pthread_mutex_unlock(&s->recv_lock);
        }
        short revents = 0;
        int ready = wait_fd(s->fd, events, deadline, &revents);
        if (ready == 0) return CHORUS_ERR_TIMEOUT;
        if (ready < 0) {
            set_text(s, "poll: %s", strerror(errno));
            return CHORUS_ERR_SYSTEM;
        }
    }
    return CHORUS_OK;
}

static int send_frame(chorus_session *s, uint8_t *frame, size_t len, int64_t deadline) {
    struct iovec iov = {.iov_base = frame, .iov_len = len};
    pthread_mutex_lock(&s->send_lock);
    int rc = write_all(s, &iov, 1, deadline);
    pthread_mutex_unlock(&s->send_lock);
    return rc;
}

/* A frame with an empty body, or one str8 (join, leave). */
static int send_simple(chorus_session *s, uint8_t type, const char *name, int64_t deadline) {
    uint8_t frame[4 + 1 + 1 + 255];
    size_t n = name ? strlen(name) : 0;
    size_t body = name ? 1 + n : 0;
    uint8_t *p = chorus_put_u32(frame, (uint32_t)(1 + body));
    *p++ = type;
    if (name) {
        *p++ = (uint8_t)n;
        memcpy(p, name, n);
        p += n;
    }
    return send_frame(s, frame, (size_t)(p - frame), deadline);
}

/* ---- the API ------------------------------------------------------------------- */

static void free_session(chorus_session *s) {
    if (s->fd >= 0) close(s->fd);
    free(s->in);
    pthread_mutex_destroy(&s->send_lock);
    pthread_mutex_destroy(&s->recv_lock);
    pthread_mutex_destroy(&s->text_lock);
    free(s);
}

static int connect_failed(chorus_session *s, int rc) {
    if (s) {
        pthread_mutex_lock(&s->text_lock);
        snprintf(connect_text, sizeof connect_text, "%s", s->text);
        pthread_mutex_unlock(&s->text_lock);
        free_session(s);
    }
    return rc;
}

int chorus_connect_timeout(const char *address, const char *name, int flags, const char *token, int timeout_ms,
                           chorus_session **session) {
    connect_text[0] = '\0';
    if (session) *session = NULL;
    if (!session || !name) {
        snprintf(connect_text, sizeof connect_text, "session and name must not be NULL");
        return CHORUS_ERR_BAD_ARGUMENT;
    }
    size_t name_len = strlen(name);
    size_t token_len = token ? strlen(token) : 0;
    if (name_len > CHORUS_MAX_GROUP_NAME_LENGTH || token_len > CHORUS_MAX_TOKEN_LENGTH) {
        snprintf(connect_text, sizeof connect_text, "name and token must be at most 255 bytes each");
        return CHORUS_ERR_BAD_ARGUMENT;
    }
    if ((flags & ~CHORUS_MEMBERSHIP) != 0 || timeout_ms <= 0) {
        snprintf(connect_text, sizeof connect_text, "flags must be 0 or CHORUS_MEMBERSHIP, the timeout positive");
        return CHORUS_ERR_BAD_ARGUMENT;
    }
    int64_t deadline = deadline_after(timeout_ms);

    chorus_session *s = calloc(1, sizeof *s);
    if (!s) return CHORUS_ERR_NO_MEMORY;
    s->fd = -1;
    pthread_mutex_init(&s->send_lock, NULL);
    pthread_mutex_init(&s->recv_lock, NULL);
    pthread_mutex_init(&s->text_lock, NULL);
    atomic_init(&s->fatal, 0);

    char why[TEXT_LEN];
    why[0] = '\0';
    int rc = open_address(address, deadline, why, sizeof why, &s->fd);
    if (rc < 0) {
        set_text(s, "%s", why);
        return connect_failed(s, rc);
    }

    /* connect: version, flags, name, token */
    uint8_t frame[4 + 1 + 2 + 1 + 256 + 256];
    uint8_t *p = frame + 4;
    *p++ = TYPE_CONNECT;
    p = chorus_put_u16(p, CHORUS_PROTOCOL_VERSION);
    *p++ = (uint8_t)flags;
    *p++ = (uint8_t)name_len;
    memcpy(p, name, name_len);
    p += name_len;
    *p++ = (uint8_t)token_len;
    if (token_len) memcpy(p, token, token_len);
    p += token_len;
    chorus_put_u32(frame, (uint32_t)(p - frame - 4));
    rc = send_frame(s, frame, (size_t)(p - frame), deadline);
    if (rc < 0) return connect_failed(s, rc);

    chorus_event ev;
    memset(&ev, 0, sizeof ev);
    pthread_mutex_lock(&s->recv_lock);
    rc = next_frame(s, &ev, deadline);
    pthread_mutex_unlock(&s->recv_lock);
    if (rc == CHORUS_EVENT_WELCOME) {
        snprintf(s->private_group, sizeof s->private_group, "%s", ev.welcome.private_group);
        snprintf(s->daemon, sizeof s->daemon, "%s", ev.welcome.daemon);
        s->max_payload = ev.welcome.max_payload;
        s->version = ev.welcome.version;
        chorus_event_free(&ev);
        set_text(s, "%s", "");
        *session = s;
        return CHORUS_OK;
    }
    if (rc == CHORUS_EVENT_ERROR) {
        rc = CHORUS_ERR_FROM_DAEMON(ev.error.code);
        set_text(s, "the daemon refused the session (error %u, %s): %s", ev.error.code, chorus_strerror(rc),
                 ev.error.text);
    } else if (rc > 0) {
        set_text(s, "protocol violation by the daemon: a frame of kind %d before its welcome", rc);
        rc = CHORUS_ERR_PROTOCOL;
    } else if (rc == CHORUS_ERR_TIMEOUT) {
        set_text(s, "no answer from the daemon within %d ms", timeout_ms);
    }
    chorus_event_free(&ev);
    return connect_failed(s, rc);
}

int chorus_connect(const char *address, const char *name, int flags, const char *token, chorus_session **session) {
    return chorus_connect_timeout(address, name, flags, token, CHORUS_CONNECT_TIMEOUT_MS, session);
}

static int check_group(chorus_session *s, const char *group, int joinable) {
    if (!group) {
        set_text(s, "group must not be NULL");
        return CHORUS_ERR_BAD_ARGUMENT;
    }
    size_t n = strlen(group);
    if (n == 0 || n > CHORUS_MAX_GROUP_NAME_LENGTH) {
        set_text(s, "group name '%.300s' must be 1 to 255 bytes", group);
        return CHORUS_ERR_BAD_ARGUMENT;
    }
    if (joinable && group[0] == '#') {
        set_text(s, "'%.300s' is a private group name; it cannot be joined or left", group);
        return CHORUS_ERR_BAD_ARGUMENT;
    }
    return CHORUS_OK;
}

int chorus_join(chorus_session *s, const char *group) {
    if (!s) return CHORUS_ERR_BAD_ARGUMENT;
    int rc = check_group(s, group, 1);
    if (rc < 0) return rc;
    return send_simple(s, TYPE_JOIN, group, -1);
}

int chorus_leave(chorus_session *s, const char *group) {
    if (!s) return CHORUS_ERR_BAD_ARGUMENT;
    int rc = check_group(s, group, 1);
    if (rc < 0) return rc;
    return send_simple(s, TYPE_LEAVE, group, -1);
}

int chorus_status(chorus_session *s) {
    if (!s) return CHORUS_ERR_BAD_ARGUMENT;
    return send_simple(s, TYPE_STATUS, NULL, -1);
}

int chorus_reload_keys(chorus_session *s) {
    if (!s) return CHORUS_ERR_BAD_ARGUMENT;
    return send_simple(s, TYPE_RELOAD_KEYS, NULL, -1);
}

int chorus_multicast(chorus_session *s, int service, const char *const *groups, size_t ngroups, uint16_t message_type,
                     const void *payload, size_t len, int flags) {
    if (!s) return CHORUS_ERR_BAD_ARGUMENT;
    if (service < CHORUS_UNRELIABLE || service > CHORUS_SAFE) {
        set_text(s, "service %d: expected CHORUS_UNRELIABLE (0) to CHORUS_SAFE (5)", service);
        return CHORUS_ERR_BAD_ARGUMENT;
    }
    if ((flags & ~CHORUS_SELF_DISCARD) != 0) {
        set_text(s, "flags 0x%x: only CHORUS_SELF_DISCARD is defined", (unsigned)flags);
        return CHORUS_ERR_BAD_ARGUMENT;
    }
    if (!groups || ngroups < 1 || ngroups > CHORUS_MAX_GROUPS_PER_MESSAGE) {
        set_text(s, "a message goes to 1 to 255 groups, not %zu", ngroups);
        return CHORUS_ERR_BAD_ARGUMENT;
    }
    if (!payload && len > 0) {
        set_text(s, "payload is NULL but len is %zu", len);
        return CHORUS_ERR_BAD_ARGUMENT;
    }
    size_t header = 4 + 1 + 1 + 1 + 2 + 1;
    for (size_t i = 0; i < ngroups; i++) {
        int rc = check_group(s, groups[i], 0);
        if (rc < 0) return rc;
        header += 1 + strlen(groups[i]);
    }
    if (len > s->max_payload || len > (size_t)UINT32_MAX - header) {
        set_text(s, "payload of %zu bytes exceeds the daemon's limit of %lu", len, (unsigned long)s->max_payload);
        return CHORUS_ERR_MESSAGE_TOO_LONG;
    }
    uint8_t small[1024];
    uint8_t *frame = header <= sizeof small ? small : malloc(header);
    if (!frame) return CHORUS_ERR_NO_MEMORY;
    uint8_t *p = chorus_put_u32(frame, (uint32_t)(header - 4 + len));
    *p++ = TYPE_MULTICAST;
    *p++ = (uint8_t)service;
    *p++ = (uint8_t)flags;
    p = chorus_put_u16(p, message_type);
    *p++ = (uint8_t)ngroups;
    for (size_t i = 0; i < ngroups; i++) {
        size_t n = strlen(groups[i]);
        *p++ = (uint8_t)n;
        memcpy(p, groups[i], n);
        p += n;
    }
    struct iovec iov[2] = {{.iov_base = frame, .iov_len = header}, {.iov_base = (void *)payload, .iov_len = len}};
    pthread_mutex_lock(&s->send_lock);
    int rc = write_all(s, iov, len > 0 ? 2 : 1, -1);
    pthread_mutex_unlock(&s->send_lock);
    if (frame != small) free(frame);
    return rc;
}

int chorus_receive(chorus_session *s, chorus_event *ev, int timeout_ms) {
    if (!s || !ev) return CHORUS_ERR_BAD_ARGUMENT;
    memset(ev, 0, sizeof *ev);
    int64_t deadline = deadline_after(timeout_ms);
    pthread_mutex_lock(&s->recv_lock);
    int rc = next_frame(s, ev, deadline);
    pthread_mutex_unlock(&s->recv_lock);
    if (rc == CHORUS_EVENT_WELCOME) {
        chorus_event_free(ev);
        atomic_store(&s->fatal, CHORUS_ERR_PROTOCOL);
        set_text(s, "protocol violation by the daemon: a second welcome frame");
        return CHORUS_ERR_PROTOCOL;
    }
    if (rc == CHORUS_EVENT_ERROR) {
        rc = CHORUS_ERR_FROM_DAEMON(ev->error.code);
        atomic_store(&s->fatal, rc);
        set_text(s, "the daemon ended the session (error %u, %s): %s", ev->error.code, chorus_strerror(rc),
                 ev->error.text);
    }
    return rc;
}

int chorus_poll(chorus_session *s) {
    if (!s) return CHORUS_ERR_BAD_ARGUMENT;
    pthread_mutex_lock(&s->recv_lock);
    int fatal = atomic_load(&s->fatal);
    if (fatal != 0 && fatal != CHORUS_ERR_CONNECTION_LOST) {
        pthread_mutex_unlock(&s->recv_lock);
        return fatal;
    }
    int rc = absorb(s, POLL_LIMIT);
    int frames = 0;
    size_t at = s->in_start;
    while (at < s->in_end && frames < INT_MAX) {
        size_t size = 0;
        int whole = chorus_frame_span(s->in + at, s->in_end - at, &size);
        if (whole < 0) { /* a bad frame: chorus_receive() reports it */
            frames++;
            break;
        }
        if (whole == 0) break;
        frames++;
        at += size;
    }
    if (frames == 0 && s->eof) frames = set_fatal(s, CHORUS_ERR_CONNECTION_LOST);
    if (frames == 0 && rc < 0) frames = rc;
    pthread_mutex_unlock(&s->recv_lock);
    return frames;
}

int chorus_fd(const chorus_session *s) { return s ? s->fd : -1; }

const char *chorus_private_group(const chorus_session *s) { return s ? s->private_group : ""; }

const char *chorus_daemon_name(const chorus_session *s) { return s ? s->daemon : ""; }

uint32_t chorus_max_payload(const chorus_session *s) { return s ? s->max_payload : 0; }

unsigned chorus_welcome_version(const chorus_session *s) { return s ? s->version : 0; }

const char *chorus_error_text(const chorus_session *s) {
    if (!s) return connect_text;
    return s->text;
}

int chorus_disconnect(chorus_session *s) {
    if (!s) return CHORUS_ERR_BAD_ARGUMENT;
    int64_t deadline = deadline_after(DISCONNECT_WAIT_MS);
    if (atomic_load(&s->fatal) == 0 && send_simple(s, TYPE_DISCONNECT, NULL, deadline) == CHORUS_OK) {
        /* Let the daemon read everything, then wait for it to close (discarding what comes). */
        (void)shutdown(s->fd, SHUT_WR);
        uint8_t sink[4096];
        for (;;) {
            ssize_t n = read(s->fd, sink, sizeof sink);
            if (n > 0) continue;
            if (n == 0) break;
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) break;
            if (wait_fd(s->fd, POLLIN, deadline, NULL) <= 0) break;
        }
    }
    free_session(s);
    return CHORUS_OK;
}
