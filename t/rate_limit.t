#!/usr/bin/perl

# ngx_http_kx_rate_limit_module: exact bursts per user, users independent,
# anonymous callers keyed by address (a spoofed X-Forwarded-For changes
# nothing), the RateLimit-* headers, two gateways sharing one budget
# through Redis, and the fail-open / fail-closed modes when Redis is down.

use strict;
use warnings;

use Test::More;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use POSIX ();
use IO::Socket::INET;
use IO::Select;
use List::Util ();

use lib 't/lib';
use Kx::Test;

my $secret = 'rate-limit-test-secret-0123456789';
my $redis = start_redis();

my $conf = <<'EOF';
master_process on;
worker_processes %%WORKERS%%;
events { worker_connections 1024; }
http {
    kx_redis_addr %%REDIS_ADDR%%;
    kx_redis_timeout 500ms;
    kx_jwt_key - HS256 env:KX_TEST_SECRET;

    map $kx_jwt_sub $kx_rl_key {
        ''          $remote_addr;
        default     $kx_jwt_sub;
    }

    kx_rate_limit_zone general key=$kx_rl_key rate=60r/m burst=5;
    kx_rate_limit_zone shared key=$kx_rl_key rate=60r/m burst=5 mode=redis fail=open;
    kx_rate_limit_zone strict key=$kx_rl_key rate=60r/m burst=3 mode=redis fail=closed;

    server {
        listen 127.0.0.1:%%PORT%%;
        kx_jwt optional;

        location /local  { kx_rate_limit general; return 204; }
        location /shared { kx_rate_limit shared;  return 204; }
        location /strict { kx_rate_limit strict;  return 204; }
        location /none   { return 204; }
    }
}
EOF

# "return" answers in the rewrite phase, before access: serve from try_files
$conf =~ s/return 204;/try_files \/nonexistent =204;/g;

my %env = (KX_TEST_SECRET => $secret);
my $g1 = start_nginx($conf, redis => $redis, env => \%env, vars => { WORKERS => 2 });
my $g2 = start_nginx($conf, redis => $redis, env => \%env, vars => { WORKERS => 1 });

sub token {
    my ($sub) = @_;
    my $h = encode_base64url(json_encode({ alg => 'HS256', typ => 'JWT' }));
    my $p = encode_base64url(json_encode({ sub => $sub, exp => time + 600 }));
    return "$h.$p." . encode_base64url(hmac_sha256("$h.$p", $secret));
}

sub get {
    my ($ng, $path, $sub, %h) = @_;
    $h{Authorization} = 'Bearer ' . token($sub) if defined $sub;
    return http(GET => $ng->url($path), headers => \%h);
}

# --- local: exact burst, per user -----------------------------------------

my @st = map { get($g1, '/local', 'alice')->{status} } 1 .. 6;
is_deeply \@st, [204, 204, 204, 204, 204, 429], 'alice: 5 pass, the 6th is refused';

my $r = get($g1, '/local', 'alice');
is $r->{status}, 429, 'still refused';
is $r->{json}{error}{code}, 'rate_limited', 'JSON error';
cmp_ok $r->{headers}{'retry-after'}, '>=', 1, 'Retry-After';
cmp_ok $r->{headers}{'retry-after'}, '<=', 2, 'Retry-After about one interval (1 s)';
is $r->{headers}{'ratelimit-remaining'}, 0, 'RateLimit-Remaining 0';

$r = get($g1, '/local', 'bob');
is $r->{status}, 204, 'bob has his own budget';
is $r->{headers}{'ratelimit-limit'}, 5, 'RateLimit-Limit';
is $r->{headers}{'ratelimit-remaining'}, 4, 'RateLimit-Remaining counts down';
is $r->{headers}{'x-ratelimit-remaining'}, 4, 'X-RateLimit-Remaining too';
cmp_ok $r->{headers}{'ratelimit-reset'}, '>=', 1, 'RateLimit-Reset';

$r = get($g1, '/none', 'alice');
is $r->{status}, 204, 'unlimited locations are not limited';
ok !exists $r->{headers}{'ratelimit-limit'}, 'and carry no RateLimit headers';

# concurrent burst over two workers: exactly 5 of 12 pass
my @pids;
pipe my $rd, my $wr or die;
for my $i (1 .. 12) {
    my $pid = fork // die;
    if (!$pid) {
        close $rd;
        my $s = get($g1, '/local', 'carol')->{status};
        syswrite $wr, "$s\n";
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
close $wr;
waitpid $_, 0 for @pids;
my @res = <$rd>;
chomp @res;
is scalar(grep { $_ == 204 } @res), 5, '12 concurrent requests: exactly 5 pass';
is scalar(grep { $_ == 429 } @res), 7, 'and 7 are refused';

# anonymous: keyed by address; X-Forwarded-For is not trusted
my @anon = map {
    get($g1, '/local', undef, 'X-Forwarded-For' => "10.0.0.$_")->{status}
} 1 .. 6;
is_deeply \@anon, [204, 204, 204, 204, 204, 429],
    'anonymous callers share their address\'s budget whatever XFF says';

# --- redis: two gateways, one budget --------------------------------------

my @both = map { get($_ % 2 ? $g1 : $g2, '/shared', 'dave')->{status} } 1 .. 8;
is scalar(grep { $_ == 204 } @both), 5, 'two gateways in cluster mode: 5 pass in all';
is $both[-1], 429, 'the rest refused on either gateway';
ok((grep { $_ eq 'kx:rl:shared:dave' } @{ $redis->command('KEYS', 'kx:rl:*') }),
   'the bucket lives in Redis');

$r = get($g2, '/shared', 'erin');
is $r->{headers}{'ratelimit-remaining'}, 4, 'redis mode sends the headers too';

my $stats = $redis->command('INFO', 'commandstats');
my ($evalsha) = $stats =~ /cmdstat_evalsha:calls=(\d+)/;
my ($eval) = $stats =~ /cmdstat_eval:calls=(\d+)/;
cmp_ok $evalsha // 0, '>=', 9, 'the script runs by its SHA-1 (EVALSHA)';
cmp_ok $eval // 0, '<=', 3, 'and is sent whole only when Redis lacks it';

# --- redis: one script call per turn of the event loop --------------------

# Every request reaches g2's only worker in ONE epoll wakeup: the
# connections are accepted first, the worker is stopped while all the
# requests are written, then continued.
sub at_once {
    my ($ng, @reqs) = @_;
    my @s = map {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ng->port,
                              Proto => 'tcp', Timeout => 10) or die "connect: $!"
    } @reqs;
    select undef, undef, undef, 0.3;            # accepted, waiting for bytes
    $ng->kill_stop;
    for my $i (0 .. $#reqs) {
        my ($path, $sub) = @{ $reqs[$i] };
        syswrite $s[$i], "GET $path HTTP/1.0\r\nHost: 127.0.0.1\r\n"
            . 'Authorization: Bearer ' . token($sub) . "\r\n\r\n";
    }
    $ng->kill_cont;
    return map {
        my ($s, $buf) = ($_, '');
        my $sel = IO::Select->new($s);
        while ($sel->can_read(10)) { sysread($s, $buf, 65536, length $buf) or last }
        close $s;
        parse_http_response($buf) // { status => 0, headers => {} };
    } @s;
}

sub evalsha_calls {
    my ($c) = $redis->command('INFO', 'commandstats') =~ /cmdstat_evalsha:calls=(\d+)/;
    return $c // 0;
}

# the slow log keeps every command's arguments: the calls' key counts
$redis->command('CONFIG', 'SET', 'slowlog-log-slower-than', '0');
$redis->command('SLOWLOG', 'RESET');
my $calls = evalsha_calls();
my @once = at_once($g2, map { ['/shared', $_ % 2 ? 'ivan' : 'judy'] } 1 .. 16);
my $used = evalsha_calls() - $calls;
my @numkeys = map { $_->[3][2] } grep { $_->[3][0] =~ /^EVAL/i }
              @{ $redis->command('SLOWLOG', 'GET', '-1') };
$redis->command('CONFIG', 'SET', 'slowlog-log-slower-than', '10000');
for my $u (['ivan', 1], ['judy', 0]) {
    my @mine = grep { $_ % 2 == $u->[1] } 0 .. 15;
    my @pass = grep { $once[$_]{status} == 204 } @mine;
    is scalar(@pass), 5, "one batch of 16: exactly 5 of $u->[0]'s 8 pass";
    is scalar(grep { $once[$_]{status} == 429 } @mine), 3, 'the other 3 are refused';
    is join(',', sort map { $once[$_]{headers}{'ratelimit-remaining'} } @pass),
        '0,1,2,3,4', 'each request got its own answer (RateLimit-Remaining)';
}
cmp_ok $used, '>=', 1, 'the checks went to Redis';
cmp_ok $used, '<=', 2, "16 checks in one turn: $used script call(s), not 16";
is scalar(@numkeys), $used, 'the slow log saw those calls';
cmp_ok List::Util::sum(@numkeys), '<=', 2 * $used,
    "each sends a user's key once, with its count (keys: @numkeys)";
is get($g1, '/shared', 'ivan')->{status}, 429,
    'the other gateway sees the same, spent budget';

# two policies in one call (the script groups the keys by policy)
$calls = evalsha_calls();
my @mixed = at_once($g2, map { [$_ % 2 ? '/shared' : '/strict', 'pia'] } 1 .. 12);
my @sh = map { $mixed[$_]{status} } grep { $_ % 2 == 0 } 0 .. 11;
my @strict = map { $mixed[$_]{status} } grep { $_ % 2 == 1 } 0 .. 11;
is scalar(grep { $_ == 204 } @sh), 5, 'mixed call: 5 of 6 pass the shared policy (burst 5)';
is scalar(grep { $_ == 204 } @strict), 3, 'and 3 of 6 the strict one (burst 3)';
is join(',', sort map { $mixed[$_]{headers}{'ratelimit-remaining'} }
                  grep { $_ % 2 == 1 && $mixed[$_]{status} == 204 } 0 .. 11),
    '0,1,2', 'each with its own policy\'s count';
cmp_ok evalsha_calls() - $calls, '<=', 2, 'in one script call';

# one call in flight per worker: checks arriving in later turns while it
# is (Redis stopped briefly; a long timeout so nothing fails) wait for its
# answer and go out together, still in arrival order
(my $conf3 = $conf) =~ s/kx_redis_timeout 500ms/kx_redis_timeout 10s/;
my $g3 = start_nginx($conf3, redis => $redis, env => \%env, vars => { WORKERS => 1 });
is get($g3, '/shared', 'olga')->{status}, 204, 'a third gateway, connected';
$calls = evalsha_calls();
$redis->kill_stop;
my @inflight;
for my $i (1 .. 7) {
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $g3->port,
                                  Proto => 'tcp', Timeout => 10) or die;
    syswrite $c, "GET /shared HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        . token('nora') . "\r\n\r\n";
    push @inflight, $c;
    select undef, undef, undef, 0.05;
}
$redis->kill_cont;
my @late = map {
    my ($s, $buf) = ($_, '');
    my $sel = IO::Select->new($s);
    while ($sel->can_read(15)) { sysread($s, $buf, 65536, length $buf) or last }
    close $s;
    (parse_http_response($buf) // { status => 0 })->{status};
} @inflight;
is_deeply \@late, [204, 204, 204, 204, 204, 429, 429],
    '7 checks over 7 turns: exactly 5 pass, in arrival order';
is evalsha_calls() - $calls, 2,
    'the first call, then ONE for the 6 that came while it was in flight';

# Redis stalls: the batch times out and every request in it fails as
# configured (closed: 503), none hangs
$redis->kill_stop;
my @stalled = at_once($g2, map { ['/strict', "kate$_"] } 1 .. 4);
$redis->kill_cont;
is_deeply [map { $_->{status} } @stalled], [503, 503, 503, 503],
    'Redis stalled: every request of the batch fails closed (503)';
wait_until(sub { get($g2, '/strict', 'liam')->{status} == 204 }, timeout => 10);

# --- redis down ----------------------------------------------------------

$redis->down;
$r = get($g1, '/shared', 'dave');
is $r->{status}, 204, 'fail=open: passes while Redis is down';
$r = get($g1, '/strict', 'frank');
is $r->{status}, 503, 'fail=closed: refused while Redis is down';
is $r->{json}{error}{code}, 'service_unavailable', 'fail=closed: JSON 503';
$r = get($g1, '/local', 'gina');
is $r->{status}, 204, 'local policies do not care';

$redis->up;
wait_until(sub { get($g1, '/strict', 'henry')->{status} == 204 }, timeout => 10);
$r = get($g1, '/strict', 'henry');
is $r->{status}, 204, 'fail=closed passes again once Redis is back';

$g1->allow_log(qr/redis/i);
$g2->allow_log(qr/redis/i);

done_testing;
