# The HTTP client on the nginx event loop (modules/io/kx_http.c), through
# the test handlers of ngx_http_kx_httptest_module, against fake providers
# (Kx::FakeHTTP): a provider that stalls, is down, fails and recovers;
# retries with backoff and Retry-After; the circuit breaker; TLS
# verification; clients that go away; graceful shutdown mid-request.

use strict;
use warnings;

use lib 't/lib';

use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use Socket qw(inet_ntoa);
use Test::More;
use Time::HiRes qw(time sleep);

use Kx::Test;
use Kx::FakeHTTP;

# --- TLS: two self-signed certificates for 127.0.0.1; only A is trusted -----

my $certs = tempdir('kx-io-http-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my %pem;
for my $n (qw(a b)) {
    my $rc = system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
        . "-subj /CN=kx-test-$n -addext subjectAltName=IP:127.0.0.1 "
        . "-keyout $certs/$n.key -out $certs/$n.crt 2>/dev/null");
    die "openssl could not make a certificate\n" if $rc;
    for my $ext (qw(key crt)) {
        open my $fh, '<', "$certs/$n.$ext" or die "$certs/$n.$ext: $!";
        local $/;
        $pem{"conf/$n.$ext"} = <$fh>;
    }
}

# A host name that resolves to 127.0.0.1 through /etc/hosts (not "localhost",
# which libcurl answers itself): it exercises the threaded resolver.
my $hostname = `hostname 2>/dev/null` // '';
chomp $hostname;
my $packed = $hostname =~ /^[A-Za-z0-9.-]+$/ ? gethostbyname($hostname) : undef;
$hostname = 'localhost' unless $packed && inet_ntoa($packed) eq '127.0.0.1';

# --- fake providers -----------------------------------------------------------

my $fa = Kx::FakeHTTP->start(routes => {
    '/hello' => { body => 'hello world' },
    '/big'   => { body => 'x' x 5000 },
});
my $fb = Kx::FakeHTTP->start(routes => {
    '/fail' => { status => 500, body => 'boom' },
});
my $down_port = free_port();    # nothing listens there (yet)

my %vars = (FA => $fa->port, FB => $fb->port, DOWN => $down_port,
            HOST => $hostname);

my $ng = start_nginx(<<'CONF', files => \%pem, vars => \%vars);
master_process on;
worker_processes 1;
worker_rlimit_nofile 4096;
events { worker_connections 1024; }
http {
    access_log off;

    kx_http_client retry_base=50ms retry_cap=200ms connect_timeout=1s
                       window=10s buckets=10 min_requests=4 failure_pct=50
                       cooldown=1s probes=1 ca_file=%%PREFIX%%/conf/a.crt;

    server {
        listen 127.0.0.1:%%PORT%% backlog=1024;

        location = /ping     { kx_httptest_ping; }
        location = /breakers { kx_httptest_breaker; }

        # provider A: one attempt, 1 s
        location ~ ^/a(/.*)$ {
            kx_httptest_fetch http://127.0.0.1:%%FA%%$1$is_args$args;
            kx_httptest_timeout 1s;
        }

        # idempotent GET, 3 retries, 5 s for everything
        location ~ ^/retry(/.*)$ {
            kx_httptest_fetch http://127.0.0.1:%%FA%%$1;
            kx_httptest_timeout 5s;
            kx_httptest_retries 3;
            kx_httptest_breaker_key retry$1;
        }

        location ~ ^/short(/.*)$ {
            kx_httptest_fetch http://127.0.0.1:%%FA%%$1;
            kx_httptest_timeout 1500ms;
            kx_httptest_retries 3;
            kx_httptest_breaker_key short$1;
        }

        # each attempt 300 ms, 3 s for everything
        location ~ ^/attempt(/.*)$ {
            kx_httptest_fetch http://127.0.0.1:%%FA%%$1;
            kx_httptest_timeout 3s;
            kx_httptest_attempt_timeout 300ms;
            kx_httptest_retries 2;
            kx_httptest_breaker_key attempt$1;
        }

        # POST: not idempotent, retried only when nothing was sent or 429
        location ~ ^/post(/.*)$ {
            kx_httptest_fetch http://127.0.0.1:%%FA%%$1;
            kx_httptest_method POST;
            kx_httptest_header "Content-Type: application/json";
            kx_httptest_header "X-Kx-Test: yes";
            kx_httptest_body '{"qty":"1.5"}';
            kx_httptest_timeout 5s;
            kx_httptest_retries 3;
            kx_httptest_breaker_key post$1;
        }

        location ~ ^/post_short(/.*)$ {
            kx_httptest_fetch http://127.0.0.1:%%FA%%$1;
            kx_httptest_method POST;
            kx_httptest_body 'order';
            kx_httptest_timeout 2s;
            kx_httptest_attempt_timeout 300ms;
            kx_httptest_retries 2;
            kx_httptest_breaker_key post_short$1;
        }

        location = /down {
            kx_httptest_fetch http://127.0.0.1:%%DOWN%%/hello;
            kx_httptest_timeout 2s;
        }

        location = /down_retry {
            kx_httptest_fetch http://127.0.0.1:%%DOWN%%/hello;
            kx_httptest_method POST;
            kx_httptest_retries 2;
            kx_httptest_breaker_key down_retry;
        }

        # provider B: the breaker's
        location ~ ^/b(/.*)$ {
            kx_httptest_fetch http://127.0.0.1:%%FB%%$1;
            kx_httptest_timeout 2s;
        }

        location = /big {
            kx_httptest_fetch http://127.0.0.1:%%FA%%/big;
            kx_httptest_max_size 1k;
            kx_httptest_breaker_key big;
        }

        location = /tls_trusted {
            kx_httptest_fetch https://127.0.0.1:%%TLS_A_PORT%%/ping;
            kx_httptest_breaker_key tls_a;
        }

        location = /tls_untrusted {
            kx_httptest_fetch https://127.0.0.1:%%TLS_B_PORT%%/ping;
            kx_httptest_breaker_key tls_b;
        }

        location = /name {
            kx_httptest_fetch http://%%HOST%%:%%FA%%/hello;
            kx_httptest_breaker_key name;
        }
    }

    # TLS servers for the client to call (the same worker answers them)
    server {
        listen 127.0.0.1:%%TLS_A_PORT%% ssl;
        ssl_certificate     %%PREFIX%%/conf/a.crt;
        ssl_certificate_key %%PREFIX%%/conf/a.key;
        location = /ping { kx_httptest_ping; }
    }

    server {
        listen 127.0.0.1:%%TLS_B_PORT%% ssl;
        ssl_certificate     %%PREFIX%%/conf/b.crt;
        ssl_certificate_key %%PREFIX%%/conf/b.key;
        location = /ping { kx_httptest_ping; }
    }
}
CONF

my $port = $ng->port;

sub get {
    my ($path, $timeout) = @_;
    my $t = time;
    my $r = $ng->http(GET => $path, timeout => $timeout // 10);
    $r->{secs} = time - $t;
    return $r;
}

# the harness's raw clients, on this test's port
sub start_request { return http_start($port, $_[0]) }
sub finish_request { return http_finish(@_) }
sub concurrent { return http_concurrent($port, @_) }

sub breaker {
    my ($key) = @_;
    return get('/breakers')->{json}{breakers}{$key} // {};
}

sub stats { return get('/breakers')->{json}{stats} }

sub wait_hits {
    my $h = $fa->hits;
    my $n = 0;
    $n += $h->{"/wait$_"} // 0 for 1 .. 5;
    return $n;
}

sub max_of { my $m = 0; for (@_) { $m = $_ if $_ > $m } return $m }

# --- a plain fetch --------------------------------------------------------------

{
    my $r = get('/a/hello');
    is $r->{status}, 200, 'fetch: 200';
    is $r->{json}{status}, 200, '... the provider said 200';
    is $r->{json}{body}, 'hello world', '... body';
    is $r->{json}{attempts}, 1, '... one attempt';
    ok exists $r->{json}{error} && !defined $r->{json}{error}, '... error null';
    is $r->{json}{content_type}, 'text/plain', '... Content-Type';
    is $r->{json}{breaker}, '127.0.0.1:' . $fa->port, '... breaker key host:port';

    $r = get('/a/echo?sym=AAPL&n=2');
    my $echo = json_decode($r->{json}{body} // '') // {};
    is $echo->{query}, 'sym=AAPL&n=2', 'fetch: query string passed through';
    is $echo->{method}, 'GET', '... GET';
    is $echo->{headers}{'user-agent'}, 'kianax/1', '... our User-Agent';

    $r = get('/a/no-such-path');
    is $r->{json}{status}, 404, 'a provider 404 is a response, not an error';
    is $r->{json}{attempts}, 1, '... and not retried';

    like $ng->error_log, qr/kx_http: libcurl [\d.]+ .*asynchronous DNS: yes/,
        'libcurl resolves names off the event loop (threaded resolver)';
}

{
    my $before = stats()->{sockets_opened};
    my $ok = 0;
    for (1 .. 10) {
        my $r = get('/a/hello');
        $ok++ if ($r->{json}{status} // 0) == 200;
    }
    is $ok, 10, '10 fetches one after another';
    is stats()->{sockets_opened} - $before, 0,
        '... over the kept-alive connection (no new socket)';

    # 100 at once, each answered after 300 ms: they run side by side
    $fa->route('/slow100', { delay_ms => 300, body => 'slow' });
    my $t = time;
    my @res = concurrent([('/a/slow100') x 100], 10);
    my $secs = time - $t;
    is scalar(grep { ($_->{json}{body} // '') eq 'slow' } @res), 100,
        '100 concurrent fetches all answered';
    ok $secs < 0.95, sprintf('... side by side (%.3f s for 100 x 300 ms)',
                             $secs);
    is $fa->hits('/slow100'), 100, '... 100 requests reached the provider';
    is stats()->{transfers}, 0, '... no transfer left';
}

SKIP: {
    skip 'no host name resolving to 127.0.0.1 besides localhost', 2
        if $hostname eq 'localhost';
    my $r = get('/name');
    is $r->{json}{status}, 200, "a host name ($hostname) resolves and works";
    is $r->{json}{body}, 'hello world', '... body';
}

# --- provider stalled: the worker keeps serving ------------------------------

{
    $fa->kill_stop;

    my ($s, $t0) = start_request('/a/hello');
    sleep 0.2;

    my @res = concurrent([('/ping') x 100], 10);
    is scalar(grep { $_->{status} == 200 } @res), 100,
        'provider stalled: 100 pings on the same worker all answered';
    my $worst = max_of(map { $_->{secs} } @res);
    ok $worst < 0.1,
        sprintf('... each within 100 ms (slowest %.1f ms)', $worst * 1000);

    my $r = finish_request($s, $t0, 5);
    is $r->{status}, 504, 'the stalled fetch: 504';
    is $r->{json}{error}{code}, 'gateway_timeout', '... JSON error';
    is $r->{headers}{'x-kx-error'}, 'timeout', '... error kind timeout';
    ok $r->{secs} >= 0.9 && $r->{secs} < 1.6,
        sprintf('... within its 1 s timeout (%.3f s)', $r->{secs});

    $fa->kill_cont;

    $r = get('/a/hello');
    is $r->{json}{status}, 200, 'provider back: works again, no restart';
    is $r->{json}{body}, 'hello world', '... body';

    # a provider that accepts and never answers one path
    $fa->route('/hang', { stall => 1 });
    $r = get('/a/hang');
    is $r->{status}, 504, 'a hanging path: 504';
    ok $r->{secs} < 1.6, sprintf('... in time (%.3f s)', $r->{secs});
    is $fa->hits('/hang'), 1, '... the request reached the provider';
}

# --- provider down --------------------------------------------------------------

{
    my $r = get('/down');
    is $r->{status}, 502, 'provider down: 502';
    is $r->{json}{error}{code}, 'bad_gateway', '... JSON error';
    is $r->{headers}{'x-kx-error'}, 'connect', '... error kind connect';
    ok $r->{secs} < 0.5, sprintf('... quickly (%.3f s)', $r->{secs});

    $r = get('/down_retry');
    is $r->{status}, 502, 'provider down, POST with 2 retries: 502';
    is $r->{headers}{'x-kx-attempts'}, 3,
        '... a refused connection is retried even for POST (nothing sent)';
    ok $r->{secs} < 1.5, sprintf('... with short backoffs (%.3f s)', $r->{secs});

    my $fd = Kx::FakeHTTP->start(port => $down_port,
                                 routes => { '/hello' => { body => 'up again' } });
    $r = get('/down');
    is $r->{json}{status}, 200, 'provider up: works, no restart';
    is $r->{json}{body}, 'up again', '... body';
    $fd->stop;
}

# --- retries ---------------------------------------------------------------------

{
    $fa->route('/flaky', [{ status => 503 }, { status => 200, body => 'recovered' }]);
    my $r = get('/retry/flaky');
    is $r->{json}{status}, 200, '503 then 200: succeeds';
    is $r->{json}{body}, 'recovered', '... body of the second answer';
    is $r->{json}{attempts}, 2, '... attempts=2';
    is $fa->hits('/flaky'), 2, '... the provider saw 2 requests';

    $fa->route('/always503', { status => 503, body => 'down' });
    $r = get('/retry/always503');
    is $r->{json}{status}, 503, 'always 503: the last answer is passed on';
    is $r->{json}{attempts}, 4, '... after 1 + 3 retries';
    is $fa->hits('/always503'), 4, '... the provider saw 4 requests';

    $fa->route('/ra', [{ status => 503, headers => { 'Retry-After' => 1 } },
                       { status => 200, body => 'after' }]);
    $r = get('/retry/ra');
    is $r->{json}{status}, 200, 'Retry-After: 1 then 200: succeeds';
    is $r->{json}{attempts}, 2, '... attempts=2';
    ok $r->{json}{elapsed_ms} >= 950 && $r->{secs} < 2.5,
        sprintf('... after waiting about 1 s (%d ms)', $r->{json}{elapsed_ms});

    $fa->route('/ra_long', [{ status => 503, headers => { 'Retry-After' => 120 } },
                            { status => 200 }]);
    $r = get('/retry/ra_long');
    is $r->{json}{status}, 503, 'Retry-After: 120 (over 30 s): not waited';
    is $r->{json}{attempts}, 1, '... one attempt';
    is $r->{json}{retry_after}, 120000, '... Retry-After reported to the caller';
    ok $r->{secs} < 0.5, sprintf('... at once (%.3f s)', $r->{secs});

    $fa->route('/ra_2', [{ status => 503, headers => { 'Retry-After' => 2 } },
                         { status => 200 }]);
    $r = get('/short/ra_2');
    is $r->{json}{status}, 503,
        'Retry-After beyond the deadline (2 s of 1.5 s): answered at once';
    is $r->{json}{attempts}, 1, '... one attempt';
    ok $r->{secs} < 0.5, sprintf('... at once (%.3f s)', $r->{secs});

    $fa->route('/p503', [{ status => 503 }, { status => 200 }]);
    $r = get('/post/p503');
    is $r->{json}{status}, 503, 'POST answered 503: not retried';
    is $r->{json}{attempts}, 1, '... attempts=1';
    is $fa->hits('/p503'), 1, '... the provider saw 1 request';

    $fa->route('/p429', [{ status => 429, headers => { 'Retry-After' => 1 } },
                         { status => 201, body => 'created' }]);
    $r = get('/post/p429');
    is $r->{json}{status}, 201, 'POST answered 429 + Retry-After: retried';
    is $r->{json}{attempts}, 2, '... attempts=2';
    ok $r->{json}{elapsed_ms} >= 950,
        sprintf('... after Retry-After (%d ms)', $r->{json}{elapsed_ms});

    $r = get('/post/echo');
    my $echo = json_decode($r->{json}{body} // '') // {};
    is $echo->{method}, 'POST', 'POST: method';
    is $echo->{body}, '{"qty":"1.5"}', '... body';
    is $echo->{headers}{'content-type'}, 'application/json', '... header';
    is $echo->{headers}{'x-kx-test'}, 'yes', '... second header';
    ok !exists $echo->{headers}{expect}, '... no Expect: 100-continue';

    $fa->route('/phang', { stall => 1 });
    $r = get('/post_short/phang');
    is $r->{status}, 504, 'POST sent, then no answer: 504';
    is $r->{headers}{'x-kx-attempts'}, 1, '... not sent twice';
    is $fa->hits('/phang'), 1, '... the provider saw it once';
    ok $r->{secs} < 1, sprintf('... after its attempt timeout (%.3f s)',
                               $r->{secs});

    $fa->route('/slow1', [{ stall => 1 }, { status => 200, body => 'second' }]);
    $r = get('/attempt/slow1');
    is $r->{json}{status}, 200, 'an attempt that timed out is retried (GET)';
    is $r->{json}{body}, 'second', '... body of the second attempt';
    is $r->{json}{attempts}, 2, '... attempts=2';
    ok $r->{json}{elapsed_ms} >= 290,
        sprintf('... after the 300 ms attempt timeout (%d ms)',
                $r->{json}{elapsed_ms});
}

# --- limits and TLS ----------------------------------------------------------------

{
    my $r = get('/big');
    is $r->{status}, 502, 'body over max_size: 502';
    is $r->{headers}{'x-kx-error'}, 'too_large', '... error kind too_large';

    $r = get('/tls_trusted');
    is $r->{json}{status}, 200, 'https with a trusted certificate (ca_file)';
    is $r->{json}{body}, '{"pong":true}', '... body';

    $r = get('/tls_untrusted');
    is $r->{status}, 502, 'https with an untrusted certificate: refused';
    is $r->{headers}{'x-kx-error'}, 'tls', '... error kind tls';
}

# --- circuit breaker ----------------------------------------------------------

{
    my $key = '127.0.0.1:' . $fb->port;

    for my $i (1 .. 4) {
        my $r = get('/b/fail');
        is $r->{json}{status}, 500, "provider fails ($i of 4): 500 passed on";
    }
    my $t_open = time;
    my $b = breaker($key);
    is $b->{state}, 'open', 'breaker open after 4 failures of 4';
    is $b->{opens}, 1, '... opened once';
    is $fb->hits('/fail'), 4, '... the provider saw 4 requests';

    my @fast;
    for my $i (1 .. 5) {
        my $r = get('/b/fail');
        push @fast, $r;
    }
    is scalar(grep { $_->{status} == 503 } @fast), 5,
        'open: 5 calls answered 503';
    is $fast[0]{json}{error}{code}, 'service_unavailable', '... JSON error';
    is $fast[0]{headers}{'x-kx-error'}, 'breaker_open', '... breaker_open';
    is $fast[0]{headers}{'x-kx-attempts'}, 0, '... nothing attempted';
    is $fast[0]{headers}{'retry-after'}, 1, '... Retry-After: cool-down left';
    ok max_of(map { $_->{secs} } @fast) < 0.1, '... each at once';
    is $fb->hits('/fail'), 4, '... and the provider saw none of them';

    ok wait_until(sub { (breaker($key)->{state} // '') eq 'half_open' },
                  timeout => 3, interval => 0.02),
        'breaker half-open after the cool-down';
    my $waited = time - $t_open;
    ok $waited >= 0.85, sprintf('... not before 1 s (%.3f s)', $waited);

    # two calls at once: one probe goes through, the other fails fast
    $fb->route('/fail', { delay_ms => 400, status => 200, body => 'healed' });
    my @two = concurrent(['/b/fail', '/b/fail'], 5);
    my @probe = grep { $_->{status} == 200 } @two;
    my @shed = grep { $_->{status} == 503 } @two;
    is scalar(@probe), 1, 'half-open: one call is the probe';
    is $probe[0]{json}{body}, 'healed', '... and it reached the provider';
    is scalar(@shed), 1, '... the other is refused meanwhile';
    is $fb->hits('/fail'), 5, '... exactly one request reached the provider';
    is breaker($key)->{state}, 'closed', 'probe succeeded: breaker closed';

    my $r = get('/b/fail');
    is $r->{json}{status}, 200, 'closed: calls go through';
    is $fb->hits('/fail'), 6, '... to the provider';

    # a failing probe opens it again
    $fb->route('/fail', { status => 500 });
    get('/b/fail') for 1 .. 4;
    is breaker($key)->{state}, 'open', 'four failures: open again';
    ok wait_until(sub { (breaker($key)->{state} // '') eq 'half_open' },
                  timeout => 3, interval => 0.02), '... half-open later';
    my $hits = $fb->hits('/fail');
    $r = get('/b/fail');
    is $r->{json}{status}, 500, 'the probe fails';
    is $fb->hits('/fail'), $hits + 1, '... after reaching the provider';
    $b = breaker($key);
    is $b->{state}, 'open', '... breaker open again';
    is $b->{opens}, 3, '... opened three times in all';
    $r = get('/b/fail');
    is $r->{headers}{'x-kx-error'}, 'breaker_open', '... calls fail fast again';
    is $fb->hits('/fail'), $hits + 1, '... without touching the provider';
}

# --- clients that go away -------------------------------------------------------

{
    my $before = stats();
    $fa->route('/slow', { delay_ms => 800, body => 'late' });
    # one path (so one breaker) each: four failures would open a shared one
    $fa->route("/wait$_", { status => 503, headers => { 'Retry-After' => 1 } })
        for 1 .. 5;

    my @socks;
    push @socks, (start_request('/a/slow'))[0] for 1 .. 20;
    push @socks, (start_request("/retry/wait$_"))[0] for 1 .. 5;
    sleep 0.3;
    close $_ for @socks;

    ok wait_until(sub { stats()->{active} == 0 }, timeout => 3),
        'clients gone: their requests are dropped';
    my $after = stats();
    is $after->{cancelled} - $before->{cancelled}, 25,
        '... 25 cancelled (20 in flight, 5 waiting to retry)';
    is wait_hits(), 5, '... the waiting ones were not retried';
    is $after->{transfers}, 0, '... no transfer left';

    my $r = get('/ping');
    is $r->{status}, 200, 'the worker is fine';
    $r = get('/a/hello');
    is $r->{json}{status}, 200, '... and fetches still work';
    sleep 1;
    is wait_hits(), 5, '... no retry of a cancelled request later';
}

# --- graceful shutdown waits for a request in flight --------------------------

{
    $fa->route('/slow2', { delay_ms => 600, body => 'finished' });
    my ($s, $t0) = start_request('/a/slow2');
    sleep 0.2;
    kill 'QUIT', $ng->pid;
    my $r = finish_request($s, $t0, 5);
    is $r->{status}, 200, 'graceful shutdown: the request in flight completes';
    is $r->{json}{body}, 'finished', '... with its answer';
    ok wait_until(sub { !$ng->pids }, timeout => 5), '... then nginx exits';
}

$ng->stop;    # checks the error log: no [alert], no sanitizer reports
$fa->stop;
$fb->stop;

done_testing;
