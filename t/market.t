#!/usr/bin/perl

# The market data service (ngx_http_kx_market_module) in the shipped
# market.conf, over the built-in simulated market: symbols, quotes, batch
# quotes, history, indicators and news, their errors, and the same routes
# through the shipped gateway.

use strict;
use warnings;

use Test::More;
use Time::HiRes ();

use lib 't/lib';
use Kx::Test;
use Kx::Stack;

my $ports = stack_ports();
my $pg = start_pg();
my $redis = start_redis();

my $mkt = start_instance('market', ports => $ports, pg => $pg,
                         redis => $redis);
my $gw = start_instance('gateway', ports => $ports, pg => $pg,
                        redis => $redis);

my %auth = (Authorization => 'Bearer ' . stack_token('user-mkt-1'));

sub get {
    my ($path, %o) = @_;
    return $mkt->http(GET => $path, headers => { %auth, %{ $o{headers} // {} } });
}

sub is_422 {
    my ($r, $param, $name) = @_;
    is $r->{status}, 422, "$name: 422";
    is $r->{json}{error}{code}, 'validation_failed', "$name: code";
    like $r->{json}{error}{message} // '', qr/^\Q$param\E:/,
        "$name: names $param";
}

my $dec = qr/^-?\d+\.\d+$/;

# --- identity -------------------------------------------------------------

my $r = $mkt->http(GET => '/v1/quotes/AAPL');
is $r->{status}, 401, 'no token: 401';
is $r->{json}{error}{code}, 'unauthorized', 'JSON 401';

# --- symbols --------------------------------------------------------------

$r = get('/v1/symbols');
is $r->{status}, 200, 'GET /v1/symbols 200';
my @syms = map { $_->{symbol} } @{ $r->{json}{symbols} // [] };
cmp_ok scalar @syms, '>=', 50, 'at least 50 symbols';
ok((grep { $_ eq 'AAPL' } @syms) && (grep { $_ eq 'TSLA' } @syms)
   && (grep { $_ eq 'MSFT' } @syms), 'AAPL, TSLA, MSFT listed');
ok defined $r->{json}{symbols}[0]{name}, 'symbols carry names';

# --- quotes ---------------------------------------------------------------

$r = get('/v1/quotes/AAPL');
is $r->{status}, 200, 'GET /v1/quotes/AAPL 200';
my $q = $r->{json} // {};
is $q->{symbol}, 'AAPL', 'symbol';
for my $f (qw(bid ask price change_percent)) {
    like $q->{$f} // '', $dec, "$f is a decimal string";
}
for my $f (qw(bid_size ask_size)) {
    like $q->{$f} // '', qr/^\d+$/, "$f is an integer";
}
like $q->{timestamp} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    'timestamp is ISO 8601 UTC';
cmp_ok $q->{bid}, '<=', $q->{ask}, 'bid <= ask';

Time::HiRes::sleep(1.1);
$r = get('/v1/quotes/AAPL');
isnt $r->{json}{timestamp}, $q->{timestamp},
    'a second later the quote is newer';

$r = get('/v1/quotes/aapl');
is $r->{json}{symbol}, 'AAPL', 'symbols are case-insensitive';

$r = get('/v1/quotes/FOO');
is $r->{status}, 404, 'unknown symbol 404';
is $r->{json}{error}{code}, 'not_found', 'not_found';
is $r->{json}{error}{message}, 'unknown symbol FOO', 'names the symbol';

$r = $mkt->http(DELETE => '/v1/quotes/AAPL', headers => \%auth);
is $r->{status}, 405, 'DELETE quote 405';
is $r->{json}{error}{code}, 'method_not_allowed', '405 is JSON';

$r = $mkt->http(POST => '/v1/quotes/AAPL', headers => \%auth, json => {});
is $r->{status}, 405, 'POST to a single quote 405';

for my $path ('/v1/quotes', '/v1/quotes/', '/v1/quotes/AAPL/x',
              '/v1/symbols/AAPL', '/v1/history', '/v1/newsfeed')
{
    $r = get($path);
    is $r->{status}, 404, "$path 404";
    is $r->{json}{error}{code}, 'not_found', "$path: JSON";
}

# --- batch quotes ---------------------------------------------------------

$r = get('/v1/quotes/batch?symbols=AAPL,TSLA,AAPL');
is $r->{status}, 200, 'GET batch 200';
is_deeply [sort keys %{ $r->{json}{quotes} // {} }], [qw(AAPL TSLA)],
    'GET batch: both symbols, once each';
is $r->{json}{quotes}{TSLA}{symbol}, 'TSLA', 'batch quote objects';
like $r->{json}{quotes}{AAPL}{price} // '', $dec, 'batch quote prices';

$r = get('/v1/quotes/batch?symbols=AAPL%2Cmsft');
is_deeply [sort keys %{ $r->{json}{quotes} // {} }], [qw(AAPL MSFT)],
    'GET batch: encoded comma, lower case';

$r = $mkt->http(POST => '/v1/quotes/batch', headers => \%auth,
                json => { symbols => [qw(MSFT TSLA)] });
is $r->{status}, 200, 'POST batch 200';
is_deeply [sort keys %{ $r->{json}{quotes} // {} }], [qw(MSFT TSLA)],
    'POST batch: both symbols';

is_422(get('/v1/quotes/batch'), 'symbols', 'GET batch without symbols');
is_422(get('/v1/quotes/batch?symbols='), 'symbols', 'GET batch, empty list');
is_422($mkt->http(POST => '/v1/quotes/batch', headers => \%auth,
                  json => { symbols => [] }),
       'symbols', 'POST batch, empty list');
is_422($mkt->http(POST => '/v1/quotes/batch', headers => \%auth,
                  json => { tickers => ['AAPL'] }),
       'symbols', 'POST batch without symbols');
is_422($mkt->http(POST => '/v1/quotes/batch', headers => \%auth,
                  json => { symbols => ['AAPL', 7] }),
       'symbols', 'POST batch with a number');
is_422($mkt->http(POST => '/v1/quotes/batch', headers => \%auth,
                  json => { symbols => [('AAPL') x 101] }),
       'symbols', 'POST batch of 101');
is_422(get('/v1/quotes/batch?symbols=' . join(',', ('AAPL') x 101)),
       'symbols', 'GET batch of 101');

$r = get('/v1/quotes/batch?symbols=AAPL,FOO,BARX');
is_422($r, 'symbols', 'batch with unknown symbols');
like $r->{json}{error}{message}, qr/FOO, BARX/, 'names every unknown one';

$r = $mkt->http(PUT => '/v1/quotes/batch', headers => \%auth, json => {});
is $r->{status}, 405, 'PUT batch 405';

# --- history --------------------------------------------------------------

sub check_bars {
    my ($bars, $name, $now) = @_;
    my ($ok, $inc, $past) = (1, 1, 1);
    for my $i (0 .. $#$bars) {
        my $b = $bars->[$i];
        my ($o, $h, $l, $c) = @$b{qw(o h l c)};
        $ok = 0 unless $h >= ($o > $c ? $o : $c)
                   && ($o < $c ? $o : $c) >= $l && $l > 0 && $b->{v} > 0;
        $inc = 0 if $i && $b->{t} <= $bars->[$i - 1]{t};
        $past = 0 if $b->{t} > $now;
    }
    ok $ok, "$name: h >= max(o,c) >= min(o,c) >= l";
    ok $inc, "$name: t increases";
    ok $past, "$name: no bar after now";
}

my $now = int(Time::HiRes::time() * 1000);
$r = get('/v1/history/AAPL');
is $r->{status}, 200, 'history 200';
is $r->{json}{symbol}, 'AAPL', 'history symbol';
is $r->{json}{timeframe}, '1d', 'default timeframe 1d';
my $bars = $r->{json}{bars} // [];
is scalar @$bars, 100, 'default limit 100 bars';
like $bars->[0]{o} // '', $dec, 'prices are decimal strings';
check_bars($bars, 'daily', $now);
cmp_ok $bars->[-1]{t} + 86400000, '<=', $now + 1000,
    'only completed bars (the last one ended before now)';

for my $tf (qw(1m 5m 15m 1h)) {
    $now = int(Time::HiRes::time() * 1000);
    $r = get("/v1/history/TSLA?timeframe=$tf&limit=50");
    is $r->{status}, 200, "history $tf 200";
    is $r->{json}{timeframe}, $tf, "history $tf timeframe";
    is scalar @{ $r->{json}{bars} // [] }, 50, "history $tf: 50 bars";
    check_bars($r->{json}{bars} // [], "history $tf", $now);
}

# to in the future is capped at now
$now = int(Time::HiRes::time() * 1000);
$r = get('/v1/history/MSFT?timeframe=1m&limit=5&to=' . ($now + 86400000));
is scalar @{ $r->{json}{bars} // [] }, 5, 'future to: 5 bars';
check_bars($r->{json}{bars} // [], 'future to', $now);

# an explicit range, in ISO 8601 and in epoch ms: the same bars
$r = get('/v1/history/AAPL?timeframe=1h&from=2025-03-03T00:00:00Z'
         . '&to=2025-03-04T00:00:00Z&limit=1000');
is $r->{status}, 200, 'ISO range 200';
my $iso = $r->{json}{bars} // [];
is scalar @$iso, 24, 'a UTC day holds 24 hourly bars (always hours)';
is $iso->[0]{t}, 1740960000000, 'the first starts at from';
$r = get('/v1/history/AAPL?timeframe=1h&from=1740960000000'
         . '&to=1741046400000&limit=1000');
is_deeply $r->{json}{bars}, $iso, 'epoch ms range gives the same bars';
check_bars($iso, 'ISO range', $now);

$r = get('/v1/history/AAPL?timeframe=1h&from=2025-03-03&limit=3');
is scalar @{ $r->{json}{bars} // [] }, 3, 'from with limit: the first 3';
is $r->{json}{bars}[0]{t}, 1740960000000, 'from a date';

$r = get('/v1/history/AAPL?from=2099-01-01');
is_deeply $r->{json}{bars}, [], 'a range in the future is empty';

is_422(get('/v1/history/AAPL?timeframe=2m'), 'timeframe', 'bad timeframe');
is_422(get('/v1/history/AAPL?limit=0'), 'limit', 'limit 0');
is_422(get('/v1/history/AAPL?limit=5001'), 'limit', 'limit 5001');
is_422(get('/v1/history/AAPL?limit=ten'), 'limit', 'limit not a number');
is_422(get('/v1/history/AAPL?from=yesterday'), 'from', 'bad from');
is_422(get('/v1/history/AAPL?to=2025-02-30'), 'to', 'to not a date');
is_422(get('/v1/history/AAPL?to=2025-03-01T10:00'), 'to',
       'a time of day without a zone');

$r = get('/v1/history/FOO');
is $r->{status}, 404, 'history of an unknown symbol 404';

# --- indicators -----------------------------------------------------------

# SMA(5) over 10 values: the history of the 14 bars before it
$r = get('/v1/indicators/AAPL/sma?period=5&limit=10');
my $hist = get('/v1/history/AAPL?limit=14')->{json}{bars} // [];
is $r->{status}, 200, 'sma 200';
is $r->{json}{indicator}, 'sma', 'indicator named';
is $r->{json}{period}, 5, 'period';
my $vals = $r->{json}{values} // [];
is scalar @$vals, 10, '10 values';
is $vals->[0]{t}, $hist->[4]{t}, 'the first SMA(5) is at the 5th bar';
is $vals->[-1]{t}, $hist->[-1]{t}, 'the last at the last bar';
my $sum = 0;
$sum += $hist->[$_]{c} for 0 .. 4;
ok abs($vals->[0]{value} - $sum / 5) < 0.0001, 'SMA is the mean of closes';
like $vals->[0]{value}, $dec, 'values are decimal strings';

$r = get('/v1/indicators/AAPL/sma');
is $r->{json}{period}, 20, 'sma default period 20';
is scalar @{ $r->{json}{values} // [] }, 100, 'default limit 100';

$r = get('/v1/indicators/TSLA/ema?period=10&timeframe=1h&limit=20');
is $r->{status}, 200, 'ema 200';
is scalar @{ $r->{json}{values} // [] }, 20, 'ema: 20 values';

$r = get('/v1/indicators/TSLA/rsi?limit=30');
is $r->{json}{period}, 14, 'rsi default period 14';
my @rsi = map { $_->{value} } @{ $r->{json}{values} // [] };
is scalar @rsi, 30, 'rsi: 30 values';
ok !(grep { $_ < 0 || $_ > 100 } @rsi), 'rsi within 0..100';

$r = get('/v1/indicators/MSFT/macd?limit=15');
is $r->{status}, 200, 'macd 200';
$vals = $r->{json}{values} // [];
is scalar @$vals, 15, 'macd: 15 values';
ok defined $vals->[0]{macd} && defined $vals->[0]{signal}
   && defined $vals->[0]{histogram}, 'macd, signal, histogram';
is "$r->{json}{fast}/$r->{json}{slow}/$r->{json}{signal}", '12/26/9',
    'macd defaults 12/26/9';

$r = get('/v1/indicators/MSFT/bollinger?period=20&limit=5');
$vals = $r->{json}{values} // [];
is scalar @$vals, 5, 'bollinger: 5 values';
ok $vals->[0]{upper} >= $vals->[0]{middle}
   && $vals->[0]{middle} >= $vals->[0]{lower}, 'upper >= middle >= lower';

$r = get('/v1/indicators/AAPL/vwap');
is $r->{status}, 404, 'unknown indicator 404';
like $r->{json}{error}{message}, qr/vwap/, 'names the indicator';
is_422(get('/v1/indicators/AAPL/sma?period=1'), 'period', 'period 1');
is_422(get('/v1/indicators/AAPL/rsi?period=x'), 'period', 'period x');
is_422(get('/v1/indicators/AAPL/sma?period=1001'), 'period', 'period 1001');
is_422(get('/v1/indicators/AAPL/ema?timeframe=1w'), 'timeframe',
       'indicator timeframe');
is_422(get('/v1/indicators/AAPL/sma?limit=-1'), 'limit', 'indicator limit');
is_422(get('/v1/indicators/AAPL/macd?fast=30&slow=26'), 'fast',
       'macd fast >= slow');
is_422(get('/v1/indicators/AAPL/bollinger?k=0'), 'k', 'bollinger k 0');
is get('/v1/indicators/FOO/sma')->{status}, 404,
    'indicator of an unknown symbol 404';

# --- news -----------------------------------------------------------------

$r = get('/v1/news/AAPL?limit=5');
is $r->{status}, 200, 'news 200';
is $r->{json}{symbol}, 'AAPL', 'news symbol';
my $news = $r->{json}{news} // [];
cmp_ok scalar @$news, '>', 0, 'some news';
cmp_ok scalar @$news, '<=', 5, 'at most limit items';
ok defined $news->[0]{title} && defined $news->[0]{published_at},
    'items have a title and a time';
is get('/v1/news/FOO')->{status}, 404, 'news of an unknown symbol 404';
is_422(get('/v1/news/AAPL?limit=0'), 'limit', 'news limit 0');

# --- determinism ----------------------------------------------------------

# history is a function of the seed and of time: the same on every ask
$r = get('/v1/history/NVDA?timeframe=1d&to=2025-06-01&limit=30');
is_deeply get('/v1/history/NVDA?timeframe=1d&to=2025-06-01&limit=30')->{json},
    $r->{json}, 'history is deterministic';

# history is computed minute by minute: a request may not cost more than
# a bounded amount of the worker's time
$r = get('/v1/history/AAPL?timeframe=1d&limit=5000');
is $r->{status}, 422, '5000 daily bars at once: 422';
like $r->{json}{error}{message} // '', qr/^limit: at most \d+ bars of 1d/, 'names the bound';
$r = get('/v1/history/AAPL?timeframe=1d&limit=138');
is scalar @{ $r->{json}{bars} // [] }, 138, 'the bound itself is served';
$r = get('/v1/history/AAPL?timeframe=1m&limit=5000');
is scalar @{ $r->{json}{bars} // [] }, 5000, '5000 minute bars';

# --- NYSE hours and another seed ------------------------------------------

my $ports2 = stack_ports();
my $text = instance_conf('market', ports => $ports2, pg => $pg,
                         redis => $redis);
$text =~ s/^(\s*kx_service market;)/$1\n    kx_market_hours nyse;\n    kx_market_seed 7;/m
    or die 'no kx_service in market.conf';
my $nyse = start_nginx($text, vars => { PORT => $ports2->{market} },
                       env => { KX_JWT_SECRET => $STACK_SECRET });

sub in_session {
    my ($bars, $intraday) = @_;
    for my $b (@$bars) {
        my @g = gmtime($b->{t} / 1000);
        return 0 if $g[6] == 0 || $g[6] == 6;
        return 0 if $intraday && ($g[2] < 13 || $g[2] > 20);
    }
    return 1;
}

for my $tf (qw(1m 15m 1h)) {
    $r = $nyse->http(GET => "/v1/history/AAPL?timeframe=$tf&limit=60",
                     headers => \%auth);
    is scalar @{ $r->{json}{bars} // [] }, 60, "nyse $tf: 60 bars";
    ok in_session($r->{json}{bars} // [], 1), "nyse $tf: within sessions";
}

$r = $nyse->http(GET => '/v1/history/AAPL?limit=300', headers => \%auth);
is scalar @{ $r->{json}{bars} // [] }, 300, 'nyse 1d: 300 bars';
ok in_session($r->{json}{bars} // [], 0), 'nyse 1d: weekdays only';
check_bars($r->{json}{bars} // [], 'nyse 1d', int(Time::HiRes::time() * 1000));

$r = $nyse->http(GET => '/v1/indicators/AAPL/sma?period=5&limit=10',
                 headers => \%auth);
$hist = $nyse->http(GET => '/v1/history/AAPL?limit=14',
                    headers => \%auth)->{json}{bars} // [];
is $r->{json}{values}[0]{t}, $hist->[4]{t},
    'nyse: the first SMA(5) is at the 5th bar';

$r = $nyse->http(GET => '/v1/history/NVDA?timeframe=1d&to=2025-06-01&limit=30',
                 headers => \%auth);
is scalar @{ $r->{json}{bars} // [] }, 30, 'nyse: 30 bars before a date';
my $other = get('/v1/history/NVDA?timeframe=1d&to=2025-06-01&limit=30')
            ->{json}{bars} // [];
isnt join(',', map { $_->{c} } @{ $r->{json}{bars} // [] }),
     join(',', map { $_->{c} } @$other),
     'another seed and hours, another history';

$r = $nyse->http(GET => '/v1/quotes/TSLA', headers => \%auth);
is $r->{status}, 200, 'nyse: quotes served (open or closed)';

# --- through the gateway --------------------------------------------------

$r = $gw->http(GET => '/v1/market/quotes/AAPL', headers => \%auth);
is $r->{status}, 200, 'gateway /v1/market/quotes/AAPL 200';
is $r->{json}{symbol}, 'AAPL', 'gateway: the quote';
is $r->{headers}{'x-kx-service'}, 'market', 'answered by market';

$r = $gw->http(GET => '/market/history/TSLA?timeframe=1h&limit=3',
               headers => \%auth);
is scalar @{ $r->{json}{bars} // [] }, 3, 'gateway: unversioned history';

$r = $gw->http(GET => '/v1/market/quotes/FOO', headers => \%auth);
is $r->{status}, 404, 'gateway: unknown symbol 404';

$r = $gw->http(GET => '/v1/market/quotes/AAPL');
is $r->{status}, 401, 'gateway: no token 401';

done_testing;
