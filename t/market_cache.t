#!/usr/bin/perl

# The market data cache (modules/kx_market_cache.c) in front of the
# simulated provider: Redis keys with the seed's TTLs, hit and miss
# counters in /metrics, one provider call for many concurrent misses of a
# key (single flight), and a Redis outage that degrades to provider calls
# instead of errors.  The simulated provider is given 300 ms of latency
# (kx_market_sim_latency) so that concurrent misses really overlap.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time sleep);

use lib 't/lib';
use Kx::Test;

my $redis = start_redis();

my $ng = start_nginx(<<'CONF', redis => $redis);
master_process on;
worker_processes 1;
thread_pool kx_market threads=2;
events { worker_connections 1024; }
http {
    access_log off;

    kx_service market;
    kx_redis_addr %%REDIS_ADDR%%;
    kx_redis_timeout 1s;
    kx_redis_backoff 50ms 200ms;

    kx_market_sim_latency 300ms;
    kx_market_thread_pool kx_market;
    # no publisher: every quote read below is the cache's doing
    kx_market_publish_interval 0;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /v1/ { kx_route market; kx_market; }
        location = /metrics { kx_metrics; }
    }
}
CONF

my $port = $ng->port;

sub get { return $ng->http(GET => $_[0], timeout => 10) }

# counter name => kind => value
sub counters {
    my $text = get('/metrics')->{body};
    my %c;
    while ($text =~ /^(kx_market_\w+)\{service="market",kind="(\w+)"\} (\d+)$/mg) {
        $c{$1}{$2} = $3;
    }
    return \%c;
}

# the PTTL of a key, once it is there: the answer may reach us before
# Redis has the SET that went out with it (another connection)
sub pttl {
    my ($key) = @_;
    my $v;
    wait_until(sub { $v = $redis->command('PTTL', $key); $v > 0 },
               timeout => 2, interval => 0.01);
    return $v;
}

sub count {
    my ($c, $name, $kind) = @_;
    return $c->{"kx_market_$name"}{$kind} // 0;
}

# --- quotes: a miss, then hits, with the seed's 1 s TTL -------------------

my $c0 = counters();
my $t = time;
my $r = get('/v1/quotes/AAPL');
my $miss_secs = time - $t;
is $r->{status}, 200, 'first quote 200';
is $r->{json}{symbol}, 'AAPL', '... AAPL';
cmp_ok $miss_secs, '>=', 0.25, sprintf('... a miss asks the provider (%.3f s)', $miss_secs);

my $pttl = pttl('kx:mkt:sim-42-always:quote:AAPL');
ok $pttl > 0 && $pttl <= 1000, "quote cached with a TTL of at most 1 s ($pttl ms)";
is $redis->command('GET', 'kx:mkt:sim-42-always:quote:AAPL'), $r->{body},
    'the cached value is the response body';

$t = time;
my $r2 = get('/v1/quotes/AAPL');
my $hit_secs = time - $t;
is $r2->{body}, $r->{body}, 'a hit answers the same bytes';
cmp_ok $hit_secs, '<', 0.2, sprintf('... without the provider (%.3f s)', $hit_secs);

my $c1 = counters();
is count($c1, 'cache_misses_total', 'quote') - count($c0, 'cache_misses_total', 'quote'),
    1, 'quote misses +1';
is count($c1, 'cache_hits_total', 'quote') - count($c0, 'cache_hits_total', 'quote'),
    1, 'quote hits +1';
is count($c1, 'provider_calls_total', 'quote')
   - count($c0, 'provider_calls_total', 'quote'), 1, 'one provider call';

sleep 1.1;
$r = get('/v1/quotes/AAPL');
my $c2 = counters();
is count($c2, 'cache_misses_total', 'quote') - count($c1, 'cache_misses_total', 'quote'),
    1, 'after the TTL: a miss again';
isnt $r->{json}{timestamp}, $r2->{json}{timestamp}, '... and a newer quote';

# --- batch: every symbol through the same cache ----------------------------

$r = get('/v1/quotes/batch?symbols=AAPL,TSLA,MSFT');
is $r->{status}, 200, 'batch 200';
is_deeply [sort keys %{ $r->{json}{quotes} }], [qw(AAPL MSFT TSLA)], '... all three';
is $r->{json}{quotes}{AAPL}{timestamp}, get('/v1/quotes/AAPL')->{json}{timestamp},
    '... AAPL as cached';
ok pttl('kx:mkt:sim-42-always:quote:TSLA') > 0, '... TSLA cached too';

$r = get('/v1/quotes/batch?symbols=AAPL,NOPE');
is $r->{status}, 422, 'batch with an unknown symbol still 422';

# --- history: 1 h TTL, key independent of the clock ------------------------

$c0 = counters();
$r = get('/v1/history/MSFT?timeframe=1d&limit=30');
is $r->{status}, 200, 'history 200';
is scalar @{ $r->{json}{bars} }, 30, '... 30 bars';
# the answer may reach us before Redis has the SET (another connection)
my @hkeys;
wait_until(sub {
    @hkeys = grep { !/:lock$/ }
             @{ $redis->command('KEYS', 'kx:mkt:sim-42-always:history:MSFT:*') };
    @hkeys && $redis->command('EXISTS', $hkeys[0]) }, timeout => 2);
is scalar @hkeys, 1, 'one history key';
$pttl = pttl($hkeys[0]);
ok $pttl > 3_500_000 && $pttl <= 3_600_000, "history TTL 1 h ($pttl ms)";

$r2 = get('/v1/history/MSFT?timeframe=1d&limit=30');
is $r2->{body}, $r->{body}, 'the same history again: same bytes';
$c1 = counters();
is count($c1, 'cache_hits_total', 'history') - count($c0, 'cache_hits_total', 'history'),
    1, '... a history hit';
is count($c1, 'cache_misses_total', 'history') - count($c0, 'cache_misses_total', 'history'),
    1, '... after one miss';

# --- indicators and news ----------------------------------------------------

$r = get('/v1/indicators/MSFT/sma?period=5&limit=10');
is $r->{status}, 200, 'indicator 200';
is $r->{json}{indicator}, 'sma', '... sma';
is scalar @{ $r->{json}{values} }, 10, '... 10 values';
is get('/v1/indicators/MSFT/sma?period=5&limit=10')->{body}, $r->{body},
    '... cached';
my @ikeys;
wait_until(sub {
    @ikeys = grep { !/:lock$/ }
             @{ $redis->command('KEYS', 'kx:mkt:sim-42-always:ind:MSFT:*') };
    @ikeys && $redis->command('EXISTS', $ikeys[0]) }, timeout => 2);
is scalar @ikeys, 1, 'one indicator key';
ok pttl($ikeys[0]) > 3_500_000, '... 1 h TTL';

$r = get('/v1/indicators/MSFT/macd?limit=5');
is $r->{status}, 200, 'macd 200';
ok defined $r->{json}{values}[0]{histogram}, '... with a histogram';

$r = get('/v1/news/TSLA?limit=5');
is $r->{status}, 200, 'news 200';
ok $r->{json}{news}, '... a news list';
$pttl = pttl('kx:mkt:sim-42-always:news:TSLA:5:latest');
ok $pttl > 290_000 && $pttl <= 300_000, "news TTL 5 min ($pttl ms)";
is get('/v1/news/TSLA?limit=5')->{body}, $r->{body}, '... cached';

# validation still answers before any cache work
is get('/v1/history/MSFT?timeframe=2d')->{status}, 422, 'bad timeframe 422';
is get('/v1/quotes/NOPE')->{status}, 404, 'unknown symbol 404';
is get('/v1/indicators/MSFT/xyz')->{status}, 404, 'unknown indicator 404';

# --- single flight: 20 concurrent misses, one provider call ----------------

for my $kind (
    [history => '/v1/history/NVDA?timeframe=1h&limit=50'],
    [quote => '/v1/quotes/NVDA'],
    [news => '/v1/news/NVDA?limit=3'],
    [indicator => '/v1/indicators/NVDA/rsi?limit=20'],
) {
    my ($k, $path) = @$kind;
    $c0 = counters();
    my @res = http_concurrent($port, [($path) x 20], 10);
    is scalar(grep { $_->{status} == 200 } @res), 20, "$k: 20 concurrent misses all 200";
    my %bodies = map { $_->{body} => 1 } @res;
    is scalar keys %bodies, 1, "$k: ... with one and the same body";
    $c1 = counters();
    is count($c1, 'provider_calls_total', $k) - count($c0, 'provider_calls_total', $k),
        1, "$k: ... from ONE provider call";
    is count($c1, 'cache_misses_total', $k) - count($c0, 'cache_misses_total', $k),
        20, "$k: ... 20 misses counted";
}

# a long range is computed in the thread pool, not on the event loop
{
    my $before = get('/metrics')->{body} =~ /^kx_market_sim_thread_tasks_total\{service="market"\} (\d+)$/m ? $1 : 0;
    my $r = get('/v1/history/AAPL?timeframe=1d&limit=130');
    is $r->{status}, 200, 'a long history (130 days of minutes) 200';
    is scalar @{ $r->{json}{bars} }, 130, '... 130 bars';
    my $after = get('/metrics')->{body} =~ /^kx_market_sim_thread_tasks_total\{service="market"\} (\d+)$/m ? $1 : 0;
    is $after - $before, 1, '... computed in the thread pool';
    is get('/v1/history/AAPL?timeframe=1d&limit=30')->{json}{bars}[-1]{t},
       $r->{json}{bars}[-1]{t}, '... ending with the same bar as a short range';
    my $short = get('/v1/history/AAPL?timeframe=1d&limit=30')->{json}{bars};
    is_deeply [ @{ $r->{json}{bars} }[100 .. 129] ], $short,
        '... and the same bars (thread or loop)';
}

# a client that leaves before the answer does not stop the flight
{
    my ($s) = http_start($port, '/v1/history/AMD?timeframe=1d&limit=10');
    sleep 0.05;
    close $s;
    ok wait_until(sub { my $k = $redis->command('KEYS', 'kx:mkt:sim-42-always:history:AMD:*');
                        (grep { !/:lock$/ } @$k) == 1 }, timeout => 3),
        'a client gone mid-flight: the answer still fills the cache';
}

# --- across workers: a Redis lock makes it one call per instance ----------

{
    my $two = start_nginx(<<'CONF2', redis => $redis);
master_process on;
worker_processes 2;
events { worker_connections 1024; }
http {
    access_log off;
    kx_service market2;
    kx_redis_addr %%REDIS_ADDR%%;
    kx_market_seed 7;
    kx_market_sim_latency 300ms;
    kx_market_publish_interval 0;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        add_header X-Worker $pid always;
        location /v1/ { kx_route market; kx_market; }
        location = /metrics { kx_metrics; }
    }
}
CONF2
    my $calls = sub {
        my $text = $two->http(GET => '/metrics')->{body};
        return $text =~ /^kx_market_provider_calls_total\{service="market2",kind="history"\} (\d+)$/m ? $1 : 0;
    };
    my $c = $calls->();
    my @res = http_concurrent($two->port, [('/v1/history/ORCL?timeframe=1d&limit=40') x 30], 10);
    my %pids = map { ($_->{headers}{'x-worker'} // '') => 1 } @res;
    is scalar(grep { $_->{status} == 200 } @res), 30, '2 workers: 30 concurrent misses 200';
    cmp_ok scalar(keys %pids), '>=', 2, '... served by both workers';
    my %bodies = map { $_->{body} => 1 } @res;
    is scalar keys %bodies, 1, '... one body';
    is $calls->() - $c, 1, '... ONE provider call across the workers (Redis lock)';
    ok wait_until(sub { !@{ $redis->command('KEYS', 'kx:mkt:sim-7-always:*:lock') } },
                  timeout => 2),
        '... and the lock is gone';
    $two->stop;
}

# a lock whose holder never answers: wait for it to expire, then ask
{
    $redis->command('SET', 'kx:mkt:sim-42-always:quote:AMZN:lock', 'x',
                    'PX', 800);
    my $t0 = time;
    my $r = get('/v1/quotes/AMZN');
    my $secs = time - $t0;
    is $r->{status}, 200, 'a stale lock: still 200';
    ok $secs >= 0.75 && $secs < 3, sprintf('... after the lock expired (%.2f s)', $secs);
}

# --- Redis down: answers from the provider, never errors -------------------

$redis->down;
sleep 0.1;

$c0 = counters();
for my $path ('/v1/quotes/AAPL', '/v1/quotes/batch?symbols=AAPL,TSLA',
              '/v1/history/MSFT?timeframe=1d&limit=30',
              '/v1/indicators/MSFT/sma?period=5&limit=10',
              '/v1/news/TSLA?limit=5')
{
    $t = time;
    $r = get($path);
    is $r->{status}, 200, "redis down: $path 200";
    cmp_ok time - $t, '<', 2, '... promptly';
}
is get('/v1/history/MSFT?timeframe=1d&limit=30')->{body},
   $r2->{body}, 'redis down: history is the same as cached before';
$c1 = counters();
cmp_ok count($c1, 'cache_misses_total', 'quote') - count($c0, 'cache_misses_total', 'quote'),
    '>=', 3, 'redis down: quote reads count as misses';
is count($c1, 'cache_hits_total', 'quote') - count($c0, 'cache_hits_total', 'quote'),
    0, '... and never as hits';

# concurrent misses still fly once without Redis
$c0 = counters();
my @res = http_concurrent($port, [('/v1/history/INTC?timeframe=1d&limit=20') x 10], 10);
is scalar(grep { $_->{status} == 200 } @res), 10, 'redis down: 10 concurrent reads 200';
$c1 = counters();
is count($c1, 'provider_calls_total', 'history') - count($c0, 'provider_calls_total', 'history'),
    1, '... one provider call';

$redis->up;
ok wait_until(sub {
        get('/v1/quotes/GOOGL')->{status} == 200
            && defined $redis->command('GET', 'kx:mkt:sim-42-always:quote:GOOGL') },
        timeout => 5),
    'redis back: the cache fills again';

$ng->stop;

done_testing;
