/* Descriptions of the return codes. */
#include "internal.h"

const char *chorus_strerror(int code) {
    if (code >= 0) return "success";
    switch (code) {
    case CHORUS_ERR_BAD_ARGUMENT: return "bad argument";
    case CHORUS_ERR_COULD_NOT_CONNECT: return "could not connect to the daemon";
    case CHORUS_ERR_CONNECTION_LOST: return "connection to the daemon lost";
    case CHORUS_ERR_PROTOCOL: return "protocol violation by the daemon";
    case CHORUS_ERR_TIMEOUT: return "timed out";
    case CHORUS_ERR_NO_MEMORY: return "out of memory";
    case CHORUS_ERR_MESSAGE_TOO_LONG: return "message longer than the daemon accepts";
    case CHORUS_ERR_SYSTEM: return "system error";
    case CHORUS_ERR_MALFORMED_FRAME: return "daemon: malformed frame";
    case CHORUS_ERR_UNKNOWN_FRAME_TYPE: return "daemon: unknown frame type";
    case CHORUS_ERR_FRAME_TOO_LARGE: return "daemon: frame too large";
    case CHORUS_ERR_UNSUPPORTED_VERSION: return "daemon: unsupported protocol version";
    case CHORUS_ERR_NOT_CONNECTED: return "daemon: not connected";
    case CHORUS_ERR_INVALID_NAME: return "daemon: invalid session name";
    case CHORUS_ERR_NAME_IN_USE: return "daemon: session name in use";
    case CHORUS_ERR_INVALID_GROUP_NAME: return "daemon: invalid group name";
    case CHORUS_ERR_RESERVED_GROUP_NAME: return "daemon: reserved group name";
    case CHORUS_ERR_TOO_MANY_GROUPS: return "daemon: too many groups in a message";
    case CHORUS_ERR_TOO_MANY_GROUPS_FOR_SESSION: return "daemon: too many groups for the session";
    case CHORUS_ERR_PAYLOAD_TOO_LARGE: return "daemon: payload too large";
    case CHORUS_ERR_TOO_MANY_SESSIONS: return "daemon: too many sessions";
    case CHORUS_ERR_SLOW_RECEIVER: return "daemon: slow receiver";
    case CHORUS_ERR_SHUTTING_DOWN: return "daemon: shutting down";
    case CHORUS_ERR_INVALID_SERVICE: return "daemon: invalid service";
    case CHORUS_ERR_AUTHENTICATION_FAILED: return "daemon: authentication failed";
    case CHORUS_ERR_ACCESS_DENIED: return "daemon: access denied";
    case CHORUS_ERR_RELOAD_FAILED: return "daemon: reload failed";
    default: break;
    }
    if (CHORUS_IS_DAEMON_ERROR(code)) return "daemon: error code unknown to this client";
    return "unknown error";
}
