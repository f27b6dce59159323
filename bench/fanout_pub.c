
/*
 * Copyright (C) Kianax
 *
 * bench/fanout's publisher: quotes as the market instance publishes them
 * (contract C1: PUBLISH kx:quote:<SYM> {"type":"quote",...}), plus the
 * benchmark's "sent_ns" (CLOCK_MONOTONIC ns when written), at RATE
 * quotes/s round-robin over the symbols, for SECONDS.  Speaks RESP to
 * Redis itself, pipelined: each time slot (1 ms) writes every quote due
 * by then in one write and reads whatever replies have arrived.  libc
 * only; built by bench/fanout with "cc -O2".
 *
 *   fanout_pub -p REDIS_PORT -r RATE -d SECONDS -s SYM,SYM,...
 *              [-h host] [-S slot_us]
 *
 * Prints "published=N seconds=S receivers=R late_ms=L errors=E cpu_us=C":
 * R is the sum of PUBLISH's replies (subscribed Redis clients per message:
 * one per notify worker), L how far behind its schedule the publisher fell
 * at worst, C its own CPU time.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


#define FP_MAX_SYMBOLS  256
#define FP_OUT_CAP      (4 * 1024 * 1024)


typedef struct {
    const char  *name;
    int64_t      cents;
    int64_t      open;
    int64_t      prev;
} fp_sym_t;


static fp_sym_t   fp_syms[FP_MAX_SYMBOLS];
static int        fp_nsyms;
static int        fp_fd;
static char      *fp_out;
static size_t     fp_out_len;
static char       fp_in[65536];
static size_t     fp_in_len;
static uint64_t   fp_replies;
static uint64_t   fp_receivers;
static uint64_t   fp_errors;
static uint64_t   fp_rng = 0x2545f4914f6cdd1dULL;


static int64_t
fp_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


static uint64_t
fp_rand(void)
{
    fp_rng ^= fp_rng >> 12;
    fp_rng ^= fp_rng << 25;
    fp_rng ^= fp_rng >> 27;
    return fp_rng * 0x2545f4914f6cdd1dULL;
}


static size_t
fp_money(char *dst, int64_t cents)
{
    return sprintf(dst, "%lld.%02lld", (long long) (cents / 100),
                   (long long) (cents % 100));
}


/* one quote, about 250 bytes like the market's, ending with sent_ns */
static size_t
fp_quote(char *dst, fp_sym_t *s, int64_t sent_ns)
{
    char       price[24], bid[24], ask[24], open[24], prev[24], ts[96];
    int64_t    chg;
    time_t     t;
    struct tm  tm;
    struct timespec  rt;

    s->cents += (int64_t) (fp_rand() % 7) - 3;
    if (s->cents < 100) {
        s->cents = 100;
    }

    fp_money(price, s->cents);
    fp_money(bid, s->cents - 1);
    fp_money(ask, s->cents + 1);
    fp_money(open, s->open);
    fp_money(prev, s->prev);

    chg = (s->cents - s->prev) * 10000 / s->prev;

    clock_gettime(CLOCK_REALTIME, &rt);
    t = rt.tv_sec;
    gmtime_r(&t, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, rt.tv_nsec / 1000000);

    return sprintf(dst,
                   "{\"type\":\"quote\",\"symbol\":\"%s\",\"price\":\"%s\","
                   "\"bid\":\"%s\",\"ask\":\"%s\",\"bid_size\":%d,"
                   "\"ask_size\":%d,\"open\":\"%s\",\"prev_close\":\"%s\","
                   "\"change_percent\":\"%s%lld.%02lld\","
                   "\"timestamp\":\"%s\",\"sent_ns\":%lld}",
                   s->name, price, bid, ask,
                   (int) (fp_rand() % 50 + 1) * 100,
                   (int) (fp_rand() % 50 + 1) * 100,
                   open, prev, chg < 0 ? "-" : "",
                   (long long) (llabs(chg) / 100),
                   (long long) (llabs(chg) % 100),
                   ts, (long long) sent_ns);
}


static void
fp_append_publish(fp_sym_t *s, int64_t sent_ns)
{
    char    msg[1024], chan[64];
    size_t  ml, cl;

    ml = fp_quote(msg, s, sent_ns);
    cl = snprintf(chan, sizeof(chan), "kx:quote:%s", s->name);

    fp_out_len += sprintf(fp_out + fp_out_len,
                          "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%zu\r\n",
                          cl, chan, ml);
    memcpy(fp_out + fp_out_len, msg, ml);
    fp_out_len += ml;
    memcpy(fp_out + fp_out_len, "\r\n", 2);
    fp_out_len += 2;
}


/* counts the complete replies in fp_in (integers, or errors) */
static void
fp_parse_replies(void)
{
    char    *p, *end, *nl;
    size_t   left;

    p = fp_in;
    end = fp_in + fp_in_len;

    while (p < end && (nl = memchr(p, '\n', end - p)) != NULL) {
        if (*p == ':') {
            fp_receivers += strtoull(p + 1, NULL, 10);

        } else {
            if (fp_errors == 0) {
                fprintf(stderr, "fanout_pub: redis: %.*s\n",
                        (int) (nl - p), p);
            }
            fp_errors++;
        }

        fp_replies++;
        p = nl + 1;
    }

    left = end - p;
    memmove(fp_in, p, left);
    fp_in_len = left;
}


static int
fp_read(int timeout_ms)
{
    ssize_t        n;
    struct pollfd  pfd;

    pfd.fd = fp_fd;
    pfd.events = POLLIN;

    while (poll(&pfd, 1, timeout_ms) > 0) {
        n = recv(fp_fd, fp_in + fp_in_len, sizeof(fp_in) - fp_in_len,
                 MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return 0;
        }
        if (n <= 0) {
            fprintf(stderr, "fanout_pub: redis closed the connection\n");
            return -1;
        }

        fp_in_len += n;
        fp_parse_replies();
        timeout_ms = 0;
    }

    return 0;
}


static int
fp_write(void)
{
    size_t   off;
    ssize_t  n;

    for (off = 0; off < fp_out_len; ) {
        n = send(fp_fd, fp_out + off, fp_out_len - off, MSG_DONTWAIT);

        if (n > 0) {
            off += n;
            continue;
        }

        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            /* Redis's replies may be what fills the pipe: read them */
            if (fp_read(1) != 0) {
                return -1;
            }
            continue;
        }

        perror("fanout_pub: send");
        return -1;
    }

    fp_out_len = 0;
    return 0;
}


int
main(int argc, char **argv)
{
    int                 opt, port, one;
    char               *s, *save, *list;
    double              secs;
    int64_t             start, now, el, dur, slot, next, late, due;
    uint64_t            rate, sent;
    const char         *host;
    struct rusage       ru;
    struct timespec     ts;
    struct sockaddr_in  sin;

    host = "127.0.0.1";
    port = 0;
    rate = 0;
    secs = 0;
    slot = 1000000;
    list = NULL;

    while ((opt = getopt(argc, argv, "p:r:d:s:h:S:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'r': rate = strtoull(optarg, NULL, 10); break;
        case 'd': secs = atof(optarg); break;
        case 's': list = optarg; break;
        case 'h': host = optarg; break;
        case 'S': slot = atoll(optarg) * 1000; break;
        default: goto usage;
        }
    }

    if (port <= 0 || rate == 0 || secs <= 0 || list == NULL || slot <= 0) {
        goto usage;
    }

    for (s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        if (fp_nsyms == FP_MAX_SYMBOLS) {
            goto usage;
        }
        fp_syms[fp_nsyms].name = s;
        fp_syms[fp_nsyms].prev = 5000 + (int64_t) (fp_rand() % 40000);
        fp_syms[fp_nsyms].open = fp_syms[fp_nsyms].prev + 37;
        fp_syms[fp_nsyms].cents = fp_syms[fp_nsyms].open;
        fp_nsyms++;
    }

    fp_out = malloc(FP_OUT_CAP);
    fp_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fp_out == NULL || fp_fd < 0) {
        perror("fanout_pub");
        return 1;
    }

    one = 1;
    setsockopt(fp_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    inet_pton(AF_INET, host, &sin.sin_addr);

    if (connect(fp_fd, (struct sockaddr *) &sin, sizeof(sin)) != 0) {
        perror("fanout_pub: connect");
        return 1;
    }

    start = fp_now();
    dur = (int64_t) (secs * 1e9);
    sent = 0;
    late = 0;
    next = start;

    for ( ;; ) {
        now = fp_now();
        el = now - start;
        if (el >= dur) {
            break;
        }

        if (now - next > late) {
            late = now - next;
        }

        /* every quote due by now, in one write */
        due = (int64_t) ((double) rate * (double) el / 1e9);

        while ((int64_t) sent < due
               && fp_out_len < FP_OUT_CAP - 2048)
        {
            fp_append_publish(&fp_syms[sent % fp_nsyms], fp_now());
            sent++;
        }

        if (fp_write() != 0 || fp_read(0) != 0) {
            return 1;
        }

        next += slot;
        if (next < now) {
            next = now;
        }

        ts.tv_sec = next / 1000000000;
        ts.tv_nsec = next % 1000000000;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }

    el = fp_now() - start;

    /* the remaining replies */
    while (fp_replies < sent) {
        if (fp_read(5000) != 0) {
            return 1;
        }
        if (fp_now() - start - el > 10 * 1000000000LL) {
            fprintf(stderr, "fanout_pub: replies missing\n");
            break;
        }
    }

    getrusage(RUSAGE_SELF, &ru);

    printf("published=%llu seconds=%.3f receivers=%llu late_ms=%.1f"
           " errors=%llu cpu_us=%lld\n",
           (unsigned long long) sent, el / 1e9,
           (unsigned long long) fp_receivers, late / 1e6,
           (unsigned long long) fp_errors,
           (long long) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000
           + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    return fp_errors ? 1 : 0;

usage:

    fprintf(stderr, "usage: fanout_pub -p REDIS_PORT -r RATE -d SECONDS"
            " -s SYM,SYM,... [-h host] [-S slot_us]\n");
    return 2;
}
