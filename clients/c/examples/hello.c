/* hello: joins "hello", multicasts a line and prints what arrives until it sees it. */
#include <chorus.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *address = argc > 1 ? argv[1] : NULL; /* NULL: the default Unix socket, then 127.0.0.1:4800 */
    chorus_session *s;
    int rc = chorus_connect(address, "hello", CHORUS_MEMBERSHIP, NULL, &s);
    if (rc < 0) {
        fprintf(stderr, "connect: %s (%s)\n", chorus_strerror(rc), chorus_error_text(NULL));
        return 1;
    }
    chorus_join(s, "hello");
    const char *groups[] = {"hello"};
    char text[300];
    snprintf(text, sizeof text, "hello from %s", chorus_private_group(s));
    chorus_multicast(s, CHORUS_AGREED, groups, 1, 0, text, strlen(text), 0);

    chorus_event ev;
    while ((rc = chorus_receive(s, &ev, 5000)) > 0) {
        int mine = 0;
        if (ev.kind == CHORUS_EVENT_MEMBERSHIP) {
            fprintf(stderr, "view of %s: %zu member(s)\n", ev.membership.group, ev.membership.nmembers);
        } else if (ev.kind == CHORUS_EVENT_MESSAGE) {
            printf("%.*s\n", (int)ev.message.len, (const char *)ev.message.payload);
            mine = strcmp(ev.message.sender, chorus_private_group(s)) == 0;
        }
        chorus_event_free(&ev);
        if (mine) break;
    }
    if (rc < 0) fprintf(stderr, "receive: %s (%s)\n", chorus_strerror(rc), chorus_error_text(s));
    chorus_disconnect(s);
    return rc < 0 ? 1 : 0;
}
