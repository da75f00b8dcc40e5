/*
 * libFuzzer harness for the frame decoder: the input is a stream of bytes from a
 * daemon; frames are decoded one after another until the stream is incomplete or
 * invalid. Every field of every decoded event is read back so the sanitizers see any
 * pointer that leaves the event's memory, and the decoder's promises are checked, as
 * is the agreement of chorus_frame_span() (which chorus_poll() counts frames with).
 */
#include "chorus.h"
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sink;

static void must(int cond) {
    if (!cond) abort();
}

static void touch_string(const char *s, size_t frame_size) {
    must(s != NULL);
    size_t n = strlen(s);
    must(n < frame_size);
    sink += n;
}

static void touch_list(const char *const *list, size_t count, size_t frame_size) {
    must(list != NULL);
    must(count < frame_size);
    for (size_t i = 0; i < count; i++) touch_string(list[i], frame_size);
    must(list[count] == NULL);
}

static void touch(const chorus_event *ev, size_t frame_size) {
    switch (ev->kind) {
    case CHORUS_EVENT_WELCOME:
        touch_string(ev->welcome.private_group, frame_size);
        touch_string(ev->welcome.daemon, frame_size);
        break;
    case CHORUS_EVENT_MESSAGE: {
        must(ev->message.service >= CHORUS_UNRELIABLE && ev->message.service <= CHORUS_SAFE);
        touch_string(ev->message.sender, frame_size);
        touch_list(ev->message.groups, ev->message.ngroups, frame_size);
        must(ev->message.len < frame_size);
        const uint8_t *p = ev->message.payload;
        for (size_t i = 0; i < ev->message.len; i++) sink += p[i];
        must(p[ev->message.len] == 0);
        break;
    }
    case CHORUS_EVENT_MEMBERSHIP:
        must(ev->membership.kind == CHORUS_VIEW_REGULAR || ev->membership.kind == CHORUS_VIEW_TRANSITIONAL);
        must(ev->membership.reason >= CHORUS_REASON_JOIN && ev->membership.reason <= CHORUS_REASON_NETWORK);
        touch_string(ev->membership.group, frame_size);
        touch_list(ev->membership.members, ev->membership.nmembers, frame_size);
        touch_list(ev->membership.changed, ev->membership.nchanged, frame_size);
        touch_list(ev->membership.added, ev->membership.nadded, frame_size);
        touch_list(ev->membership.removed, ev->membership.nremoved, frame_size);
        must(chorus_view_id_compare(&ev->membership.view, &ev->membership.view) == 0);
        break;
    case CHORUS_EVENT_ERROR:
        touch_string(ev->error.text, frame_size);
        break;
    case CHORUS_EVENT_STATUS:
        must(ev->status.len < frame_size);
        for (size_t i = 0; i < ev->status.len; i++) sink += (uint8_t)ev->status.json[i];
        must(ev->status.json[ev->status.len] == 0);
        break;
    case CHORUS_EVENT_REFUSED:
        touch_string(ev->refused.group, frame_size);
        touch_string(ev->refused.text, frame_size);
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t off = 0;
    for (;;) {
        chorus_event ev;
        size_t used = 12345;
        char why[200];
        int rc = chorus_decode_frame(data + off, size - off, &used, &ev, why, sizeof why);
        size_t span = 0;
        int whole = chorus_frame_span(data + off, size - off, &span);
        if (whole < 0) must(rc == CHORUS_ERR_PROTOCOL);
        if (whole == 0) must(rc == 0);
        if (rc > 0) must(whole == 1 && span == used);
        if (rc <= 0) {
            /* Nothing is handed out for an incomplete or invalid frame. */
            must(used == 0);
            must(ev.kind == CHORUS_EVENT_NONE && ev.storage_ == NULL);
            must(rc == 0 || rc == CHORUS_ERR_PROTOCOL || rc == CHORUS_ERR_NO_MEMORY);
            must(rc == 0 || why[0] != '\0');
            break;
        }
        must(rc == (int)ev.kind);
        must(used >= 5 && used <= size - off);
        touch(&ev, used);
        chorus_event_free(&ev);
        off += used;
    }
    return 0;
}
