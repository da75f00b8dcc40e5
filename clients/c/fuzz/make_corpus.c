/* Writes the fuzzer's seed corpus: valid frames of every daemon-to-client kind. */
#include "frames.h"

#include <stdio.h>

static void save(const char *dir, const char *name, fbuf *f) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(f->b, 1, f->n, fp) != f->n || fclose(fp) != 0) {
        perror(path);
        exit(1);
    }
    fb_free(f);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "fuzz/corpus";
    fbuf f = {0};
    const char *one[] = {"chat"};
    const char *two[] = {"chat", "news"};
    const char *ab[] = {"#1#d1", "#1#d2"};
    const char *abc[] = {"#1#d1", "#1#d2", "#2#d3"};
    const char *a[] = {"#1#d1"};
    const char *b[] = {"#1#d2"};
    const char *c[] = {"#2#d3"};

    frame_welcome(&f, 3, "#1#d1", "d1", 1u << 24);
    save(dir, "welcome", &f);

    frame_message(&f, 4, 0, "#1#d1", one, 1, "hi", 2);
    save(dir, "message-agreed", &f);
    frame_message(&f, 5, 0xFFFF, "#12#d3", two, 2, "\x00\x01\x02\xff", 4);
    save(dir, "message-safe-two-groups", &f);
    frame_message(&f, 0, 7, "#1#d2", ab, 1, "", 0);
    save(dir, "message-private-empty", &f);

    frame_membership(&f, "chat", 0x1987c5f2a3b1ull, 1, 1, 0, 0, a, 1, a, 1, a, 1, NULL, 0);
    save(dir, "membership-join-first", &f);
    frame_membership(&f, "chat", 0x1987c5f2a3b1ull, 1, 2, 0, 0, ab, 2, b, 1, b, 1, NULL, 0);
    save(dir, "membership-join", &f);
    frame_membership(&f, "chat", 0x1987c5f2a3b1ull, 1, 3, 0, 1, a, 1, b, 1, NULL, 0, b, 1);
    save(dir, "membership-leave", &f);
    frame_membership(&f, "chat", 0x1987c5f2a3b1ull, 1, 4, 0, 2, a, 1, c, 1, NULL, 0, c, 1);
    save(dir, "membership-disconnect", &f);
    frame_membership(&f, "chat", 0x1987c5f2a3b2ull, 1, 0, 1, 3, ab, 2, ab, 2, NULL, 0, c, 1);
    save(dir, "membership-transitional", &f);
    frame_membership(&f, "chat", 0x1987c5f2a3b2ull, 1, 1, 0, 3, abc, 3, ab, 2, c, 1, NULL, 0);
    save(dir, "membership-network", &f);

    frame_error(&f, 7, "a session named 'bob' is already connected to daemon d2");
    save(dir, "error-name-in-use", &f);
    frame_error(&f, 14, "socket full for 10000 ms");
    save(dir, "error-slow-receiver", &f);

    frame_status(&f, "{\"daemon\":\"d1\",\"nodeID\":1,\"ring\":{\"kind\":\"regular\",\"members\":[\"d1\",\"d2\"]}}");
    save(dir, "status", &f);

    frame_refused(&f, 18, 2, "billing", "session 'app' may not join 'billing'");
    save(dir, "refused-join", &f);
    frame_refused(&f, 18, 4, "billing", "session 'app' may not send to 'billing'");
    save(dir, "refused-multicast", &f);
    frame_refused(&f, 19, 7, "", "plain mode");
    save(dir, "refused-reload", &f);

    /* A whole session: welcome, join view, message, status, then the error that ends it. */
    frame_welcome(&f, 3, "#1#d1", "d1", 1000);
    frame_membership(&f, "chat", 5, 1, 1, 0, 0, a, 1, a, 1, a, 1, NULL, 0);
    frame_message(&f, 2, 1, "#1#d1", one, 1, "fifo", 4);
    frame_status(&f, "{}");
    frame_refused(&f, 18, 4, "x", "no");
    frame_error(&f, 15, "daemon d1 is shutting down");
    save(dir, "session-stream", &f);
    return 0;
}
