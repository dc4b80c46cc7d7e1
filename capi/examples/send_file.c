/* Sends one file on several connections through linerate's C ABI, then closes them.
 *
 *   send_file EAL_ARGS PORT IP/LEN GATEWAY|- DST_IP:PORT CONNECTIONS FILE [zc]
 *
 * e.g. (as root, inside the lr-gen namespace of scripts/topology.sh, with a sink listening):
 *   send_file "-l 0 --in-memory --no-pci --vdev=net_af_packet0,iface=lr-gen0" \
 *       net_af_packet0 198.18.0.1/24 198.18.0.254 198.19.0.2:5201 4 /etc/services
 *
 * Every connection sends the whole file, shuts down once all of it is queued, and counts as
 * done at LR_EV_CLOSED. With "zc" the file is read straight into a zero-copy region and sent
 * from there with lr_send_zc (no copy); a connection then also waits for LR_EV_ZC_DONE to
 * return all of it. Prints one summary line; exits 0 only if every connection closed
 * cleanly with the whole file acknowledged (and, with zc, returned). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linerate.h"

#define MAX_CONNS 64
#define TIMEOUT_S 60

struct conn {
    int64_t id;
    size_t sent;     /* bytes lr_send took */
    uint64_t acked;  /* from LR_EV_ACKED */
    uint64_t zc_done; /* from LR_EV_ZC_DONE */
    int connected, shut, closed, error;
};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        unsigned char *bigger = realloc(buf, cap * 2);
        if (!bigger) { free(buf); buf = NULL; break; }
        buf = bigger;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return NULL; }
    *len = n;
    return buf;
}

/* The zero-copy region holding the file (lr_send_zc), or -1 to copy with lr_send. */
static int zc_region = -1;

/* Queues as much of the file as the connection takes now; shuts down once all is queued. */
static int push(lr_stack *s, struct conn *c, const unsigned char *data, size_t len) {
    while (c->connected && !c->shut && !c->closed) {
        if (c->sent == len) {
            if (lr_shutdown(s, c->id) != 0) return -1;
            c->shut = 1;
            break;
        }
        int64_t n = zc_region >= 0 ? lr_send_zc(s, c->id, zc_region, c->sent, len - c->sent)
                                   : lr_send(s, c->id, data + c->sent, len - c->sent);
        /* LR_EV_WRITABLE, LR_EV_ACKED or LR_EV_ZC_DONE brings us back */
        if (n == -EAGAIN || n == -ENOBUFS) break;
        if (n < 0) {
            fprintf(stderr, "send_file: lr_send: %s\n", strerror((int)-n));
            return -1;
        }
        c->sent += (size_t)n;
    }
    return 0;
}

static struct conn *find(struct conn *cs, int n, int64_t id) {
    for (int i = 0; i < n; i++)
        if (cs[i].id == id) return &cs[i];
    return NULL;
}

int main(int argc, char **argv) {
    int zc = argc == 9 && strcmp(argv[8], "zc") == 0;
    if (argc != 8 && !zc) {
        fprintf(stderr, "usage: send_file EAL_ARGS PORT IP/LEN GATEWAY|- DST_IP:PORT CONNECTIONS FILE [zc]\n");
        return 2;
    }
    int n = atoi(argv[6]);
    if (n < 1 || n > MAX_CONNS) {
        fprintf(stderr, "send_file: CONNECTIONS must be 1 to %d\n", MAX_CONNS);
        return 2;
    }
    size_t len = 0;
    unsigned char *data = read_file(argv[7], &len);
    if (!data) {
        fprintf(stderr, "send_file: cannot read %s: %s\n", argv[7], strerror(errno));
        return 2;
    }
    char err[256];
    lr_runtime *rt = lr_runtime_new(argv[1], argv[2], err, sizeof err);
    if (!rt) {
        fprintf(stderr, "send_file: %s\n", err);
        return 1;
    }
    const char *gw = strcmp(argv[4], "-") == 0 ? NULL : argv[4];
    lr_stack *s = lr_stack_new(rt, 0, argv[3], gw, err, sizeof err);
    if (!s) {
        fprintf(stderr, "send_file: %s\n", err);
        lr_runtime_free(rt);
        return 1;
    }
    if (zc) {
        /* The file's bytes go where the NIC reads them, once, for every connection. */
        zc_region = lr_zc_region_new(s, len ? len : 1, 256, err, sizeof err);
        if (zc_region < 0) {
            fprintf(stderr, "send_file: %s\n", err);
            return 1;
        }
        memcpy(lr_zc_region_base(s, zc_region), data, len);
    }
    struct conn cs[MAX_CONNS];
    memset(cs, 0, sizeof cs);
    for (int i = 0; i < n; i++) {
        cs[i].id = lr_connect(s, argv[5]);
        if (cs[i].id < 0) {
            fprintf(stderr, "send_file: lr_connect %s: %s\n", argv[5], strerror((int)-cs[i].id));
            return 1;
        }
    }
    lr_event ev[64];
    int done = 0, failed = 0;
    double deadline = now_s() + TIMEOUT_S;
    int returned = 0; /* with zc: every connection's bytes came back */
    while ((done < n || (zc && !returned)) && now_s() < deadline) {
        int k = lr_poll(s, ev, 64);
        if (k < 0) {
            fprintf(stderr, "send_file: lr_poll: %s\n", strerror(-k));
            return 1;
        }
        for (int i = 0; i < k; i++) {
            struct conn *c = find(cs, n, ev[i].conn);
            if (!c) continue;
            switch (ev[i].kind) {
            case LR_EV_CONNECTED: c->connected = 1; break;
            case LR_EV_ACKED: c->acked = ev[i].bytes; break;
            case LR_EV_ZC_DONE:
                c->zc_done = ev[i].bytes;
                if (c->zc_done > c->acked) { /* never: memory comes back only once acked */
                    fprintf(stderr, "send_file: %llu bytes returned, %llu acked\n",
                            (unsigned long long)c->zc_done, (unsigned long long)c->acked);
                    c->error = EPROTO;
                }
                break;
            case LR_EV_WRITABLE: break;
            case LR_EV_READABLE: break;
            case LR_EV_CLOSED: c->closed = 1; done++; break;
            case LR_EV_ERROR:
                c->closed = 1;
                c->error = ev[i].error;
                done++;
                failed++;
                fprintf(stderr, "send_file: connection %lld: %s\n", (long long)c->id,
                        strerror(ev[i].error));
                break;
            }
            if (push(s, c, data, len) != 0) return 1;
        }
        returned = 1;
        for (int i = 0; i < n; i++) returned &= cs[i].zc_done == len;
    }
    int whole = 0;
    for (int i = 0; i < n; i++) {
        whole += cs[i].closed && !cs[i].error && cs[i].acked == len && (!zc || cs[i].zc_done == len);
        lr_close(s, cs[i].id);
    }
    if (zc && lr_zc_region_busy(s, zc_region, 0, len ? len : 1) != 0) whole = 0;
    printf("send_file: %d connections, %zu bytes each%s: %d closed whole, %d failed, %d unfinished\n",
           n, len, zc ? " (zero copy)" : "", whole, failed, n - done);
    lr_stack_free(s);
    lr_runtime_free(rt);
    free(data);
    return whole == n ? 0 : 1;
}
