#!/usr/bin/perl

# The shipped gateway.conf in front of the shipped service configs:
# routing of /v1 and unversioned paths, request ids, JSON errors, JSON
# access logs, keepalive upstreams and the WebSocket upgrade on /ws.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use POSIX ();
use Protocol::WebSocket::Handshake::Server;
use Protocol::WebSocket::Frame;

use lib 't/lib';
use Kx::Test;
use Kx::Stack;

my $ports = stack_ports();
my $pg = start_pg();
my $redis = start_redis();

my %svc;
for my $name (qw(trading agent market scheduler retrieval)) {
    $svc{$name} = start_instance($name, ports => $ports, pg => $pg,
                                 redis => $redis);
}

# The notify instance's port is served by a tiny WebSocket echo server
# here, to see the gateway pass the Upgrade handshake and frames through.
my $ws_pid = ws_echo_server($ports->{notify});

my $gw = start_instance('gateway', ports => $ports, pg => $pg,
                        redis => $redis);

# the trading service takes the subject for the user's id: a uuid
my %auth = (Authorization => 'Bearer '
                             . stack_token('00000000-0000-4000-8000-0000000061a1'));

# --- health, metrics, unknown routes --------------------------------------

my $r = $gw->http(GET => '/health');
is $r->{status}, 200, 'gateway /health 200';
is $r->{json}{status}, 'ok', 'status ok';
is $r->{json}{service}, 'gateway', 'names the service';
like $r->{headers}{'x-request-id'}, qr/^[0-9a-f]{32}$/,
    'a generated X-Request-ID';

$r = $gw->http(GET => '/no/such/route');
is $r->{status}, 404, 'unknown route 404';
is $r->{json}{error}{code}, 'not_found', 'JSON error code';
ok length $r->{json}{error}{message}, 'JSON error message';
unlike $r->{body}, qr/<html/i, 'not an HTML page';

$r = $gw->http(GET => '/nope', headers => { 'X-Request-ID' => 'trace-42.a:b_c' });
is $r->{headers}{'x-request-id'}, 'trace-42.a:b_c', 'client request id echoed';

$r = $gw->http(GET => '/nope', headers => { 'X-Request-ID' => "bad id <script>" });
like $r->{headers}{'x-request-id'}, qr/^[0-9a-f]{32}$/,
    'an unsafe request id is replaced';

$r = $gw->http(POST => '/health', body => 'x');
is $r->{status}, 405, 'POST /health 405';
is $r->{json}{error}{code}, 'method_not_allowed', '405 is JSON';

$r = $gw->http(POST => '/v1/orders', body => 'x' x (2 * 1024 * 1024),
               headers => { 'Content-Type' => 'application/json', %auth });
is $r->{status}, 413, 'oversized body 413';
is $r->{json}{error}{code}, 'payload_too_large', '413 is JSON';

my $raw = http_raw($gw->port, "GARBAGE\r\n\r\n");
like $raw, qr{^HTTP/1\.1 400}, 'malformed request 400';
like $raw, qr{"code":"bad_request"}, '400 is JSON';

# --- routing --------------------------------------------------------------

my %route = (
    '/v1/portfolio'            => [trading   => '/v1/portfolio'],
    '/portfolio'               => [trading   => '/v1/portfolio'],
    '/v1/orders/123'           => [trading   => '/v1/orders/123'],
    '/orders?status=open'      => [trading   => '/v1/orders?status=open'],
    '/v1/positions'            => [trading   => '/v1/positions'],
    '/trades'                  => [trading   => '/v1/trades'],
    '/v1/agents'               => [agent     => '/v1/agents'],
    '/agents/7/execute'        => [agent     => '/v1/agents/7/execute'],
    '/v1/market/quotes/AAPL'   => [market    => '/v1/quotes/AAPL'],
    '/market/history/TSLA'     => [market    => '/v1/history/TSLA'],
    '/v1/triggers'             => [scheduler => '/v1/triggers'],
    '/v1/search'               => [retrieval => '/v1/search'],
    '/rag'                     => [retrieval => '/v1/rag'],
);

for my $path (sort keys %route) {
    my ($name, $seen) = @{ $route{$path} };
    my $id = "route-" . int(rand(1e9));
    $r = $gw->http(GET => $path, headers => { 'X-Request-ID' => $id, %auth });
    is $r->{headers}{'x-kx-service'}, $name, "$path reaches $name";
    if ($name eq 'market' || $name eq 'trading') {
        # /v1/orders/123 is no order id: the trading service's 404
        my $st = $path =~ m{/orders/123} ? 404 : 200;
        is $r->{status}, $st, "$path: the $name service answers";
        ok $r->{json}, "$path: JSON from $name";
    } else {
        is $r->{status}, 501, "$path: the service answers (not built yet)";
        is $r->{json}{error}{code}, 'not_implemented', "$path: JSON from $name";
    }
    is $r->{headers}{'x-request-id'}, $id, "$path: request id returned";

    # the service logged the same request id and the rewritten URI
    my $line;
    wait_until(sub {
        ($line) = grep { /"request_id":"\Q$id\E"/ }
                  split /\n/, slurp($svc{$name}->prefix . '/logs/access.log');
        defined $line;
    }, timeout => 5);
    ok defined $line, "$path: $name access log has the request id";
    my $log = eval { json_decode($line) } // {};
    is $log->{uri}, $seen, "$path: $name saw $seen";
    is $log->{service}, $name, "$path: JSON log line names $name";
}

$r = $gw->http(GET => '/v1/auth/login');
is $r->{status}, 405, 'auth is the gateway\'s own (GET login: 405)';
is $r->{headers}{'x-kx-service'}, 'gateway', 'auth answered by the gateway';

# --- identity -------------------------------------------------------------

$r = $gw->http(GET => '/v1/portfolio');
is $r->{status}, 401, 'no token: 401 at the gateway';
is $r->{json}{error}{code}, 'unauthorized', 'JSON 401';
is $r->{headers}{'x-kx-service'}, 'gateway', 'refused before any service';

$r = $gw->http(GET => '/v1/portfolio', headers => { Authorization => 'Bearer x.y.z' });
is $r->{status}, 401, 'bad token: 401';
is $r->{json}{error}{code}, 'invalid_token', 'invalid_token';

$r = http(GET => "http://127.0.0.1:$ports->{trading}/v1/portfolio",
          headers => { 'X-User-ID' => 'user-gw-1' });
is $r->{status}, 401, 'a service refuses a bare X-User-ID without a token';

$r = http(GET => "http://127.0.0.1:$ports->{trading}/v1/portfolio", headers => \%auth);
is $r->{status}, 200, 'a service accepts the same token the gateway does';

$r = $gw->http(GET => '/v1/portfolio', headers => \%auth);
like $r->{headers}{'ratelimit-remaining'} // '', qr/^\d+$/,
    'routed requests carry RateLimit headers';

# --- keepalive upstreams --------------------------------------------------

my $before = accepted($svc{trading});
$gw->http(GET => '/v1/portfolio', headers => \%auth) for 1 .. 30;
my $after = accepted($svc{trading});
cmp_ok $after - $before, '<=', 2,
    '30 proxied requests reuse kept-alive upstream connections';

# --- metrics --------------------------------------------------------------

my $agent_re = qr/^kx_http_requests_total\{service="gateway",route="agent",status="501"\} (\d+)$/m;
my ($n0) = $gw->http(GET => '/metrics')->{body} =~ $agent_re;
my ($h0) = $gw->http(GET => '/metrics')->{body}
    =~ /^kx_http_request_duration_seconds_count\{service="gateway",route="agent"\} (\d+)$/m;
$gw->http(GET => '/v1/agents', headers => \%auth) for 1 .. 5;
$r = $gw->http(GET => '/metrics');
is $r->{status}, 200, '/metrics 200';
like $r->{headers}{'content-type'}, qr{^text/plain}, 'Prometheus text';
my $m = $r->{body};
like $m, qr/^kx_http_requests_total\{service="gateway",route="agent",status="501"\} (\d+)$/m,
    'requests by route and status';
my ($n) = $m =~ $agent_re;
is $n - $n0, 5, 'the count is exact';
my ($h) = $m =~ /^kx_http_request_duration_seconds_count\{service="gateway",route="agent"\} (\d+)$/m;
is $h - $h0, 5, 'latency histogram count';
like $m, qr/^kx_http_request_duration_seconds_bucket\{service="gateway",route="agent",le="\+Inf"\} $h$/m,
    'histogram +Inf bucket equals the count';
like $m, qr/^kx_http_requests_total\{service="gateway",route="unknown",status="404"\} \d+$/m,
    'unknown routes counted';

# --- WebSocket through the gateway ----------------------------------------

my $ws = ws_connect($gw->ws_url('/ws?token=' . stack_token('user-gw-1')));
ok $ws && $ws->is_open, 'WebSocket upgrade through the gateway';
$ws->send_text('hello kianax');
is $ws->recv(5), 'hello kianax', 'frames pass both ways';
$ws->close;

# a plain GET on /ws keeps the upstream keepalive path working
$r = $gw->http(GET => '/v1/portfolio', headers => \%auth);
is $r->{status}, 200, 'plain requests still routed after a WebSocket';

kill 'TERM', $ws_pid;
waitpid $ws_pid, 0;

done_testing;

# ---------------------------------------------------------------------------

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return scalar <$fh>;
}

sub accepted {
    my ($ng) = @_;
    my $r = $ng->http(GET => '/metrics');
    my ($n) = $r->{body} =~ /^kx_nginx_connections_accepted_total\{[^}]*\} (\d+)$/m;
    return $n // 0;
}

# A one-connection-at-a-time WebSocket echo server in a child process.
sub ws_echo_server {
    my ($port) = @_;
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => $port, Listen => 16, ReuseAddr => 1)
        or die "listen $port: $!";
    my $pid = fork // die "fork: $!";
    if ($pid) {
        close $srv;
        return $pid;
    }
    $SIG{TERM} = sub { POSIX::_exit(0) };
    while (my $c = $srv->accept) {
        my $hs = Protocol::WebSocket::Handshake::Server->new;
        my $frame;
        while (sysread($c, my $buf, 65536)) {
            if (!$hs->is_done) {
                $hs->parse($buf);
                if ($hs->is_done) {
                    syswrite $c, $hs->to_string;
                    $frame = $hs->build_frame;
                }
                next;
            }
            $frame->append($buf);
            while (defined(my $msg = $frame->next)) {
                if ($frame->is_close) {
                    syswrite $c, $hs->build_frame(type => 'close')->to_bytes;
                    last;
                }
                syswrite $c, $hs->build_frame(buffer => $msg)->to_bytes;
            }
        }
        close $c;
    }
    POSIX::_exit(0);
}
