
/*
 * Copyright (C) Kianax
 *
 * A closed-loop HTTP/1.1 load client for bench/orders: N keep-alive
 * connections on one thread (epoll), each with a bearer token of its own
 * (line i of the tokens file goes to connection i), each sending its next
 * request as soon as the previous answer is in.  Request k of a
 * connection carries body k of the bodies file (one per line, in turn).
 *
 * Why not wrk: wrk can only tell connections apart by thread, so giving
 * each of 16 users its own connection took 16 wrk threads, which on 2
 * cores compete with the servers for CPU and add their own scheduling
 * delays to every latency (pgbench, the baseline, runs 16 clients on 2
 * threads).  libc only.
 *
 *   http_load -p PORT -c CONNS -d SECS -m METHOD -u PATH -t TOKENS
 *             [-b BODIES] [-w WARMUP_SECS] [-o TRACE]
 *
 * Prints, for the answers that came in during the SECS after the warm-up:
 *   requests=N rps=R p50_ms= p90_ms= p99_ms= max_ms= non2xx=N utime_us=
 *   stime_us=
 * (a connection that closes or an answer it cannot read ends it, exit 1)
 * and "first_non2xx=<status> <body...>" when an answer was not 2xx.
 * TRACE gets a line per answer: "<ms since the start> <latency ms>
 * <connection>", to see when the slow ones came.
 */


#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


#define HL_BUF  65536


typedef struct {
    int        fd;
    char      *req[2];     /* the request, before and after the body */
    size_t     req_len[2];
    uint64_t   n;          /* requests sent */
    uint64_t   sent_ns;
    char      *in;
    size_t     in_len;
    char      *out;
    size_t     out_len, out_off;
} hl_conn_t;


static char      **hl_bodies;
static size_t      hl_nbodies;
static uint32_t   *hl_lat;       /* microseconds */
static size_t      hl_nlat, hl_cap;
static uint64_t    hl_non2xx;
static char        hl_first_bad[256];
static FILE       *hl_trace;     /* -o: one line per answer */


static uint64_t
hl_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


static char **
hl_lines(const char *path, size_t *n)
{
    FILE    *f;
    char     line[8192], **v;
    size_t   len, cap;

    f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(2);
    }

    v = NULL;
    *n = 0;
    cap = 0;

    while (fgets(line, sizeof(line), f)) {
        len = strcspn(line, "\r\n");
        line[len] = '\0';

        if (len == 0) {
            continue;
        }

        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            v = realloc(v, cap * sizeof(char *));
        }

        v[(*n)++] = strdup(line);
    }

    fclose(f);

    return v;
}


/* the next request of c into its output buffer */
static void
hl_next(hl_conn_t *c)
{
    const char  *body;
    size_t       blen;
    int          n;

    body = hl_nbodies ? hl_bodies[c->n % hl_nbodies] : "";
    blen = strlen(body);

    n = snprintf(c->out, HL_BUF, "%s%zu\r\n\r\n%s", c->req[0], blen, body);
    if (n < 0 || n >= HL_BUF) {
        fprintf(stderr, "request too long\n");
        exit(2);
    }

    c->out_len = n;
    c->out_off = 0;
    c->n++;
    c->sent_ns = hl_now();
}


static int
hl_connect(struct sockaddr_in *sa)
{
    int  fd, one;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        perror("socket");
        exit(2);
    }

    one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (connect(fd, (struct sockaddr *) sa, sizeof(*sa)) < 0
        && errno != EINPROGRESS)
    {
        perror("connect");
        exit(2);
    }

    return fd;
}


/* a whole answer at the head of c->in: its length, 0: not yet, -1: bad */
static ssize_t
hl_answer(hl_conn_t *c, int *status)
{
    char    *end, *p, *line;
    size_t   head, clen;
    int      have;

    end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (end == NULL) {
        return c->in_len > HL_BUF / 2 ? -1 : 0;
    }

    head = end + 4 - c->in;

    if (c->in_len < 12 || memcmp(c->in, "HTTP/1.", 7) != 0) {
        return -1;
    }

    *status = atoi(c->in + 9);

    clen = 0;
    have = 0;

    for (line = memchr(c->in, '\n', head); line && line < end;
         line = memchr(line, '\n', end - line))
    {
        line++;

        if (strncasecmp(line, "content-length:", 15) == 0) {
            for (p = line + 15; *p == ' '; p++) { /* void */ }
            clen = strtoul(p, NULL, 10);
            have = 1;
        }

        if (strncasecmp(line, "transfer-encoding:", 18) == 0) {
            return -1;     /* not needed here: every answer has a length */
        }
    }

    if (!have) {
        return -1;
    }

    return c->in_len >= head + clen ? (ssize_t) (head + clen) : 0;
}


static void
hl_record(uint64_t lat_ns)
{
    if (hl_nlat == hl_cap) {
        hl_cap = hl_cap ? hl_cap * 2 : 65536;
        hl_lat = realloc(hl_lat, hl_cap * sizeof(uint32_t));
    }

    hl_lat[hl_nlat++] = (uint32_t) (lat_ns / 1000);
}


static int
hl_cmp(const void *a, const void *b)
{
    uint32_t  x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return x < y ? -1 : x > y;
}


static double
hl_pct(double q)
{
    size_t  i;

    if (hl_nlat == 0) {
        return 0;
    }

    i = (size_t) (q * (hl_nlat - 1) + 0.5);

    return hl_lat[i] / 1000.0;
}


int
main(int argc, char **argv)
{
    int                  opt, ep, port, nconns, n, i, status;
    char                *method, *path, *tokens_file, *bodies_file;
    char               **tokens, head[8192];
    double               secs, warmup;
    size_t               ntokens;
    ssize_t              got, len;
    uint64_t             start, stop, end, now;
    hl_conn_t           *conns, *c;
    struct rusage        ru0, ru1;
    struct epoll_event   ev, evs[256];
    struct sockaddr_in   sa;

    port = 0;
    nconns = 16;
    secs = 10;
    warmup = 0;
    method = "GET";
    path = "/";
    tokens_file = NULL;
    bodies_file = NULL;

    while ((opt = getopt(argc, argv, "p:c:d:m:u:t:b:w:o:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'c': nconns = atoi(optarg); break;
        case 'd': secs = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 'm': method = optarg; break;
        case 'u': path = optarg; break;
        case 't': tokens_file = optarg; break;
        case 'b': bodies_file = optarg; break;
        case 'o':
            hl_trace = fopen(optarg, "w");
            if (hl_trace == NULL) {
                perror(optarg);
                return 2;
            }
            break;
        default:
            fprintf(stderr, "usage: http_load -p PORT -c CONNS -d SECS "
                    "-m METHOD -u PATH -t TOKENS [-b BODIES] [-w SECS] "
                    "[-o TRACE]\n");
            return 2;
        }
    }

    if (port == 0 || nconns <= 0 || tokens_file == NULL) {
        fprintf(stderr, "http_load: -p, -c and -t are needed\n");
        return 2;
    }

    tokens = hl_lines(tokens_file, &ntokens);
    if (ntokens < (size_t) nconns) {
        fprintf(stderr, "http_load: %zu tokens for %d connections\n",
                ntokens, nconns);
        return 2;
    }

    if (bodies_file) {
        hl_bodies = hl_lines(bodies_file, &hl_nbodies);
    }

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    ep = epoll_create1(0);
    conns = calloc(nconns, sizeof(hl_conn_t));

    for (i = 0; i < nconns; i++) {
        c = &conns[i];

        n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "Authorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: ", method, path, port, tokens[i]);
        c->req[0] = strndup(head, n);
        c->in = malloc(HL_BUF);
        c->out = malloc(HL_BUF);
        c->fd = hl_connect(&sa);

        hl_next(c);

        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.ptr = c;
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    }

    start = hl_now() + (uint64_t) (warmup * 1e9);
    stop = start + (uint64_t) (secs * 1e9);
    getrusage(RUSAGE_SELF, &ru0);

    if (hl_trace) {
        /* CLOCK_MONOTONIC, to line the answers up with other samples */
        fprintf(hl_trace, "# start %.6f\n", start / 1e9);
    }

    for ( ;; ) {
        now = hl_now();
        if (now >= stop) {
            break;
        }

        n = epoll_wait(ep, evs, 256, (int) ((stop - now) / 1000000) + 1);

        for (i = 0; i < n; i++) {
            c = evs[i].data.ptr;

            if ((evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                && c->out_off < c->out_len)
            {
                got = send(c->fd, c->out + c->out_off,
                           c->out_len - c->out_off, MSG_NOSIGNAL);
                if (got < 0 && errno != EAGAIN) {
                    fprintf(stderr, "send: %s\n", strerror(errno));
                    return 1;
                }

                if (got > 0) {
                    c->out_off += got;
                }

                if (c->out_off == c->out_len) {
                    ev.events = EPOLLIN;
                    ev.data.ptr = c;
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }

            if (!(evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                continue;
            }

            got = recv(c->fd, c->in + c->in_len, HL_BUF - c->in_len, 0);
            if (got < 0 && errno == EAGAIN) {
                continue;
            }

            if (got <= 0) {
                fprintf(stderr, "http_load: connection %d closed (%s)\n",
                        (int) (c - conns), got ? strerror(errno) : "eof");
                return 1;
            }

            c->in_len += got;

            len = hl_answer(c, &status);
            if (len < 0) {
                fprintf(stderr, "http_load: an answer it cannot read: "
                        "%.*s\n", (int) (c->in_len < 300 ? c->in_len : 300),
                        c->in);
                return 1;
            }

            if (len == 0) {
                continue;
            }

            end = hl_now();

            if (end >= start) {
                hl_record(end - c->sent_ns);

                if (hl_trace) {
                    fprintf(hl_trace, "%.3f %.3f %d\n",
                            (end - start) / 1e6, (end - c->sent_ns) / 1e6,
                            (int) (c - conns));
                }

                if (status < 200 || status > 299) {
                    if (hl_non2xx++ == 0) {
                        snprintf(hl_first_bad, sizeof(hl_first_bad),
                                 "%d %.*s", status,
                                 (int) (len > 200 ? 200 : len), c->in);
                    }
                }
            }

            memmove(c->in, c->in + len, c->in_len - len);
            c->in_len -= len;

            hl_next(c);

            got = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
            if (got < 0 && errno != EAGAIN) {
                fprintf(stderr, "send: %s\n", strerror(errno));
                return 1;
            }

            c->out_off = got > 0 ? (size_t) got : 0;

            if (c->out_off < c->out_len) {
                ev.events = EPOLLIN | EPOLLOUT;
                ev.data.ptr = c;
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
        }
    }

    getrusage(RUSAGE_SELF, &ru1);

    if (hl_trace) {
        fclose(hl_trace);
    }

    qsort(hl_lat, hl_nlat, sizeof(uint32_t), hl_cmp);

    printf("requests=%zu rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
           "max_ms=%.3f non2xx=%llu utime_us=%ld stime_us=%ld\n",
           hl_nlat, hl_nlat / secs, hl_pct(0.50), hl_pct(0.90), hl_pct(0.99),
           hl_nlat ? hl_lat[hl_nlat - 1] / 1000.0 : 0.0,
           (unsigned long long) hl_non2xx,
           (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1000000L
           + (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec),
           (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1000000L
           + (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec));

    if (hl_non2xx) {
        printf("first_non2xx=%s\n", hl_first_bad);
    }

    return 0;
}
