#!/usr/bin/perl

# ngx_http_kx_rate_limit_module's leases (mode=redis lease=N): a hot key
# spends tokens handed out ahead without asking Redis each time, the
# RateLimit-* headers still count down one by one, unspent tokens go back
# to Redis, and the answers stay exact: across two gateways and three
# workers, N of a burst pass and the rest are refused, never more, and
# never fewer because another worker sat on a lease.

use strict;
use warnings;

use Test::More;
use POSIX ();

use lib 't/lib';
use Kx::Test;
use Kx::Stack;

my $redis = start_redis();

my $conf = <<'EOF';
master_process on;
worker_processes %%WORKERS%%;
events { worker_connections 1024; }
http {
    kx_redis_addr %%REDIS_ADDR%%;
    kx_redis_timeout 2s;
    kx_jwt_key - HS256 env:KX_TEST_SECRET;

    # 60 an hour: nothing refills while a test runs
    kx_rate_limit_zone leased key=$kx_jwt_sub rate=60r/h burst=100 mode=redis lease=8;
    kx_rate_limit_zone tight  key=$kx_jwt_sub rate=60r/h burst=30 mode=redis lease=8;
    kx_rate_limit_zone exact  key=$kx_jwt_sub rate=60r/h burst=30 mode=redis;
    kx_rate_limit_zone closed key=$kx_jwt_sub rate=60r/h burst=100 mode=redis lease=8 fail=closed;

    server {
        listen 127.0.0.1:%%PORT%%;
        kx_jwt on;

        location /leased { kx_rate_limit leased; try_files /nonexistent =204; }
        location /tight  { kx_rate_limit tight;  try_files /nonexistent =204; }
        location /exact  { kx_rate_limit exact;  try_files /nonexistent =204; }
        location /closed { kx_rate_limit closed; try_files /nonexistent =204; }
    }
}
EOF

my %env = (KX_TEST_SECRET => $STACK_SECRET);
my $g1 = start_nginx($conf, redis => $redis, env => \%env, vars => { WORKERS => 2 });
my $g2 = start_nginx($conf, redis => $redis, env => \%env, vars => { WORKERS => 1 });

sub get {
    my ($ng, $path, $sub) = @_;
    return http(GET => $ng->url($path),
                headers => { Authorization => 'Bearer ' . stack_token($sub) });
}

sub evalsha_calls {
    my ($c) = $redis->command('INFO', 'commandstats') =~ /cmdstat_evalsha:calls=(\d+)/;
    my ($d) = $redis->command('INFO', 'commandstats') =~ /cmdstat_eval:calls=(\d+)/;
    return ($c // 0) + ($d // 0);
}

# the bucket in Redis: (requests its TAT stands for, tokens out on lease)
sub bucket {
    my ($key) = @_;
    my $s = $redis->command('GET', $key) // return (0, 0);
    my ($sec, $us) = @{ $redis->command('TIME') };
    my $now = $sec * 1e6 + $us;
    my ($tat, $out) = $s =~ /^(\d+)(?: (\d+) \d+)?$/ or die "bucket $key: $s";
    return (POSIX::ceil(($tat - $now) / 60e6 - 1e-9), $out // 0);
}

# --- a hot key on one worker: few calls, exact headers ---------------------

my $calls = evalsha_calls();
my @r = map { get($g2, '/leased', 'amy') } 1 .. 20;
my $used = evalsha_calls() - $calls;

is scalar(grep { $_->{status} == 204 } @r), 20, '20 of a burst of 100 pass';
is join(',', map { $_->{headers}{'ratelimit-remaining'} } @r),
    join(',', reverse 80 .. 99),
    'RateLimit-Remaining counts down by one, leased tokens or not';
cmp_ok $used, '<=', 6, "20 requests of a hot key: $used script calls";

my ($spent, $out) = bucket('kx:rl:leased:amy');
cmp_ok $out, '>', 0, "Redis counts $out tokens out on lease";
cmp_ok $spent, '>', 20, "and spent ($spent) until they come back";

# unspent tokens go back once the lease lapses (50 ms, then the tick)
ok wait_until(sub { (bucket('kx:rl:leased:amy'))[1] == 0 }, timeout => 3),
    'the lapsed lease is given back';
($spent) = bucket('kx:rl:leased:amy');
is $spent, 20, 'Redis counts exactly the 20 requests made';

my $next = get($g2, '/leased', 'amy');
is $next->{headers}{'ratelimit-remaining'}, 79, 'the next one sees 79 left';

# --- exact across two gateways and three workers ---------------------------

# one after another, round robin: 30 pass, the 31st and later refused
my @st = map { get($_ % 2 ? $g1 : $g2, '/tight', 'ben')->{status} } 1 .. 36;
is join('', map { $_ == 204 ? 'y' : 'n' } @st), ('y' x 30) . ('n' x 6),
    'sequential burst over two gateways: exactly the first 30 pass';
($spent) = bucket('kx:rl:tight:ben');
ok wait_until(sub { (bucket('kx:rl:tight:ben'))[1] == 0 }, timeout => 3),
    'no lease left out';
is +(bucket('kx:rl:tight:ben'))[0], 30, 'and Redis counts 30';

# concurrent: 60 requests at once from 12 clients spread over both gateways
sub burst {
    my ($path, $sub, $clients, $each) = @_;
    pipe my $rd, my $wr or die;
    my @pids;
    for my $i (1 .. $clients) {
        my $pid = fork // die;
        if (!$pid) {
            close $rd;
            my $out = '';
            for (1 .. $each) {
                $out .= get($i % 2 ? $g1 : $g2, $path, $sub)->{status} . "\n";
            }
            syswrite $wr, $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    close $wr;
    my @res = <$rd>;
    waitpid $_, 0 for @pids;
    chomp @res;
    return @res;
}

for my $case (['/tight', 'leases'], ['/exact', 'no leases (the reference)']) {
    my $user = "cat$case->[0]";
    $user =~ s{/}{}g;
    my @res = burst($case->[0], $user, 12, 5);
    is scalar(@res), 60, "$case->[1]: 60 answers";
    is scalar(grep { $_ == 204 } @res), 30, "$case->[1]: exactly 30 pass";
    is scalar(grep { $_ == 429 } @res), 30, "$case->[1]: 30 refused";
}

# a hot key that runs dry while another worker holds its lease: the
# refusal waits for that lease rather than refuse early
# (g2's 11th request renews its lease and leaves it unspent)
my @d = map { get($g2, '/tight', 'dan')->{status} } 1 .. 11;
is scalar(grep { $_ == 204 } @d), 11, 'g2: 11 pass';
(undef, $out) = bucket('kx:rl:tight:dan');
cmp_ok $out, '>', 0, "g2 holds a lease of $out tokens it does not spend";
my @e = map { get($g1, '/tight', 'dan')->{status} } 1 .. 25;
is scalar(grep { $_ == 204 } @d, @e), 30,
    'one gateway leases, the other drains: 30 pass in all';
is join('', map { $_ == 204 ? 'y' : 'n' } @e), ('y' x 19) . ('n' x 6),
    'the draining gateway gets what the other did not spend';

# --- Redis down and back -------------------------------------------------

# fan hot on g2: it holds a lease when Redis goes away
get($g2, '/closed', 'fan') for 1 .. 4;
(undef, $out) = bucket('kx:rl:closed:fan');
cmp_ok $out, '>', 0, 'fan holds a lease';
$redis->down;
select undef, undef, undef, 0.3;    # past the lease: the return fails
my @down = map { get($g2, '/closed', 'fan')->{status} } 1 .. 3;
is_deeply \@down, [503, 503, 503],
    'Redis down, the lease lapsed: fail=closed answers 503';
$redis->up;
ok wait_until(sub { get($g2, '/closed', 'fan')->{status} == 204 }, timeout => 10),
    'Redis back: requests pass again';
$calls = evalsha_calls();
my @up = map { get($g2, '/closed', 'fan')->{status} } 1 .. 10;
$used = evalsha_calls() - $calls;
is scalar(grep { $_ == 204 } @up), 10, 'all 10 pass';
cmp_ok $used, '<=', 5, "the key is leased again: $used script calls for 10";
ok wait_until(sub { (bucket('kx:rl:closed:fan'))[1] == 0 }, timeout => 3),
    'its lease goes back';
$g2->allow_log(qr/redis/i);

# --- the directive --------------------------------------------------------

my $bad = $conf;
$bad =~ s/mode=redis lease=8;/mode=local lease=8;/;
eval { start_nginx($bad, redis => $redis, env => \%env, vars => { WORKERS => 1 }) };
like $@, qr/lease= needs mode=redis/, 'lease= without mode=redis is refused';

done_testing;
