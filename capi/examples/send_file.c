/* Sends one file on several connections through linerate's C ABI, then closes them.
 *
 *   send_file EAL_ARGS PORT IP/LEN GATEWAY|- DST_IP:PORT CONNECTIONS FILE [zc]
 *
 * e.g. (as root, inside the lr-gen namespace of scripts/topology.sh, with a sink listening):
 *   send_file "-l 0 --in-memory --no-pci --vdev=net_af_packet0,iface=lr-gen0" \
 *       net_af_packet0 198.18.0.1/24 198.18.0.254 198.19.0.2:5201 4 /etc/services
 *
 * The runtime opens one queue pair per EAL lcore ("-l 0-1": two); each gets its own stack on
 * its own thread, created and polled there (the threading model: a stack belongs to the
 * thread that polls it), with its share of the connections. Every connection sends the
 * whole file, shuts down once all of it is queued, and counts as done at LR_EV_CLOSED.
 * With "zc" each stack reads the file into a zero-copy region and sends it from there with
 * lr_send_zc (no copy); a connection then also waits for LR_EV_ZC_DONE to return all of it.
 * Prints one summary line; exits 0 only if every connection closed cleanly with the whole
 * file acknowledged (and, with zc, returned). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linerate.h"

#define MAX_CONNS 64
#define MAX_STACKS 16
#define TIMEOUT_S 60

/* Stacks still running. A frame of one stack's connection can land on another's queue and
 * is passed on by that stack's lr_poll, so every stack polls until all are done. */
static atomic_int running;

struct conn {
    int64_t id;
    size_t sent;      /* bytes lr_send took */
    uint64_t acked;   /* from LR_EV_ACKED */
    uint64_t zc_done; /* from LR_EV_ZC_DONE */
    int connected, shut, closed, error;
};

/* One stack's work and outcome. */
struct job {
    lr_runtime *rt;
    uint16_t queue;
    const char *ip, *gw, *dst;
    const unsigned char *data;
    size_t len;
    int zc, nconns;
    int whole, failed, unfinished; /* out */
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

/* Queues as much of the file as the connection takes now (from region `zc` with lr_send_zc,
 * or copied with lr_send when it is -1); shuts down once all is queued. */
static int push(lr_stack *s, int zc, struct conn *c, const unsigned char *data, size_t len) {
    while (c->connected && !c->shut && !c->closed) {
        if (c->sent == len) {
            if (lr_shutdown(s, c->id) != 0) return -1;
            c->shut = 1;
            break;
        }
        int64_t n = zc >= 0 ? lr_send_zc(s, c->id, zc, c->sent, len - c->sent)
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

/* One stack's thread: makes the stack here, runs its connections to the end. */
static void *run(void *arg) {
    struct job *j = arg;
    int n = j->nconns;
    j->unfinished = n;
    char err[256];
    lr_stack *s = lr_stack_new(j->rt, j->queue, j->ip, j->gw, err, sizeof err);
    if (!s) {
        fprintf(stderr, "send_file: %s\n", err);
        atomic_fetch_sub(&running, 1);
        return NULL;
    }
    int zc = -1;
    if (j->zc) {
        /* The file's bytes go where the NIC reads them, once, for every connection. */
        zc = lr_zc_region_new(s, j->len ? j->len : 1, 256, err, sizeof err);
        if (zc < 0) {
            fprintf(stderr, "send_file: %s\n", err);
            lr_stack_free(s);
            atomic_fetch_sub(&running, 1);
            return NULL;
        }
        memcpy(lr_zc_region_base(s, zc), j->data, j->len);
    }
    struct conn cs[MAX_CONNS];
    memset(cs, 0, sizeof cs);
    for (int i = 0; i < n; i++) {
        cs[i].id = lr_connect(s, j->dst);
        if (cs[i].id < 0) {
            fprintf(stderr, "send_file: lr_connect %s: %s\n", j->dst, strerror((int)-cs[i].id));
            lr_stack_free(s);
            atomic_fetch_sub(&running, 1);
            return NULL;
        }
    }
    lr_event ev[64];
    int done = 0, returned = 0; /* with zc: every connection's bytes came back */
    double deadline = now_s() + TIMEOUT_S;
    while ((done < n || (zc >= 0 && !returned)) && now_s() < deadline) {
        int k = lr_poll(s, ev, 64);
        if (k < 0) {
            fprintf(stderr, "send_file: lr_poll: %s\n", strerror(-k));
            break;
        }
        for (int i = 0; i < k; i++) {
            struct conn *c = find(cs, n, ev[i].conn);
            if (!c) continue;
            switch (ev[i].kind) {
            case LR_EV_CONNECTED: c->connected = 1; break;
            case LR_EV_ACKED: c->acked = ev[i].bytes; break;
            case LR_EV_ZC_DONE:
                c->zc_done = ev[i].bytes;
                /* Never ahead of the ACKs while the connection lives (a failed one gives
                 * its memory back, acknowledged or not, after its LR_EV_ERROR). */
                if (c->zc_done > c->acked && !c->error) {
                    fprintf(stderr, "send_file: %llu bytes returned, %llu acked\n",
                            (unsigned long long)c->zc_done, (unsigned long long)c->acked);
                    c->error = EPROTO;
                }
                break;
            case LR_EV_CLOSED: c->closed = 1; done++; break;
            case LR_EV_ERROR:
                c->closed = 1;
                c->error = ev[i].error;
                done++;
                j->failed++;
                fprintf(stderr, "send_file: connection %lld: %s\n", (long long)c->id,
                        strerror(ev[i].error));
                break;
            default: break;
            }
            if (push(s, zc, c, j->data, j->len) != 0) deadline = 0;
        }
        returned = 1;
        for (int i = 0; i < n; i++) returned &= cs[i].zc_done == j->len;
    }
    /* Done here; go on polling for the others. */
    atomic_fetch_sub(&running, 1);
    while (atomic_load(&running) > 0 && now_s() < deadline) lr_poll(s, ev, 64);
    int busy = zc >= 0 && lr_zc_region_busy(s, zc, 0, j->len ? j->len : 1) != 0;
    for (int i = 0; i < n; i++) {
        j->whole += cs[i].closed && !cs[i].error && cs[i].acked == j->len &&
                    (zc < 0 || cs[i].zc_done == j->len) && !busy;
        lr_close(s, cs[i].id);
    }
    j->unfinished = n - done;
    lr_stack_free(s);
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
    int stacks = lr_runtime_queues(rt);
    if (stacks > MAX_STACKS) stacks = MAX_STACKS;
    if (stacks > n) stacks = n;
    struct job jobs[MAX_STACKS];
    pthread_t threads[MAX_STACKS];
    memset(jobs, 0, sizeof jobs);
    atomic_store(&running, stacks);
    for (int q = 0; q < stacks; q++) {
        struct job *j = &jobs[q];
        j->rt = rt;
        j->queue = (uint16_t)q;
        j->ip = argv[3];
        j->gw = strcmp(argv[4], "-") == 0 ? NULL : argv[4];
        j->dst = argv[5];
        j->data = data;
        j->len = len;
        j->zc = zc;
        j->nconns = n / stacks + (q < n % stacks);
        if (pthread_create(&threads[q], NULL, run, j) != 0) {
            fprintf(stderr, "send_file: no thread for queue %d\n", q);
            return 1;
        }
    }
    int whole = 0, failed = 0, unfinished = 0;
    for (int q = 0; q < stacks; q++) {
        pthread_join(threads[q], NULL);
        whole += jobs[q].whole;
        failed += jobs[q].failed;
        unfinished += jobs[q].unfinished;
    }
    printf("send_file: %d connections on %d stacks, %zu bytes each%s: %d closed whole, %d failed, "
           "%d unfinished\n",
           n, stacks, len, zc ? " (zero copy)" : "", whole, failed, unfinished);
    lr_runtime_free(rt);
    free(data);
    return whole == n ? 0 : 1;
}
