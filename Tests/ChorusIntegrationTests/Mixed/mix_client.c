/* One member of the mixed-language test (MixedClientsTests), in C: as mix_client.py.
 * usage: mix_client ADDRESS NAME GROUP MEMBERS COUNT */
#include <chorus.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 6) return 2;
    const char *group = argv[3];
    int members = atoi(argv[4]), count = atoi(argv[5]);
    chorus_session *s;
    int rc = chorus_connect(argv[1], argv[2], CHORUS_MEMBERSHIP, NULL, &s);
    if (rc < 0) {
        fprintf(stderr, "connect: %s\n", chorus_strerror(rc));
        return 1;
    }
    chorus_join(s, group);
    const char *groups[] = {group};
    int sent = 0, received = 0;
    chorus_event ev;
    while (received < members * count && (rc = chorus_receive(s, &ev, 20000)) > 0) {
        if (ev.kind == CHORUS_EVENT_MEMBERSHIP && strcmp(ev.membership.group, group) == 0 && ev.membership.kind == CHORUS_VIEW_REGULAR) {
            printf("VIEW ");
            for (size_t i = 0; i < ev.membership.nmembers; i++) printf("%s%s", i ? "," : "", ev.membership.members[i]);
            printf("\n");
            if (!sent && (int)ev.membership.nmembers == members) {
                for (int i = 0; i < count; i++) {
                    char text[64];
                    int n = snprintf(text, sizeof text, "%s-%d", argv[2], i);
                    chorus_multicast(s, CHORUS_AGREED, groups, 1, 0, text, (size_t)n, 0);
                }
                sent = 1;
            }
        } else if (ev.kind == CHORUS_EVENT_MESSAGE) {
            received++;
            printf("MSG %s %.*s\n", ev.message.sender, (int)ev.message.len, (const char *)ev.message.payload);
        }
        fflush(stdout);
        chorus_event_free(&ev);
    }
    chorus_disconnect(s);
    return rc < 0 ? 1 : 0;
}
