/*
 * spclient -- a scriptable Spread 4.4 test client, linked against Spread's own libspread.
 *
 * It drives one or more libspread sessions from commands (command-line arguments and/or stdin
 * lines) and prints one line per result or event, "KIND key=value key=value ...", so that tests
 * in any language can drive it against the real Spread daemon or against chorusd's Spread
 * listener and compare. The full reference is scripts/spread/README.md; `spclient --help` prints
 * a summary.
 *
 * Part of Chorus's test tooling; written for it (no Spread code is copied here, only Spread's
 * public API from sp.h is used).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sp.h"

/* ------------------------------------------------------------------ output */

static FILE *out;          /* the real stdout; fd 1 is pointed at stderr so libspread's chatter stays off it */
static int opt_echo = 0;   /* print each command as "> command" before running it */
static int opt_show = 64;  /* payloads up to this many bytes are printed (data=...) */
static int opt_ts = 0;     /* add t=<ms since start> to every line */
static int opt_exit_on_error = 0;
static int any_error = 0;
static struct timespec t_start;

static long long ms_since_start(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)(now.tv_sec - t_start.tv_sec) * 1000 + (now.tv_nsec - t_start.tv_nsec) / 1000000;
}

/* A line being built: "KIND k=v k=v". */
static char line[1 << 20];
static size_t line_len;

static int racy = 0; /* the current command began with "?": its lines are marked as timing-dependent */

static void line_begin(const char *kind)
{
    line_len = 0;
    line_len += (size_t)snprintf(line, sizeof line, "%s%s", racy ? "?" : "", kind);
    if (opt_ts)
        line_len += (size_t)snprintf(line + line_len, sizeof line - line_len, " t=%lld", ms_since_start());
}

__attribute__((format(printf, 1, 2))) static void line_addf(const char *fmt, ...)
{
    va_list ap;
    if (line_len >= sizeof line - 1)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(line + line_len, sizeof line - line_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        line_len += (size_t)n;
    if (line_len > sizeof line - 1)
        line_len = sizeof line - 1;
}

/* Escapes bytes so that a value never holds a space: printable ASCII stays, except \ , | " which,
 * like every byte outside 0x21..0x7e, become \xHH. */
static void line_add_esc(const char *p, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    for (size_t i = 0; i < n && line_len < sizeof line - 5; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c > 0x20 && c < 0x7f && c != '\\' && c != ',' && c != '|' && c != '"') {
            line[line_len++] = (char)c;
        } else {
            line[line_len++] = '\\';
            line[line_len++] = 'x';
            line[line_len++] = hexd[c >> 4];
            line[line_len++] = hexd[c & 15];
        }
    }
    line[line_len] = 0;
}

/* key=value with the value escaped; a name field is at most MAX_GROUP_NAME bytes (NUL-terminated within) */
static void line_kv_esc(const char *key, const char *p, size_t n)
{
    line_addf(" %s=", key);
    line_add_esc(p, n);
}

static size_t name_len(const char *name)
{
    return strnlen(name, MAX_GROUP_NAME);
}

static void line_kv_name(const char *key, const char *name)
{
    line_kv_esc(key, name, name_len(name));
}

static void line_end(void)
{
    fputs(line, out);
    fputc('\n', out);
    fflush(out);
}

/* ------------------------------------------------------------------ Spread names */

static const char *sp_err_name(int e)
{
    switch (e) {
    case ILLEGAL_SPREAD: return "ILLEGAL_SPREAD";
    case COULD_NOT_CONNECT: return "COULD_NOT_CONNECT";
    case REJECT_QUOTA: return "REJECT_QUOTA";
    case REJECT_NO_NAME: return "REJECT_NO_NAME";
    case REJECT_ILLEGAL_NAME: return "REJECT_ILLEGAL_NAME";
    case REJECT_NOT_UNIQUE: return "REJECT_NOT_UNIQUE";
    case REJECT_VERSION: return "REJECT_VERSION";
    case CONNECTION_CLOSED: return "CONNECTION_CLOSED";
    case REJECT_AUTH: return "REJECT_AUTH";
    case ILLEGAL_SESSION: return "ILLEGAL_SESSION";
    case ILLEGAL_SERVICE: return "ILLEGAL_SERVICE";
    case ILLEGAL_MESSAGE: return "ILLEGAL_MESSAGE";
    case ILLEGAL_GROUP: return "ILLEGAL_GROUP";
    case BUFFER_TOO_SHORT: return "BUFFER_TOO_SHORT";
    case GROUPS_TOO_SHORT: return "GROUPS_TOO_SHORT";
    case MESSAGE_TOO_LONG: return "MESSAGE_TOO_LONG";
    case NET_ERROR_ON_SESSION: return "NET_ERROR_ON_SESSION";
    case SP_BUG: return "SP_BUG";
    default: return "UNKNOWN_ERROR";
    }
}

static const struct {
    const char *name;
    int bit;
} service_names[] = {
    {"UNRELIABLE", UNRELIABLE_MESS}, {"RELIABLE", RELIABLE_MESS}, {"FIFO", FIFO_MESS},
    {"CAUSAL", CAUSAL_MESS},         {"AGREED", AGREED_MESS},     {"SAFE", SAFE_MESS},
    {"SELF_DISCARD", SELF_DISCARD},  {"REG_MEMB", REG_MEMB_MESS}, {"TRANSITION", TRANSITION_MESS},
    {"CAUSED_BY_JOIN", CAUSED_BY_JOIN}, {"CAUSED_BY_LEAVE", CAUSED_BY_LEAVE},
    {"CAUSED_BY_DISCONNECT", CAUSED_BY_DISCONNECT}, {"CAUSED_BY_NETWORK", CAUSED_BY_NETWORK},
    {"REJECT", REJECT_MESS},         {"DROP_RECV", DROP_RECV},
};

/* "AGREED|SELF_DISCARD"; bits without a name are added as a hex number */
static void line_kv_service(const char *key, int bits)
{
    int first = 1, rest = bits;
    line_addf(" %s=", key);
    for (size_t i = 0; i < sizeof service_names / sizeof service_names[0]; i++) {
        if (bits & service_names[i].bit) {
            line_addf("%s%s", first ? "" : "|", service_names[i].name);
            first = 0;
            rest &= ~service_names[i].bit;
        }
    }
    if (rest || first)
        line_addf("%s0x%x", first ? "" : "|", (unsigned)rest);
}

/* "agreed", "SAFE|self_discard", "agreed+selfdiscard", "AGREED_MESS", "0x10" ... -> service bits, or -1 */
static int parse_service(const char *s)
{
    int bits = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *t = strtok(buf, "|+,"); t; t = strtok(NULL, "|+,")) {
        char *end;
        long v = strtol(t, &end, 0);
        if (*t && *end == 0) {
            bits |= (int)v;
            continue;
        }
        char name[64];
        size_t l = 0;
        for (; t[l] && l < sizeof name - 1; l++)
            name[l] = (char)toupper((unsigned char)t[l]);
        name[l] = 0;
        if (l > 5 && !strcmp(name + l - 5, "_MESS"))
            name[l -= 5] = 0;
        if (!strcmp(name, "SELFDISCARD") || !strcmp(name, "SELF"))
            snprintf(name, sizeof name, "SELF_DISCARD");
        size_t i;
        for (i = 0; i < sizeof service_names / sizeof service_names[0]; i++)
            if (!strcmp(name, service_names[i].name))
                break;
        if (i == sizeof service_names / sizeof service_names[0])
            return -1;
        bits |= service_names[i].bit;
    }
    return bits;
}

/* ------------------------------------------------------------------ explicit Unix socket paths */

/* libspread turns "4803" into the Unix socket <SP_UNIX_SOCKET>/4803, the directory fixed at its build.
 * build.sh links spclient with -Wl,--wrap=connect so that a connect address holding a '/' reaches that
 * exact path: libspread is handed a dummy port and its AF_UNIX connect() is redirected here. */
static char unix_override[sizeof(((struct sockaddr_un *)0)->sun_path)];

#ifdef SPCLIENT_WRAP_CONNECT
int __real_connect(int fd, const struct sockaddr *sa, socklen_t len);
int __wrap_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (unix_override[0] && sa && sa->sa_family == AF_UNIX) {
        struct sockaddr_un u;
        memset(&u, 0, sizeof u);
        u.sun_family = AF_UNIX;
        memcpy(u.sun_path, unix_override, sizeof u.sun_path - 1);
        return __real_connect(fd, (const struct sockaddr *)&u, sizeof u);
    }
    return __real_connect(fd, sa, len);
}
#endif

/* ------------------------------------------------------------------ sessions */

#define MAX_SESS 64
typedef struct {
    char label[32];
    int used;
    int connected;        /* SP_connect succeeded and no disconnect/kill since */
    int failed;           /* a receive failed: the daemon closed it (kept until disconnect, like an app would) */
    mailbox mbox;
    char private_group[MAX_GROUP_NAME];
} session;

static session sessions[MAX_SESS];
static char current_label[32] = "main";

static session *find_session(const char *label, int create)
{
    for (int i = 0; i < MAX_SESS; i++)
        if (sessions[i].used && !strcmp(sessions[i].label, label))
            return &sessions[i];
    if (!create)
        return NULL;
    for (int i = 0; i < MAX_SESS; i++)
        if (!sessions[i].used) {
            memset(&sessions[i], 0, sizeof sessions[i]);
            sessions[i].used = 1;
            snprintf(sessions[i].label, sizeof sessions[i].label, "%s", label);
            return &sessions[i];
        }
    return NULL;
}

/* ------------------------------------------------------------------ results */

static void result_ok(const char *op, const char *label)
{
    line_begin("OK");
    line_addf(" op=%s s=%s", op, label);
}

static void err_sp(const char *op, const char *label, int code)
{
    any_error = 1;
    line_begin("ERR");
    line_addf(" op=%s s=%s code=%d name=%s", op, label, code, sp_err_name(code));
}

/* spclient's own errors (no Spread call made): code=0 */
static void err_local(const char *op, const char *label, const char *name, const char *msg)
{
    any_error = 1;
    line_begin("ERR");
    line_addf(" op=%s s=%s code=0 name=%s", op, label, name);
    if (msg)
        line_kv_esc("msg", msg, strlen(msg));
    line_end();
}

/* ------------------------------------------------------------------ receiving */

static uint64_t fnv1a64(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static char *rbuf;
static int rbuf_cap;
static char (*rgroups)[MAX_GROUP_NAME];
static int rgroups_cap;

static void ensure_rbufs(int need_mess, int need_groups)
{
    if (need_mess > rbuf_cap) {
        free(rbuf);
        rbuf_cap = need_mess;
        rbuf = malloc((size_t)rbuf_cap);
    }
    if (need_groups > rgroups_cap) {
        free(rgroups);
        rgroups_cap = need_groups;
        rgroups = malloc((size_t)rgroups_cap * MAX_GROUP_NAME);
    }
    if (!rbuf || !rgroups) {
        fprintf(stderr, "spclient: out of memory\n");
        exit(3);
    }
}

static void line_kv_names(const char *key, char (*names)[MAX_GROUP_NAME], int n)
{
    line_addf(" %s=", key);
    for (int i = 0; i < n; i++) {
        if (i)
            line_addf(",");
        line_add_esc(names[i], name_len(names[i]));
    }
}

static void print_membership(session *s, int st, const char *sender, int ngroups, int16 mtype, int len)
{
    const char *kind = Is_reg_memb_mess(st) ? "REG" : Is_transition_mess(st) ? "TRANS"
                       : Is_self_leave(st) ? "SELF_LEAVE" : "OTHER";
    line_begin("MEMB");
    line_addf(" s=%s kind=%s cause=", s->label, kind);
    {
        int first = 1;
        static const struct { int bit; const char *n; } causes[] = {
            {CAUSED_BY_JOIN, "JOIN"}, {CAUSED_BY_LEAVE, "LEAVE"},
            {CAUSED_BY_DISCONNECT, "DISCONNECT"}, {CAUSED_BY_NETWORK, "NETWORK"}};
        for (int i = 0; i < 4; i++)
            if (st & causes[i].bit) {
                line_addf("%s%s", first ? "" : "|", causes[i].n);
                first = 0;
            }
        if (first)
            line_addf("NONE");
    }
    line_kv_name("group", sender);
    line_kv_service("service", st);
    line_addf(" bits=0x%08x", (unsigned)st);
    line_addf(" nmembers=%d", ngroups);
    line_kv_names("members", rgroups, ngroups);
    line_addf(" my_index=%d len=%d", (int)mtype, len);

    if (Is_self_leave(st) || len < (int)sizeof(group_id)) {
        /* the self-leave notification has no body: nothing more to parse */
        line_end();
        return;
    }
    membership_info mi;
    memset(&mi, 0, sizeof mi);
    int r = SP_get_memb_info(rbuf, st, &mi);
    if (r < 0) {
        line_addf(" memb_info_error=%s", sp_err_name(r));
        line_end();
        return;
    }
    line_addf(" gid=%d:%d:%d", mi.gid.id[0], mi.gid.id[1], mi.gid.id[2]);
    if (!Is_reg_memb_mess(st)) {
        /* transitional: libspread's parser reports no vs sets (the body is the group id only) */
        line_addf(" num_vs_sets=%u", mi.num_vs_sets);
        line_end();
        return;
    }
    line_kv_name("changed", mi.changed_member);
    int32 raw_offset = -1;
    if (len >= (int)sizeof(group_id) + 8)
        memcpy(&raw_offset, rbuf + sizeof(group_id) + 4, 4);
    line_addf(" num_vs_sets=%u local_vs_set_offset=%d", mi.num_vs_sets, (int)raw_offset);

    if (mi.num_vs_sets > (unsigned)len) {
        line_addf(" vs_error=num_vs_sets_too_large");
        line_end();
        return;
    }
    vs_set_info *vss = calloc(mi.num_vs_sets ? mi.num_vs_sets : 1, sizeof *vss);
    unsigned int my_vs_index = (unsigned)-1;
    int nsets = SP_get_vs_sets_info(rbuf, vss, (int)mi.num_vs_sets, &my_vs_index);
    if (nsets < 0) {
        line_addf(" vs_error=%s", sp_err_name(nsets));
        free(vss);
        line_end();
        return;
    }
    line_addf(" my_vs_index=%d", (int)my_vs_index);
    /* my vs set, as SP_get_memb_info reports it */
    {
        int n = (int)mi.my_vs_set.num_members;
        if (n < 0 || (size_t)n * MAX_GROUP_NAME + mi.my_vs_set.members_offset > (size_t)len) {
            line_addf(" my_vs_set_error=out_of_bounds");
        } else {
            char (*names)[MAX_GROUP_NAME] = calloc(n ? (size_t)n : 1, MAX_GROUP_NAME);
            int got = SP_get_vs_set_members(rbuf, &mi.my_vs_set, names, n);
            if (got < 0)
                line_addf(" my_vs_set_error=%s", sp_err_name(got));
            else
                line_kv_names("my_vs_set", names, got);
            free(names);
        }
    }
    /* every vs set: members comma-separated, sets separated by | */
    line_addf(" vs_sets=");
    for (int i = 0; i < nsets; i++) {
        int n = (int)vss[i].num_members;
        if (i)
            line_addf("|");
        if (n < 0 || (size_t)n * MAX_GROUP_NAME + vss[i].members_offset > (size_t)len) {
            line_addf("?out_of_bounds");
            break;
        }
        char (*names)[MAX_GROUP_NAME] = calloc(n ? (size_t)n : 1, MAX_GROUP_NAME);
        int got = SP_get_vs_set_members(rbuf, &vss[i], names, n);
        for (int j = 0; j < got; j++) {
            if (j)
                line_addf(",");
            line_add_esc(names[j], name_len(names[j]));
        }
        free(names);
    }
    free(vss);
    line_end();
}

/* Receives one message (the caller knows one is there or is willing to block). Returns 1 on a
 * message, <0 on a libspread error (printed). */
static int receive_one(session *s)
{
    service st;
    char sender[MAX_GROUP_NAME];
    int ngroups, endian_mismatch, ret;
    int16 mtype;

    ensure_rbufs(256 * 1024, 128);
    for (;;) {
        st = 0;
        ngroups = 0;
        endian_mismatch = 0;
        memset(sender, 0, sizeof sender);
        ret = SP_receive(s->mbox, &st, sender, rgroups_cap, &ngroups, rgroups, &mtype, &endian_mismatch,
                         rbuf_cap, rbuf);
        if (ret == BUFFER_TOO_SHORT || ret == GROUPS_TOO_SHORT) {
            /* the message stays queued in libspread; grow and receive it again */
            int need_mess = endian_mismatch < 0 ? -endian_mismatch : rbuf_cap;
            int need_groups = ngroups < 0 ? -ngroups : rgroups_cap;
            ensure_rbufs(need_mess, need_groups);
            continue;
        }
        break;
    }
    if (ret < 0) {
        err_sp("recv", s->label, ret);
        line_end();
        s->failed = 1;
        return ret;
    }
    int len = ret;
    if (Is_regular_mess(st)) {
        line_begin("MSG");
        line_addf(" s=%s", s->label);
        line_kv_service("service", st);
        line_addf(" bits=0x%08x", (unsigned)st);
        line_kv_name("sender", sender);
        line_addf(" ngroups=%d", ngroups);
        line_kv_names("groups", rgroups, ngroups);
        line_addf(" type=%d endian_mismatch=%d len=%d hash=%016llx", (int)mtype, endian_mismatch, len,
                  (unsigned long long)fnv1a64(rbuf, (size_t)len));
        if (len <= opt_show)
            line_kv_esc("data", rbuf, (size_t)len);
        line_end();
    } else if (Is_membership_mess(st)) {
        print_membership(s, st, sender, ngroups, mtype, len);
    } else if (Is_reject_mess(st)) {
        line_begin("REJECT");
        line_addf(" s=%s", s->label);
        line_kv_service("service", st);
        line_addf(" bits=0x%08x", (unsigned)st);
        line_kv_name("sender", sender);
        line_addf(" ngroups=%d", ngroups);
        line_kv_names("groups", rgroups, ngroups);
        line_addf(" type=%d len=%d hash=%016llx", (int)mtype, len, (unsigned long long)fnv1a64(rbuf, (size_t)len));
        if (len <= opt_show)
            line_kv_esc("data", rbuf, (size_t)len);
        line_end();
    } else {
        line_begin("UNKNOWN");
        line_addf(" s=%s service=0x%08x", s->label, (unsigned)st);
        line_kv_name("sender", sender);
        line_addf(" ngroups=%d type=%d len=%d", ngroups, (int)mtype, len);
        line_end();
    }
    return 1;
}

/* Waits up to timeout_ms (<0: forever) for the session's socket to be readable. 1 ready, 0 timeout. */
static int wait_readable(session *s, long timeout_ms)
{
    for (;;) {
        fd_set rf;
        FD_ZERO(&rf);
        FD_SET(s->mbox, &rf);
        struct timeval tv, *tvp = NULL;
        if (timeout_ms >= 0) {
            tv.tv_sec = timeout_ms / 1000;
            tv.tv_usec = (timeout_ms % 1000) * 1000;
            tvp = &tv;
        }
        int r = select(s->mbox + 1, &rf, NULL, NULL, tvp);
        if (r < 0 && errno == EINTR)
            continue;
        return r > 0;
    }
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ commands */

#define MAX_TOK 512
static char *tok[MAX_TOK];
static int ntok;

/* Splits a line into words; "..." quotes (with \" \\ \n \t \xHH escapes inside) and a leading #
 * comment. Returns -1 on an unterminated quote. */
static int tokenize(char *p)
{
    ntok = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p || (*p == '#' && ntok == 0))
            return 0;
        if (ntok == MAX_TOK)
            return -1;
        char *w = p, *o = p;
        tok[ntok++] = w;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            if (*p == '"') {
                p++;
                while (*p && *p != '"') {
                    if (*p == '\\' && p[1]) {
                        p++;
                        switch (*p) {
                        case 'n': *o++ = '\n'; p++; break;
                        case 't': *o++ = '\t'; p++; break;
                        case '0': *o++ = 0; p++; break;
                        case 'x':
                            if (isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
                                char h[3] = {p[1], p[2], 0};
                                *o++ = (char)strtol(h, NULL, 16);
                                p += 3;
                            } else {
                                *o++ = *p++;
                            }
                            break;
                        default: *o++ = *p++; break;
                        }
                    } else {
                        *o++ = *p++;
                    }
                }
                if (*p != '"')
                    return -1;
                p++;
            } else {
                *o++ = *p++;
            }
        }
        int end = (*p != 0);
        *o = 0;
        if (end)
            p++;
        if (!end)
            return 0;
    }
}

/* key=value lookup among tok[from..] */
static const char *opt_val(int from, const char *key)
{
    size_t kl = strlen(key);
    for (int i = from; i < ntok; i++)
        if (!strncmp(tok[i], key, kl) && tok[i][kl] == '=')
            return tok[i] + kl + 1;
    return NULL;
}

static int has_word(int from, const char *word)
{
    for (int i = from; i < ntok; i++)
        if (!strcmp(tok[i], word))
            return 1;
    return 0;
}

static long parse_long(const char *s, long dflt)
{
    if (!s)
        return dflt;
    char *end;
    long v = strtol(s, &end, 0);
    return *s && *end == 0 ? v : dflt;
}

static int parse_hex(const char *h, char **outp, int *outlen)
{
    size_t n = strlen(h);
    if (n % 2)
        return -1;
    char *b = malloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        char x[3] = {h[2 * i], h[2 * i + 1], 0};
        if (!isxdigit((unsigned char)x[0]) || !isxdigit((unsigned char)x[1])) {
            free(b);
            return -1;
        }
        b[i] = (char)strtol(x, NULL, 16);
    }
    *outp = b;
    *outlen = (int)(n / 2);
    return 0;
}

static int cmd_connect(session *s, const char *label)
{
    /* connect ADDR NAME [memb|nomemb] [prio=N] [timeout=MS] */
    if (ntok < 3) {
        err_local("connect", label, "USAGE", "connect ADDR NAME [memb|nomemb] [prio=N] [timeout=MS]");
        return -1;
    }
    if (s->connected) {
        err_local("connect", label, "ALREADY_CONNECTED", s->private_group);
        return -1;
    }
    const char *addr = strcmp(tok[1], "-") ? tok[1] : NULL;
    const char *name = strcmp(tok[2], "-") ? tok[2] : NULL;
    int memb = !has_word(3, "nomemb") && parse_long(opt_val(3, "memb"), 1) != 0;
    int prio = (int)parse_long(opt_val(3, "prio"), 0);
    long timeout = parse_long(opt_val(3, "timeout"), 0);
    unix_override[0] = 0;
    if (addr && strchr(addr, '/')) {
#ifdef SPCLIENT_WRAP_CONNECT
        if (strlen(addr) >= sizeof unix_override) {
            err_local("connect", label, "PATH_TOO_LONG", addr);
            return -1;
        }
        snprintf(unix_override, sizeof unix_override, "%s", addr);
        addr = "4803"; /* any port: makes libspread use AF_UNIX, whose connect() goes to unix_override */
#else
        err_local("connect", label, "UNSUPPORTED", "Unix paths need spclient built by build.sh (-Wl,--wrap=connect)");
        return -1;
#endif
    }
    char pg[MAX_GROUP_NAME + 1];
    memset(pg, 0, sizeof pg);
    mailbox mb;
    int r;
    if (timeout > 0) {
        sp_time t;
        t.sec = timeout / 1000;
        t.usec = (timeout % 1000) * 1000;
        r = SP_connect_timeout(addr, name, prio, memb, &mb, pg, t);
    } else {
        r = SP_connect(addr, name, prio, memb, &mb, pg);
    }
    unix_override[0] = 0;
    if (r != ACCEPT_SESSION) {
        err_sp("connect", label, r);
        line_end();
        return -1;
    }
    s->mbox = mb;
    s->connected = 1;
    s->failed = 0;
    memcpy(s->private_group, pg, MAX_GROUP_NAME);
    result_ok("connect", label);
    line_kv_name("private", pg);
    line_end();
    return 0;
}

static int need_session(session *s, const char *op, const char *label)
{
    if (!s || !s->connected) {
        err_local(op, label, "NOT_CONNECTED", NULL);
        return 0;
    }
    return 1;
}

static int cmd_join_leave(session *s, const char *label, int join)
{
    const char *op = join ? "join" : "leave";
    if (ntok < 2) {
        err_local(op, label, "USAGE", join ? "join GROUP..." : "leave GROUP...");
        return -1;
    }
    if (!need_session(s, op, label))
        return -1;
    int rc = 0;
    for (int i = 1; i < ntok; i++) {
        int r = join ? SP_join(s->mbox, tok[i]) : SP_leave(s->mbox, tok[i]);
        if (r < 0) {
            err_sp(op, label, r);
            line_kv_esc("group", tok[i], strlen(tok[i]));
            line_end();
            rc = -1;
        } else {
            result_ok(op, label);
            line_kv_esc("group", tok[i], strlen(tok[i]));
            line_end();
        }
    }
    return rc;
}

/* Builds the payload of message number `index` (0-based): text= with %n replaced by the index, hex=,
 * or size=N with pattern= (repeated text, or "seq": byte i = i mod 256; the default). */
static char *build_payload(int index, int *len_out, const char **why)
{
    const char *text = opt_val(2, "text");
    const char *hex = opt_val(2, "hex");
    const char *size = opt_val(2, "size");
    const char *pattern = opt_val(2, "pattern");
    *why = NULL;
    if (text) {
        size_t tl = strlen(text), cap = tl + 32, o = 0;
        char *b = malloc(cap);
        for (size_t i = 0; i < tl; i++) {
            if (text[i] == '%' && text[i + 1] == 'n') {
                o += (size_t)snprintf(b + o, cap - o, "%d", index);
                i++;
            } else {
                if (o + 1 >= cap) {
                    cap *= 2;
                    b = realloc(b, cap);
                }
                b[o++] = text[i];
            }
            if (o + 24 >= cap) {
                cap *= 2;
                b = realloc(b, cap);
            }
        }
        *len_out = (int)o;
        return b;
    }
    if (hex) {
        char *b;
        if (parse_hex(hex, &b, len_out) < 0) {
            *why = "hex= needs an even number of hex digits";
            return NULL;
        }
        return b;
    }
    long n = parse_long(size, 0);
    if (n < 0 || n > (1L << 28)) {
        *why = "size= out of range";
        return NULL;
    }
    char *b = malloc((size_t)n + 1);
    if (!pattern || !strcmp(pattern, "seq")) {
        for (long i = 0; i < n; i++)
            b[i] = (char)(i & 0xff);
    } else {
        size_t pl = strlen(pattern);
        for (long i = 0; i < n; i++)
            b[i] = pl ? pattern[i % pl] : 0;
    }
    *len_out = (int)n;
    return b;
}

static int cmd_send(session *s, const char *label)
{
    /* send SERVICE GROUP[,GROUP...] [type=N] [text=..|hex=..|size=N [pattern=..]] [count=N] [self_discard] */
    if (ntok < 3) {
        err_local("send", label, "USAGE",
                  "send SERVICE GROUP[,GROUP...] [type=N] [text=T|hex=H|size=N [pattern=P]] [count=N] [selfdiscard]");
        return -1;
    }
    if (!need_session(s, "send", label))
        return -1;
    int svc = parse_service(tok[1]);
    if (svc < 0) {
        err_local("send", label, "USAGE", "unknown service");
        return -1;
    }
    if (has_word(3, "selfdiscard") || has_word(3, "self_discard"))
        svc |= SELF_DISCARD;
    int ng = 0;
    static char groups[1024][MAX_GROUP_NAME];
    {
        char *g = tok[2];
        for (;;) {
            char *c = strchr(g, ',');
            size_t l = c ? (size_t)(c - g) : strlen(g);
            if (ng == 1024) {
                err_local("send", label, "USAGE", "at most 1024 groups (Spread allows 100)");
                return -1;
            }
            memset(groups[ng], 0, MAX_GROUP_NAME);
            memcpy(groups[ng], g, l < MAX_GROUP_NAME ? l : MAX_GROUP_NAME); /* 32 bytes: no NUL, as given */
            ng++;
            if (!c)
                break;
            g = c + 1;
        }
    }
    long type = parse_long(opt_val(3, "type"), 0);
    long count = parse_long(opt_val(3, "count"), 1);
    long long total = 0;
    int last_len = 0;
    for (long i = 0; i < count; i++) {
        int len;
        const char *why;
        char *payload = build_payload((int)i, &len, &why);
        if (!payload) {
            err_local("send", label, "USAGE", why);
            return -1;
        }
        int r = SP_multigroup_multicast(s->mbox, svc, ng, (const char(*)[MAX_GROUP_NAME])groups, (int16)type, len,
                                        payload);
        free(payload);
        if (r < 0) {
            err_sp("send", label, r);
            line_addf(" sent=%ld", i);
            line_end();
            return -1;
        }
        total += r;
        last_len = len;
    }
    result_ok("send", label);
    line_kv_service("service", svc);
    line_addf(" ngroups=%d type=%d", ng, (int)(int16)type);
    if (count == 1)
        line_addf(" len=%d ret=%lld", last_len, total);
    else
        line_addf(" count=%ld ret_total=%lld", count, total);
    line_end();
    return 0;
}

/* recv [MS]: one message within MS ms (default 5000; 0: only if already there; -1: forever) */
static int cmd_recv(session *s, const char *label)
{
    if (!need_session(s, "recv", label))
        return -1;
    long timeout = parse_long(ntok > 1 ? tok[1] : NULL, 5000);
    if (!s->failed && !wait_readable(s, timeout)) {
        line_begin("TIMEOUT");
        line_addf(" s=%s ms=%ld", label, timeout);
        line_end();
        return 0;
    }
    return receive_one(s) < 0 ? -1 : 0;
}

/* recvn N [MS]: up to N messages, all within MS ms in total (default 5000) */
static int cmd_recvn(session *s, const char *label)
{
    if (ntok < 2) {
        err_local("recvn", label, "USAGE", "recvn N [MS]");
        return -1;
    }
    if (!need_session(s, "recvn", label))
        return -1;
    long n = parse_long(tok[1], 1);
    long timeout = parse_long(ntok > 2 ? tok[2] : NULL, 5000);
    long long deadline = now_ms() + timeout;
    for (long i = 0; i < n; i++) {
        long left = timeout < 0 ? -1 : (long)(deadline - now_ms());
        if (timeout >= 0 && left < 0)
            left = 0;
        if (s->failed || !wait_readable(s, left)) {
            line_begin("TIMEOUT");
            line_addf(" s=%s ms=%ld got=%ld want=%ld", label, timeout, i, n);
            line_end();
            return 0;
        }
        if (receive_one(s) < 0)
            return -1;
    }
    return 0;
}

/* drain [MS]: everything until nothing arrives for MS ms (default 500); then "DRAINED n=K" */
static int cmd_drain(session *s, const char *label)
{
    if (!need_session(s, "drain", label))
        return -1;
    long quiet = parse_long(ntok > 1 ? tok[1] : NULL, 500);
    long n = 0;
    while (!s->failed && wait_readable(s, quiet)) {
        if (receive_one(s) < 0)
            return -1;
        n++;
    }
    line_begin("DRAINED");
    line_addf(" s=%s n=%ld", label, n);
    line_end();
    return 0;
}

static int run_line(char *text);

/* While auto mode is on, incoming messages of every session are printed as they arrive whenever
 * spclient waits (for stdin or in sleep). */
static int opt_auto = 0;

/* Waits up to timeout_ms (<0 forever) for extra_fd (or -1) to be readable, printing the sessions'
 * messages meanwhile when auto mode is on. Returns 1 when extra_fd is readable, 0 on timeout. */
static int auto_wait(int extra_fd, long timeout_ms)
{
    long long deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    for (;;) {
        fd_set rf;
        FD_ZERO(&rf);
        int maxfd = -1;
        if (extra_fd >= 0) {
            FD_SET(extra_fd, &rf);
            maxfd = extra_fd;
        }
        if (opt_auto)
            for (int i = 0; i < MAX_SESS; i++)
                if (sessions[i].used && sessions[i].connected && !sessions[i].failed) {
                    FD_SET(sessions[i].mbox, &rf);
                    if (sessions[i].mbox > maxfd)
                        maxfd = sessions[i].mbox;
                }
        struct timeval tv, *tvp = NULL;
        if (timeout_ms >= 0) {
            long long left = deadline - now_ms();
            if (left < 0)
                left = 0;
            tv.tv_sec = (time_t)(left / 1000);
            tv.tv_usec = (suseconds_t)((left % 1000) * 1000);
            tvp = &tv;
        }
        int r = select(maxfd + 1, &rf, NULL, NULL, tvp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        if (opt_auto)
            for (int i = 0; i < MAX_SESS; i++)
                if (sessions[i].used && sessions[i].connected && !sessions[i].failed &&
                    FD_ISSET(sessions[i].mbox, &rf))
                    receive_one(&sessions[i]);
        if (extra_fd >= 0 && FD_ISSET(extra_fd, &rf))
            return 1;
    }
}

static int run_line_inner(char *text)
{
    char label[32];
    static char raw[1 << 20];
    snprintf(raw, sizeof raw, "%s", text);
    snprintf(label, sizeof label, "%s", current_label);
    if (opt_echo) {
        char *p = text;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t l = strlen(p);
        while (l && (p[l - 1] == '\n' || p[l - 1] == '\r'))
            l--;
        if (l) {
            fprintf(out, "> %.*s\n", (int)l, p);
            fflush(out);
        }
    }
    /* ${NAME} is replaced by the environment variable's value (not in sh lines: the shell does it) */
    {
        const char *q = raw;
        while (*q == ' ' || *q == '\t' || *q == '?')
            q++;
        if (*q == '@')
            while (*q && *q != ' ' && *q != '\t')
                q++;
        while (*q == ' ' || *q == '\t')
            q++;
        int is_sh = !strncmp(q, "sh", 2) && (q[2] == ' ' || q[2] == '\t' || q[2] == 0);
        if (!is_sh && strstr(text, "${")) {
            static char expanded[sizeof raw];
            size_t o = 0;
            for (const char *p = raw; *p && o < sizeof expanded - 1;) {
                const char *close;
                if (p[0] == '$' && p[1] == '{' && (close = strchr(p + 2, '}'))) {
                    char name[128];
                    snprintf(name, sizeof name, "%.*s", (int)(close - p - 2), p + 2);
                    const char *v = getenv(name);
                    if (!v) {
                        err_local("parse", label, "UNSET_VARIABLE", name);
                        return -1;
                    }
                    o += (size_t)snprintf(expanded + o, sizeof expanded - o, "%s", v);
                    if (o > sizeof expanded - 1)
                        o = sizeof expanded - 1;
                    p = close + 1;
                } else {
                    expanded[o++] = *p++;
                }
            }
            expanded[o] = 0;
            text = expanded;
        }
    }
    if (tokenize(text) < 0) {
        err_local("parse", label, "USAGE", "unterminated quote or too many words");
        return -1;
    }
    if (ntok == 0)
        return 0;
    racy = 0;
    if (tok[0][0] == '?') { /* "? cmd" or "?cmd": the result depends on timing; lines get a "?" */
        racy = 1;
        if (tok[0][1]) {
            tok[0]++;
        } else {
            memmove(tok, tok + 1, sizeof(tok[0]) * (size_t)(ntok - 1));
            if (--ntok == 0)
                return 0;
        }
    }
    if (tok[0][0] == '@') {
        snprintf(label, sizeof label, "%s", tok[0] + 1);
        memmove(tok, tok + 1, sizeof(tok[0]) * (size_t)(ntok - 1));
        ntok--;
        if (ntok == 0) { /* "@x" alone: make x the default session */
            snprintf(current_label, sizeof current_label, "%s", label);
            return 0;
        }
    }
    const char *cmd = tok[0];
    session *s = find_session(label, !strcmp(cmd, "connect"));

    if (!strcmp(cmd, "connect")) {
        if (!s) {
            err_local("connect", label, "TOO_MANY_SESSIONS", NULL);
            return -1;
        }
        return cmd_connect(s, label);
    }
    if (!strcmp(cmd, "join"))
        return cmd_join_leave(s, label, 1);
    if (!strcmp(cmd, "leave"))
        return cmd_join_leave(s, label, 0);
    if (!strcmp(cmd, "send") || !strcmp(cmd, "mcast") || !strcmp(cmd, "multicast"))
        return cmd_send(s, label);
    if (!strcmp(cmd, "recv"))
        return cmd_recv(s, label);
    if (!strcmp(cmd, "recvn"))
        return cmd_recvn(s, label);
    if (!strcmp(cmd, "drain"))
        return cmd_drain(s, label);
    if (!strcmp(cmd, "disconnect")) {
        if (!need_session(s, "disconnect", label))
            return -1;
        int r = SP_disconnect(s->mbox);
        s->connected = 0;
        if (r < 0) {
            err_sp("disconnect", label, r);
            line_end();
            return -1;
        }
        result_ok("disconnect", label);
        line_end();
        return 0;
    }
    if (!strcmp(cmd, "kill")) { /* closes the socket without telling the daemon (SP_kill) */
        if (!need_session(s, "kill", label))
            return -1;
        SP_kill(s->mbox);
        s->connected = 0;
        result_ok("kill", label);
        line_end();
        return 0;
    }
    if (!strcmp(cmd, "poll")) {
        if (!need_session(s, "poll", label))
            return -1;
        int r = SP_poll(s->mbox);
        if (r < 0) {
            err_sp("poll", label, r);
            line_end();
            return -1;
        }
        result_ok("poll", label);
        line_addf(" bytes=%d", r);
        line_end();
        return 0;
    }
    if (!strcmp(cmd, "info")) {
        result_ok("info", label);
        line_addf(" connected=%d failed=%d", s ? s->connected : 0, s ? s->failed : 0);
        if (s && s->connected)
            line_kv_name("private", s->private_group);
        line_end();
        return 0;
    }
    if (!strcmp(cmd, "use")) {
        if (ntok < 2) {
            err_local("use", label, "USAGE", "use LABEL");
            return -1;
        }
        snprintf(current_label, sizeof current_label, "%s", tok[1]);
        result_ok("use", current_label);
        line_end();
        return 0;
    }
    if (!strcmp(cmd, "sleep")) {
        long ms = parse_long(ntok > 1 ? tok[1] : NULL, 1000);
        auto_wait(-1, ms < 0 ? 0 : ms);
        result_ok("sleep", label);
        line_addf(" ms=%ld", ms);
        line_end();
        return 0;
    }
    if (!strcmp(cmd, "echo")) {
        line_begin("ECHO");
        for (int i = 1; i < ntok; i++) {
            line_addf(" ");
            line_add_esc(tok[i], strlen(tok[i]));
        }
        line_end();
        return 0;
    }
    if (!strcmp(cmd, "auto")) {
        opt_auto = ntok < 2 || strcmp(tok[1], "off");
        result_ok("auto", label);
        line_addf(" on=%d", opt_auto);
        line_end();
        return 0;
    }
    if (!strcmp(cmd, "sh")) { /* the rest of the raw line to /bin/sh; its output goes to stderr */
        const char *p = raw;
        while (*p == ' ' || *p == '\t' || *p == '?')
            p++;
        if (*p == '@') /* the session label */
            while (*p && *p != ' ' && *p != '\t')
                p++;
        while (*p == ' ' || *p == '\t')
            p++;
        p += 2; /* "sh" */
        fflush(out);
        int r = system(p);
        int rc = r == -1 ? -1 : WIFEXITED(r) ? WEXITSTATUS(r) : 128 + WTERMSIG(r);
        result_ok("sh", label);
        line_addf(" rc=%d", rc);
        line_end();
        return rc == 0 ? 0 : -1;
    }
    if (!strcmp(cmd, "version")) {
        int a, b, c;
        SP_version(&a, &b, &c);
        result_ok("version", label);
        line_addf(" libspread=%d.%d.%d", a, b, c);
        line_end();
        return 0;
    }
    if (!strcmp(cmd, "exit") || !strcmp(cmd, "quit")) {
        fflush(out);
        exit(any_error ? 1 : 0);
    }
    err_local(cmd, label, "UNKNOWN_COMMAND", NULL);
    return -1;
}

static int run_line(char *text)
{
    racy = 0;
    int r = run_line_inner(text);
    racy = 0;
    return r;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
    fputs("usage: spclient [--echo] [--auto] [--ts] [--show N] [--exit-on-error] [COMMAND...] [-]\n"
          "Each COMMAND argument is one command line; with none, or with a final \"-\", command lines\n"
          "are read from stdin. A line may start with @LABEL to pick the session (default \"main\").\n"
          "Commands:\n"
          "  connect ADDR NAME [memb|nomemb] [prio=N] [timeout=MS]   ADDR: 4803@127.0.0.1, 4803 (Unix\n"
          "          socket in libspread's compiled-in directory), /path/to/socket, or - (default);\n"
          "          NAME: private name, - for none (the daemon picks one)\n"
          "  join GROUP...   leave GROUP...\n"
          "  send SERVICE GROUP[,GROUP...] [type=N] [text=T | hex=H | size=N [pattern=P|seq]]\n"
          "          [count=N] [selfdiscard]       SERVICE: unreliable reliable fifo causal agreed safe,\n"
          "          combinable with | or +, or a number; text: %n becomes the message's index\n"
          "  recv [MS]   recvn N [MS]   drain [QUIET_MS]   poll   info\n"
          "  disconnect   kill (close without telling the daemon)   use LABEL   @LABEL\n"
          "  sleep MS   echo WORDS   auto on|off   sh SHELL-COMMAND   version   exit\n"
          "Output: one line per result/event: OK, ERR, MSG, MEMB, REJECT, TIMEOUT, DRAINED, ECHO,\n"
          "then key=value fields (see scripts/spread/README.md).\n",
          f);
}

int main(int argc, char **argv)
{
    clock_gettime(CLOCK_MONOTONIC, &t_start);
    signal(SIGPIPE, SIG_IGN);
    /* our lines go to the real stdout; anything libspread prints goes to stderr */
    int fd = dup(1);
    out = fdopen(fd, "w");
    if (!out) {
        perror("spclient: fdopen");
        return 3;
    }
    setvbuf(out, NULL, _IOLBF, 0);
    dup2(2, 1);

    int first_cmd = argc, read_stdin = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--echo") || !strcmp(argv[i], "-v"))
            opt_echo = 1;
        else if (!strcmp(argv[i], "--auto"))
            opt_auto = 1;
        else if (!strcmp(argv[i], "--ts"))
            opt_ts = 1;
        else if (!strcmp(argv[i], "--exit-on-error"))
            opt_exit_on_error = 1;
        else if (!strcmp(argv[i], "--show") && i + 1 < argc)
            opt_show = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(out);
            return 0;
        } else if (!strcmp(argv[i], "--")) {
            first_cmd = i + 1;
            break;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            usage(stderr);
            return 2;
        } else {
            first_cmd = i;
            break;
        }
    }
    if (first_cmd >= argc)
        read_stdin = 1;
    for (int i = first_cmd; i < argc; i++) {
        if (!strcmp(argv[i], "-") && i == argc - 1) {
            read_stdin = 1;
            break;
        }
        char *copy = strdup(argv[i]);
        int r = run_line(copy);
        free(copy);
        if (r < 0 && opt_exit_on_error)
            return 1;
    }
    if (read_stdin) {
        /* our own line buffer over read(2), so that select() on stdin stays truthful */
        static char ibuf[1 << 20];
        size_t have = 0;
        int eof = 0;
        for (;;) {
            char *nl = memchr(ibuf, '\n', have);
            if (!nl && (eof || have == sizeof ibuf - 1)) {
                if (have == 0)
                    break;
                nl = ibuf + have; /* last line without a newline */
            }
            if (nl) {
                size_t l = (size_t)(nl - ibuf);
                char *cmdline = malloc(l + 1);
                memcpy(cmdline, ibuf, l);
                cmdline[l] = 0;
                size_t used = l < have ? l + 1 : l;
                memmove(ibuf, ibuf + used, have - used);
                have -= used;
                int r = run_line(cmdline);
                free(cmdline);
                if (r < 0 && opt_exit_on_error)
                    return 1;
                continue;
            }
            auto_wait(0, -1);
            ssize_t n = read(0, ibuf + have, sizeof ibuf - 1 - have);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                eof = 1;
            else
                have += (size_t)n;
        }
    }
    fflush(out);
    return any_error ? 1 : 0;
}
