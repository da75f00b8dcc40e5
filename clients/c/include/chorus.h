/*
 * chorus.h - the native C client of Chorus (client protocol version 3).
 *
 * A session is one connection to a Chorus daemon (chorusd) over TCP or a Unix
 * socket. Every call blocks (receive takes a timeout) and returns an int:
 * zero or a positive value on success, a negative CHORUS_ERR_* code on failure.
 * chorus_strerror() turns a code into text; chorus_error_text() gives the details
 * of the last failure (for a daemon's error frame, the daemon's own text).
 *
 *     chorus_session *s;
 *     int rc = chorus_connect("127.0.0.1:4800", "alice", CHORUS_MEMBERSHIP, NULL, &s);
 *     if (rc < 0) { fprintf(stderr, "%s\n", chorus_strerror(rc)); return 1; }
 *     chorus_join(s, "chat");
 *     const char *groups[] = {"chat"};
 *     chorus_multicast(s, CHORUS_AGREED, groups, 1, 0, "hi", 2, 0);
 *     chorus_event ev;
 *     while ((rc = chorus_receive(s, &ev, 1000)) > 0) {
 *         if (ev.kind == CHORUS_EVENT_MESSAGE) printf("%s: %.*s\n", ev.message.sender,
 *                                                   (int)ev.message.len, (const char *)ev.message.payload);
 *         chorus_event_free(&ev);
 *     }
 *     chorus_disconnect(s);
 *
 * Threads: a session may be used by one thread receiving (chorus_receive,
 * chorus_poll) while another sends (chorus_join, chorus_leave, chorus_multicast,
 * chorus_status, chorus_reload_keys); calls of the same family are serialised.
 * chorus_disconnect must be the last call and must not run with any other call
 * on the same session. Different sessions are independent.
 *
 * Signals: the library never raises SIGPIPE (it writes with MSG_NOSIGNAL).
 */
#ifndef CHORUS_H
#define CHORUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Constants of the protocol ------------------------------------------------ */

/** The client protocol version this library speaks. */
#define CHORUS_PROTOCOL_VERSION 3
/** The daemons' default client port, and their default endpoints. */
#define CHORUS_DEFAULT_PORT 4800
#define CHORUS_DEFAULT_UNIX_SOCKET "/tmp/chorusd.4800.sock"
#define CHORUS_DEFAULT_TCP "127.0.0.1:4800"
/** Largest frame (type byte and body) a daemon may send: 16 MiB + 64 KiB. */
#define CHORUS_MAX_FRAME_LENGTH ((uint32_t)((1u << 24) + (1u << 16)))
/** Longest session name a daemon accepts (1 to 32 of A-Z a-z 0-9 _ - .). */
#define CHORUS_MAX_NAME_LENGTH 32
/** Longest group name, token and private group name the protocol can carry. */
#define CHORUS_MAX_GROUP_NAME_LENGTH 255
#define CHORUS_MAX_TOKEN_LENGTH 255
/** Most target groups of one multicast the protocol can carry (daemons default to 128). */
#define CHORUS_MAX_GROUPS_PER_MESSAGE 255
/** How long chorus_connect() waits for the daemon's answer. */
#define CHORUS_CONNECT_TIMEOUT_MS 10000

/* chorus_connect() flags */
/** Deliver membership events of the groups the session is in. */
#define CHORUS_MEMBERSHIP 0x01

/* Services (chorus_multicast()'s `service`, and chorus_message.service). */
#define CHORUS_UNRELIABLE 0
#define CHORUS_RELIABLE 1
#define CHORUS_FIFO 2
#define CHORUS_CAUSAL 3
#define CHORUS_AGREED 4
#define CHORUS_SAFE 5

/* chorus_multicast() flags */
/** The sender does not get its own message. */
#define CHORUS_SELF_DISCARD 0x01

/* ---- Return codes ------------------------------------------------------------- */

#define CHORUS_OK 0
/** An argument was refused before anything was sent (the session goes on). */
#define CHORUS_ERR_BAD_ARGUMENT (-1)
/** No daemon could be reached at the address. */
#define CHORUS_ERR_COULD_NOT_CONNECT (-2)
/** The connection ended (the daemon closed it, died or the network failed). */
#define CHORUS_ERR_CONNECTION_LOST (-3)
/** The daemon sent something the protocol does not allow; the session is closed. */
#define CHORUS_ERR_PROTOCOL (-4)
/** chorus_receive() or chorus_connect() ran out of time (the session goes on). */
#define CHORUS_ERR_TIMEOUT (-5)
/** Memory could not be allocated. */
#define CHORUS_ERR_NO_MEMORY (-6)
/** A multicast payload exceeds the daemon's maximum (chorus_max_payload()); nothing was sent. */
#define CHORUS_ERR_MESSAGE_TOO_LONG (-7)
/** An unexpected system error (see errno in chorus_error_text()). */
#define CHORUS_ERR_SYSTEM (-8)

/*
 * The daemon ended the session with an error frame of code N: the return code is
 * -(100 + N). Every code of docs/protocol.md has a name below; a code a newer daemon
 * adds maps the same way. The session is closed after any of them.
 */
#define CHORUS_ERR_DAEMON_BASE 100
#define CHORUS_ERR_FROM_DAEMON(code) (-(CHORUS_ERR_DAEMON_BASE + (int)(code)))
#define CHORUS_IS_DAEMON_ERROR(rc) ((rc) <= -(CHORUS_ERR_DAEMON_BASE + 1))
#define CHORUS_DAEMON_CODE(rc) (-(rc) - CHORUS_ERR_DAEMON_BASE)

#define CHORUS_ERR_MALFORMED_FRAME (-101)
#define CHORUS_ERR_UNKNOWN_FRAME_TYPE (-102)
#define CHORUS_ERR_FRAME_TOO_LARGE (-103)
#define CHORUS_ERR_UNSUPPORTED_VERSION (-104)
#define CHORUS_ERR_NOT_CONNECTED (-105)
#define CHORUS_ERR_INVALID_NAME (-106)
#define CHORUS_ERR_NAME_IN_USE (-107)
#define CHORUS_ERR_INVALID_GROUP_NAME (-108)
#define CHORUS_ERR_RESERVED_GROUP_NAME (-109)
#define CHORUS_ERR_TOO_MANY_GROUPS (-110)
#define CHORUS_ERR_TOO_MANY_GROUPS_FOR_SESSION (-111)
#define CHORUS_ERR_PAYLOAD_TOO_LARGE (-112)
#define CHORUS_ERR_TOO_MANY_SESSIONS (-113)
#define CHORUS_ERR_SLOW_RECEIVER (-114)
#define CHORUS_ERR_SHUTTING_DOWN (-115)
#define CHORUS_ERR_INVALID_SERVICE (-116)
#define CHORUS_ERR_AUTHENTICATION_FAILED (-117)
#define CHORUS_ERR_ACCESS_DENIED (-118)
#define CHORUS_ERR_RELOAD_FAILED (-119)

/* Daemon error codes as they appear on the wire (chorus_refused.code, chorus_daemon_error.code). */
#define CHORUS_CODE_ACCESS_DENIED 18
#define CHORUS_CODE_RELOAD_FAILED 19

/* Frame types of the requests a refused frame can name (chorus_refused.request). */
#define CHORUS_REQUEST_JOIN 0x02
#define CHORUS_REQUEST_MULTICAST 0x04
#define CHORUS_REQUEST_RELOAD_KEYS 0x07

/* ---- Events ------------------------------------------------------------------- */

typedef enum chorus_event_kind {
    CHORUS_EVENT_NONE = 0,       /* nothing (a timeout or an error without a frame) */
    CHORUS_EVENT_MESSAGE = 1,    /* a group message: ev.message */
    CHORUS_EVENT_MEMBERSHIP = 2, /* a new view of a group: ev.membership */
    CHORUS_EVENT_REFUSED = 3,    /* a join/multicast/reloadKeys refused by access rules: ev.refused */
    CHORUS_EVENT_STATUS = 4,     /* the answer to chorus_status(): ev.status */
    CHORUS_EVENT_ERROR = 5,      /* the daemon's error frame, which ends the session: ev.error */
    CHORUS_EVENT_WELCOME = 6     /* the answer to connect (chorus_decode_frame() only): ev.welcome */
} chorus_event_kind;

/* chorus_membership.kind */
#define CHORUS_VIEW_REGULAR 0
#define CHORUS_VIEW_TRANSITIONAL 1
/* chorus_membership.reason */
#define CHORUS_REASON_JOIN 0
#define CHORUS_REASON_LEAVE 1
#define CHORUS_REASON_DISCONNECT 2
#define CHORUS_REASON_NETWORK 3

/*
 * Strings in events are NUL-terminated copies owned by the event (valid until
 * chorus_event_free()). A name holding a NUL byte shows only up to it. Every
 * name list is also terminated by a NULL pointer.
 */
typedef struct chorus_message {
    int service;                /* CHORUS_UNRELIABLE .. CHORUS_SAFE */
    uint16_t type;              /* the message type, as sent */
    const char *sender;         /* the sender's private group, e.g. "#3#d1" */
    size_t ngroups;             /* the groups the sender addressed */
    const char *const *groups;
    const void *payload;        /* len bytes (followed by a NUL byte not counted in len) */
    size_t len;
} chorus_message;

/* A view id; compare with chorus_view_id_compare(). Equal at every daemon for the same view. */
typedef struct chorus_view_id {
    uint64_t ring_seq;
    uint32_t ring_representative;
    uint64_t index; /* 0 for a transitional view */
} chorus_view_id;

typedef struct chorus_membership {
    const char *group;
    chorus_view_id view;
    int kind;                  /* CHORUS_VIEW_REGULAR or CHORUS_VIEW_TRANSITIONAL */
    int reason;                /* CHORUS_REASON_* */
    size_t nmembers;           /* private groups of all members, same order at every daemon */
    const char *const *members;
    size_t nchanged;           /* join/leave/disconnect: the session concerned; network: those that moved with this one */
    const char *const *changed;
    size_t nadded;             /* members not in the previous view this session was shown */
    const char *const *added;
    size_t nremoved;           /* members of that previous view not in this one */
    const char *const *removed;
} chorus_membership;

typedef struct chorus_refused {
    uint16_t code;             /* CHORUS_CODE_ACCESS_DENIED or CHORUS_CODE_RELOAD_FAILED */
    uint8_t request;           /* CHORUS_REQUEST_JOIN, _MULTICAST or _RELOAD_KEYS */
    const char *group;         /* the group refused (of a multicast: the first one refused) */
    const char *text;          /* for people */
} chorus_refused;

typedef struct chorus_status_reply {
    const char *json;          /* a UTF-8 JSON object (docs/protocol.md), NUL-terminated */
    size_t len;
} chorus_status_reply;

typedef struct chorus_daemon_error {
    uint16_t code;             /* docs/protocol.md's error code; the return code was CHORUS_ERR_FROM_DAEMON(code) */
    const char *text;
} chorus_daemon_error;

typedef struct chorus_welcome {
    uint16_t version;
    const char *private_group;
    const char *daemon;
    uint32_t max_payload;
} chorus_welcome;

typedef struct chorus_event {
    chorus_event_kind kind;
    union {
        chorus_message message;
        chorus_membership membership;
        chorus_refused refused;
        chorus_status_reply status;
        chorus_daemon_error error;
        chorus_welcome welcome;
    };
    void *storage_; /* private: the memory the pointers above point into */
} chorus_event;

/** Frees what an event holds and zeroes it. Safe on a zeroed or already freed event. */
void chorus_event_free(chorus_event *event);

/** Compares view ids as the tuple (ring_seq, ring_representative, index): <0, 0 or >0. */
int chorus_view_id_compare(const chorus_view_id *a, const chorus_view_id *b);

/* ---- Sessions ----------------------------------------------------------------- */

typedef struct chorus_session chorus_session;

/**
 * Connects to a daemon and opens a session named `name`.
 *
 * address: "host:port", "[v6addr]:port", a bare port (on 127.0.0.1), a Unix socket
 *   path (anything containing '/'), or NULL/"" for the defaults: the Unix socket
 *   CHORUS_DEFAULT_UNIX_SOCKET, then, if nothing listens there, TCP 127.0.0.1:4800.
 * name: the session's name, unique on its daemon; the daemon checks it (1 to 32 of
 *   A-Z a-z 0-9 _ - .) and refuses others with CHORUS_ERR_INVALID_NAME.
 * flags: 0 or CHORUS_MEMBERSHIP.
 * token: NULL or "" for none, else a secret from the daemon's tokens file.
 *
 * Returns CHORUS_OK with *session set, or CHORUS_ERR_BAD_ARGUMENT,
 * CHORUS_ERR_COULD_NOT_CONNECT, CHORUS_ERR_TIMEOUT, CHORUS_ERR_CONNECTION_LOST,
 * CHORUS_ERR_PROTOCOL, or the daemon's refusal (CHORUS_ERR_INVALID_NAME,
 * CHORUS_ERR_NAME_IN_USE, CHORUS_ERR_AUTHENTICATION_FAILED, ...). On failure
 * *session is NULL and chorus_error_text(NULL) describes why.
 */
int chorus_connect(const char *address, const char *name, int flags, const char *token,
                   chorus_session **session);

/** chorus_connect() with its own time limit for reaching the daemon and its answer (ms, > 0). */
int chorus_connect_timeout(const char *address, const char *name, int flags, const char *token,
                           int timeout_ms, chorus_session **session);

/** Joins `group` (1 to 255 bytes, not starting with '#'). Joining twice is not an error. */
int chorus_join(chorus_session *session, const char *group);

/** Leaves `group`. Leaving a group the session is not in is not an error. */
int chorus_leave(chorus_session *session, const char *group);

/**
 * Multicasts `len` bytes of `payload` to `ngroups` groups (1 to 255 names of 1 to 255
 * bytes; a private group such as "#7#d2" reaches one session). `service` is one of
 * CHORUS_UNRELIABLE .. CHORUS_SAFE, `flags` 0 or CHORUS_SELF_DISCARD, `message_type`
 * any value (delivered as is). The session need not be a member of the groups.
 *
 * Blocks while the daemon is not reading (backpressure); meanwhile it keeps reading
 * what the daemon sends into the session's buffer. Returns CHORUS_OK once the whole
 * frame is written, CHORUS_ERR_BAD_ARGUMENT, CHORUS_ERR_MESSAGE_TOO_LONG (more than
 * chorus_max_payload() bytes), or an error that ended the session. A daemon refusing a
 * request ends the session with an error frame the session receives later: the write
 * that finds the connection closed returns CHORUS_ERR_CONNECTION_LOST, and
 * chorus_receive() then delivers what came before and the daemon's error code.
 */
int chorus_multicast(chorus_session *session, int service, const char *const *groups, size_t ngroups,
                     uint16_t message_type, const void *payload, size_t len, int flags);

/** Asks the daemon for its state; the answer arrives as a CHORUS_EVENT_STATUS event. */
int chorus_status(chorus_session *session);

/**
 * Asks the daemon to read its key file again; the answer arrives as a
 * CHORUS_EVENT_STATUS event or a CHORUS_EVENT_REFUSED event.
 */
int chorus_reload_keys(chorus_session *session);

/**
 * Waits up to `timeout_ms` milliseconds (0: do not wait, negative: no limit) for the
 * next event and fills `*event` (free it with chorus_event_free()).
 *
 * Returns the event's kind (CHORUS_EVENT_MESSAGE, _MEMBERSHIP, _REFUSED or _STATUS,
 * all positive); CHORUS_ERR_TIMEOUT if none came in time (event->kind is NONE, the
 * session goes on); CHORUS_ERR_FROM_DAEMON(code) when the daemon ended the session
 * with an error frame (event->kind is CHORUS_EVENT_ERROR with its code and text);
 * CHORUS_ERR_CONNECTION_LOST once the connection ended and every event that arrived
 * before was delivered; CHORUS_ERR_PROTOCOL if the daemon broke the protocol. After
 * an error that ended the session every call returns that error again.
 */
int chorus_receive(chorus_session *session, chorus_event *event, int timeout_ms);

/**
 * Reads what the socket holds without blocking and returns how many whole frames
 * are buffered: if it is > 0, chorus_receive() returns an event (or the error the
 * frame holds) without waiting. Returns 0 if nothing complete is buffered, or the
 * error that ended the session once nothing is left to deliver.
 *
 * With poll()/select() on chorus_fd(): the library may have read several frames
 * into its buffer, so wait on the descriptor only while chorus_poll() returns 0.
 */
int chorus_poll(chorus_session *session);

/** The session's socket, for poll()/select() (readable: call chorus_receive()). -1 if session is NULL. */
int chorus_fd(const chorus_session *session);

/** The session's private group (its name as a sender and member), e.g. "#1#d2". */
const char *chorus_private_group(const chorus_session *session);
/** The name of the daemon the session is connected to. */
const char *chorus_daemon_name(const chorus_session *session);
/** The largest payload the daemon accepts. */
uint32_t chorus_max_payload(const chorus_session *session);
/** The version field of the daemon's welcome frame. */
unsigned chorus_welcome_version(const chorus_session *session);

/**
 * Ends the session: sends disconnect, lets the daemon process everything sent before
 * (waiting at most 2 s for it to close), closes the socket and frees the session,
 * whatever state it was in. Returns CHORUS_OK, or CHORUS_ERR_BAD_ARGUMENT for NULL.
 */
int chorus_disconnect(chorus_session *session);

/* ---- Errors ------------------------------------------------------------------- */

/** A fixed description of a return code (never NULL). */
const char *chorus_strerror(int code);

/**
 * Details of the last failure: of `session` (e.g. the daemon's error text or what
 * was wrong with a frame), or, with NULL, of the calling thread's last failed
 * chorus_connect(). Valid until the next call on the session (or the next connect).
 */
const char *chorus_error_text(const chorus_session *session);

/* ---- The frame decoder, usable without a socket ------------------------------ */

/**
 * Decodes the first daemon-to-client frame of the `len` bytes at `data` (a stream
 * of frames: u32 length, type byte, body).
 *
 * Returns the frame's chorus_event_kind (> 0) with `*event` filled and `*consumed`
 * set to the frame's size; 0 if the bytes hold no whole frame yet (`*consumed` = 0,
 * nothing allocated); CHORUS_ERR_PROTOCOL if the bytes cannot be a valid frame (a
 * length of 0 or above CHORUS_MAX_FRAME_LENGTH, an unknown or client frame type, a
 * field running past the frame, a count larger than the bytes present, an invalid
 * service/kind/reason, invalid UTF-8, or bytes left after the last field);
 * CHORUS_ERR_NO_MEMORY. `why` (may be NULL) receives a description of a failure.
 * Never reads outside [data, data + len); allocates nothing for an invalid frame and, for
 * a valid one, one block of at most about ten times the frame's size (name pointers).
 */
int chorus_decode_frame(const void *data, size_t len, size_t *consumed, chorus_event *event,
                        char *why, size_t whylen);

#ifdef __cplusplus
}
#endif

#endif /* CHORUS_H */
