#!/usr/bin/perl

# The Polygon market data provider (modules/kx_market_polygon.c) against a
# fake Polygon (t/lib/Kx/FakePolygon.pm) speaking the documented formats:
# quotes, history and news in OUR shapes with Polygon's decimals kept
# exactly; unknown tickers 404; Polygon's errors as 502/503/504 JSON
# errors; the cache in front of it; a slow Polygon that does not stall the
# worker; and the WebSocket stream's quotes published on kx:quote:<SYM>
# (contract C1), across a dropped connection and a refused key.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time sleep);
use POSIX qw(floor);
use File::Temp ();

use lib 't/lib';
use Kx::Test;
use Kx::FakePolygon;

my $KEY = 'pk_test_0123456789';

my $now_ms = int(time * 1000);
my $now_ns = $now_ms * 1_000_000;

# days back from today's 00:00 UTC, in ms (daily bars are stamped so)
my $day0 = floor($now_ms / 86_400_000) * 86_400_000;
sub day { $day0 - $_[0] * 86_400_000 }

sub snapshot {
    my ($sym, $bid, $ask, $last, $open, $prev) = @_;
    return qq({"ticker":"$sym","todaysChangePerc":1.5595658073,"todaysChange":2.8734,)
         . qq("updated":$now_ns,"day":{"o":$open,"h":190.5,"l":184.9,"c":$last,"v":51234567,"vw":187.0011},)
         . qq("lastQuote":{"P":$ask,"S":5,"p":$bid,"s":3,"t":$now_ns},)
         . qq("lastTrade":{"c":[14,41],"i":"71675577320245","p":$last,"s":100,"t":$now_ns,"x":4},)
         . qq("min":{"av":51234567,"c":187.1,"h":187.2,"l":187.0,"o":187.05,"v":12345,"vw":187.1,"t":$now_ms,"n":77},)
         . qq("prevDay":{"c":$prev,"h":186.1,"l":183.2,"o":185.0,"v":61234567,"vw":184.9}});
}

my %tickers = map { $_->[0] => snapshot(@$_) } (
    [ 'AAPL', 187.12, 187.13, 187.1234, 185.5, 184.25 ],
    map { [ $_, 10.01, 10.03, 10.02, 10, 9.5 ] } qw(TSLA NVDA AMZN GOOGL META NFLX AMD JPM KO),
);

# five daily bars, Polygon's numbers as written (4 places: split-adjusted)
my @bars = map {
    my $d = 5 - $_;
    qq({"v":13564745$_,"vw":74.6099,"o":74.06,"c":75.087$_,"h":75.15,"l":73.7975,"t":) . day($d) . qq(,"n":1})
} 0 .. 4;

my @news = (
    q({"id":"JeJEhAVoKaqJ2zF9nzQYMg07UlEeWlis6Dsop33TPQY","publisher":{"name":"MarketWatch","homepage_url":"https://www.marketwatch.com/"},)
  . q("title":"Apple\u2019s quarter beats estimates","author":"MarketWatch","published_utc":"2026-11-20T17:08:00Z",)
  . q("article_url":"https://www.marketwatch.com/story/apple-q","tickers":["AAPL","MSFT"],)
  . q("description":"Revenue rose.","insights":[{"ticker":"AAPL","sentiment":"positive","sentiment_reasoning":"beat"}]}),
    q({"id":"second-item","publisher":{"name":"Zacks"},"title":"Older item","published_utc":"2026-11-18T09:00:00Z",)
  . q("article_url":"https://www.zacks.com/x","tickers":["AAPL"],"description":"Older."}),
);

my $poly = Kx::FakePolygon->start(
    key => $KEY, tickers => \%tickers, bars => { AAPL => \@bars },
    news => { AAPL => \@news }, page_size => 2,
);

my $redis = start_redis();

# --- instance A: REST only (no stream, no publisher) -----------------------

my $ng = start_nginx(<<'CONF', redis => $redis, env => { POLYGON_API_KEY => $KEY },
master_process on;
worker_processes 1;
env POLYGON_API_KEY;
events { worker_connections 1024; }
http {
    access_log off;

    kx_service market;
    kx_redis_addr %%REDIS_ADDR%%;
    kx_redis_timeout 1s;
    # the breaker must not open during the error tests below
    kx_http_client min_requests=1000 retry_base=20ms retry_cap=50ms;

    kx_market_provider polygon url=%%POLY_URL%% stream=off timeout=1s
                               retries=1;
    kx_market_publish_interval 0;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /v1/ { kx_route market; kx_market; }
        location = /health { kx_health; }
    }
}
CONF
    vars => { POLY_URL => $poly->url },
    allow_log => [ qr/kx_market: \w+ /, qr/polygon/ ]);

sub get { return $ng->http(GET => $_[0], timeout => 10) }

# --- quotes ------------------------------------------------------------------

my $r = get('/v1/quotes/AAPL');
is $r->{status}, 200, 'quote: 200';
my $q = $r->{json} // {};
is $q->{symbol}, 'AAPL', 'quote: symbol';
is $q->{price}, '187.1234', 'quote: price is the last trade, sub-penny digits kept';
is $q->{bid}, '187.12', 'quote: bid from lastQuote.p';
is $q->{ask}, '187.13', 'quote: ask from lastQuote.P';
is $q->{bid_size}, 3, 'quote: bid size';
is $q->{ask_size}, 5, 'quote: ask size';
is $q->{open}, '185.50', 'quote: open from day.o';
is $q->{prev_close}, '184.25', 'quote: prev_close from prevDay.c';
# (187.1234 - 184.25) / 184.25 * 100 = 1.5595...
is $q->{change_percent}, '1.56', 'quote: change percent computed exactly';
my ($ts) = ($q->{timestamp} // '') =~ /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)$/;
ok $ts, "quote: ISO timestamp ($q->{timestamp})";

my $snap = '/v2/snapshot/locale/us/markets/stocks/tickers/AAPL';
my $req = $poly->requests($snap)->[0] // {};
is $req->{headers}{authorization}, "Bearer $KEY", 'the key goes in an Authorization header';
unlike $req->{query}, qr/apiKey/, '... never in the URL';

# caching: a second read within the seed's 1 s is served from Redis
is get('/v1/quotes/AAPL')->{status}, 200, 'quote again: 200';
is $poly->hits($snap), 1, 'quote again: from the cache, Polygon asked once';

# unknown tickers
$r = get('/v1/quotes/ZZZZ');
is $r->{status}, 404, 'a symbol outside the universe: 404';
$r = get('/v1/quotes/MSFT');
is $r->{status}, 404, 'a ticker Polygon does not know: 404';
is $r->{json}{error}{code}, 'not_found', '... not_found';

# --- history: aggregates, followed across next_url pages -------------------

my $from = day(6);
my $to = $day0 + 1;
$r = get("/v1/history/AAPL?timeframe=1d&from=$from&to=$to&limit=10");
is $r->{status}, 200, 'history: 200';
my $bars = $r->{json}{bars} // [];
is scalar @$bars, 5, 'history: all 5 bars over 3 pages of 2';
is_deeply $bars->[0], { t => day(5), o => '74.06', h => '75.15', l => '73.7975',
                        c => '75.087', v => 135647450 },
    'history: our bar shape, every digit Polygon sent';
is $bars->[4]{c}, '75.0874', 'history: oldest first, exact closes';
my $aggs = (grep { m{^/v2/aggs/ticker/AAPL/range/1/day/} } keys %{ $poly->hits })[0] // '';
is $poly->hits($aggs), 3, 'history: three requests (next_url followed)';
my @areqs = @{ $poly->requests($aggs) };
like $areqs[1]{query}, qr/cursor=2/, '... the next page through the next_url cursor';
is $areqs[1]{headers}{authorization}, "Bearer $KEY", '... with the key in the header again';

# the newest bars without from: read backwards
$r = get("/v1/history/AAPL?timeframe=1d&to=$to&limit=2");
is $r->{status}, 200, 'history, newest 2: 200';
is_deeply [ map { $_->{t} } @{ $r->{json}{bars} // [] } ], [ day(2), day(1) ],
    'history, newest 2: the last two, oldest first';

like $areqs[0]{query}, qr/(?:^|&)limit=21(?:&|$)/,
    "history: Polygon's limit sized to the bars asked for (10 + 10% + 10)";
like $areqs[0]{query}, qr/sort=asc/, 'history with from: ascending';

# intraday: 5-minute bars map to range/5/minute
my $m5 = floor(($now_ms - 600_000) / 300_000) * 300_000;
$poly->set(bars => { KO => [ map {
    qq({"v":100$_,"vw":60.01,"o":60.1$_,"c":60.2$_,"h":60.3,"l":60.0,"t":) . ($m5 - $_ * 300_000) . qq(,"n":3})
} 0 .. 5 ] });
$r = get('/v1/history/KO?timeframe=5m&limit=3');
is $r->{status}, 200, 'history 5m: 200';
is_deeply [ map { $_->{c} } @{ $r->{json}{bars} // [] } ], [ '60.22', '60.21', '60.20' ],
    'history 5m: the newest 3, oldest first';
ok scalar(grep { m{^/v2/aggs/ticker/KO/range/5/minute/} } keys %{ $poly->hits }),
    'history 5m: asked as range/5/minute';

is get("/v1/history/AAPL?timeframe=1d&from=$from&to=$to&limit=10")->{status}, 200,
    'history again: 200';
is $poly->hits($aggs), 3, 'history again: from the cache';

# --- news ---------------------------------------------------------------------

$r = get('/v1/news/AAPL?limit=5');
is $r->{status}, 200, 'news: 200';
my $items = $r->{json}{news} // [];
is scalar @$items, 2, 'news: two items';
is $items->[0]{id}, 'JeJEhAVoKaqJ2zF9nzQYMg07UlEeWlis6Dsop33TPQY', "news: Polygon's id, whole";
is $items->[0]{title}, "Apple\x{2019}s quarter beats estimates", 'news: title (UTF-8 kept)';
is $items->[0]{summary}, 'Revenue rose.', 'news: summary from description';
is $items->[0]{source}, 'MarketWatch', 'news: source from publisher.name';
is $items->[0]{url}, 'https://www.marketwatch.com/story/apple-q', 'news: url';
is $items->[0]{sentiment}, 'positive', "news: the ticker's own insight";
is $items->[0]{published_at}, '2026-11-20T17:08:00.000Z', 'news: published_at';
is $items->[1]{sentiment}, 'neutral', 'news: no insight is neutral';
my $nreq = $poly->requests('/v2/reference/news')->[0] // {};
like $nreq->{query}, qr/(?:^|&)ticker=AAPL(?:&|$)/, 'news: asked by ticker';
like $nreq->{query}, qr/limit=5/, '... with our limit';

# --- Polygon's errors ---------------------------------------------------------

my @cases = (
    [ 401, 502, 'TSLA', 'a refused key (401)' ],
    [ 403, 502, 'NVDA', 'NOT_AUTHORIZED (403)' ],
    [ 429, 503, 'AMZN', 'rate limited (429)' ],
    [ 500, 502, 'GOOGL', 'a server error (500)' ],
    [ 503, 503, 'META', 'unavailable (503)' ],
);
for my $c (@cases) {
    my ($poly_status, $ours, $sym, $what) = @$c;
    $poly->error($poly_status);
    $r = get("/v1/quotes/$sym");
    is $r->{status}, $ours, "$what: $ours";
    ok $r->{json} && $r->{json}{error} && $r->{json}{error}{code}
       && $r->{json}{error}{message}, "$what: a JSON error";
}
$poly->error(429, '/v2/aggs/');
is get("/v1/history/TSLA?timeframe=1d&limit=3")->{status}, 503, 'history rate limited: 503';
$poly->error(403, '/v2/reference/news');
is get('/v1/news/TSLA')->{status}, 502, 'news NOT_AUTHORIZED: 502';
$poly->error(0);
is get('/v1/quotes/TSLA')->{status}, 200, 'errors over: 200 again';

# --- a slow Polygon ---------------------------------------------------------

# slower than the timeout: 504 within about the timeout
$poly->delay(2500);
my $t0 = time;
$r = get('/v1/quotes/NFLX');
my $secs = time - $t0;
is $r->{status}, 504, 'a Polygon slower than timeout=1s: 504';
cmp_ok $secs, '<', 2.2, sprintf('... within the timeout (%.2f s)', $secs);

# slow but in time: the worker serves other requests meanwhile
$poly->delay(700);
my ($sock, $st0) = Kx::Test::http_start($ng->port, '/v1/quotes/AMD');
sleep 0.1;
$t0 = time;
my $fast = get('/v1/symbols');
my $fast_secs = time - $t0;
is $fast->{status}, 200, 'while Polygon is slow, another request: 200';
cmp_ok $fast_secs, '<', 0.4, sprintf('... at once (%.3f s): the worker is not blocked', $fast_secs);
my $slow = Kx::Test::http_finish($sock, $st0, 5);
is $slow->{status}, 200, 'the slow quote: 200 in the end';
cmp_ok $slow->{secs}, '>=', 0.6, sprintf('... after Polygon\'s delay (%.2f s)', $slow->{secs});
$poly->delay(0);

$ng->stop;

# --- instance B: the WebSocket stream and the publisher ---------------------

my $ngb = start_nginx(<<'CONF', redis => $redis, env => { POLYGON_API_KEY => $KEY },
master_process on;
worker_processes 1;
env POLYGON_API_KEY;
events { worker_connections 1024; }
http {
    access_log off;

    kx_service market;
    kx_redis_addr %%REDIS_ADDR%%;
    kx_redis_timeout 1s;

    kx_market_provider polygon url=%%POLY_URL%% ws=%%POLY_WS%% timeout=2s
                               ws_backoff=100ms ws_backoff_max=400ms
                               ws_ping=300ms;
    kx_market_publish_interval 100ms;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /v1/ { kx_route market; kx_market; }
        location = /metrics { kx_metrics; }
    }
}
CONF
    vars => { POLY_URL => $poly->url, POLY_WS => $poly->ws_url },
    allow_log => [ qr/polygon stream/, qr/kx_market: / ]);

ok wait_until(sub { $poly->ws_state->{authed} == 1 }, timeout => 10),
    'stream: connected and authenticated';
ok wait_until(sub { grep { $_ eq 'Q.AAPL' } @{ $poly->ws_state->{subscriptions} } },
              timeout => 5), 'stream: subscribed to Q.AAPL';
my $subs = $poly->ws_state->{subscriptions};
ok((grep { $_ eq 'T.AAPL' } @$subs) && (grep { $_ eq 'Q.TSLA' } @$subs),
   'stream: ... and to T.AAPL, Q.TSLA (every symbol)');

my $sub = $redis->connect(timeout => 5);
$sub->send_command('SUBSCRIBE', 'kx:quote:AAPL');
$sub->read_reply(5);

# the next message on kx:quote:AAPL for which $pred holds
sub next_quote {
    my ($pred, $secs) = @_;
    my $deadline = time + ($secs // 5);
    while ((my $left = $deadline - time) > 0) {
        my $m = $sub->read_reply($left);
        last unless $sub->{got};
        next unless ref $m eq 'ARRAY' && $m->[0] eq 'message';
        my $qq = json_decode($m->[2]);
        return ($qq, $m->[2]) if $qq && $pred->($qq);
    }
    return;
}

my $t1 = $now_ms + 1000;
$poly->ws_send(qq([{"ev":"Q","sym":"AAPL","bx":11,"bp":190.01,"bs":100,"ax":12,"ap":190.05,"as":200,"c":1,"i":[604],"t":$t1,"q":50385480,"z":3}]));
my ($pq, $raw) = next_quote(sub { ($_[0]{bid} // '') eq '190.01' });
ok $pq, 'stream: the Q event reached kx:quote:AAPL';
like $raw // '', qr/^\{"type":"quote",/, '... as a C1 message';
is $pq->{ask}, '190.05', '... ask exact';
is $pq->{bid_size}, 100, '... bid size';
is $pq->{ask_size}, 200, '... ask size';
is $pq->{prev_close}, '184.25', "... prev_close from the snapshot fetched after auth";
is $pq->{open}, '185.50', '... open too';

my $t2 = $t1 + 5;
$poly->ws_send(qq([{"ev":"T","sym":"AAPL","x":4,"i":"12345","z":3,"p":190.0312,"s":100,"c":[12],"t":$t2,"q":1}]));
($pq) = next_quote(sub { ($_[0]{price} // '') eq '190.0312' });
ok $pq, 'stream: a trade sets the price, sub-penny kept';
# (190.0312 - 184.25) / 184.25 * 100 = 3.1377...
is $pq->{change_percent}, '3.14', '... and the change percent';

# reconnect after the feed drops the socket
my $connects = $poly->ws_state->{connects};
$poly->ws_drop;
ok wait_until(sub { my $s = $poly->ws_state; $s->{connects} > $connects && $s->{authed} == 1 },
              timeout => 10), 'stream: reconnected after the drop';
ok wait_until(sub { grep { $_ eq 'Q.AAPL' } @{ $poly->ws_state->{subscriptions} } },
              timeout => 5), '... and subscribed again';
$poly->ws_send(qq([{"ev":"Q","sym":"AAPL","bp":191.11,"bs":300,"ap":191.13,"as":400,"t":@{[ $t2 + 10 ]}}]));
($pq) = next_quote(sub { ($_[0]{bid} // '') eq '191.11' });
ok $pq, 'stream: quotes flow again after the reconnect';

# a feed that hangs (no data, no pong): given up after a ping interval
my $mark = $ngb->error_log_mark;
$connects = $poly->ws_state->{connects};
$poly->kill_stop;
ok $ngb->wait_log(qr/polygon stream: no data and no pong/, timeout => 5, mark => $mark),
    'stream: a silent feed is noticed by the keepalive ping';
$poly->kill_cont;
ok wait_until(sub { my $s = $poly->ws_state; $s->{connects} > $connects && $s->{authed} == 1 },
              timeout => 15), 'stream: reconnected once the feed is back';

# a refused key: auth_failed, then a retry after the longest backoff
my $fails = $poly->ws_state->{auth_failures};
$poly->set(key => 'another-key');
$poly->ws_drop;
ok wait_until(sub { $poly->ws_state->{auth_failures} > $fails }, timeout => 10),
    'stream: auth_failed with a wrong key';
ok $ngb->wait_log(qr/polygon stream: auth_failed: authentication failed/, timeout => 5),
    '... logged';
$poly->set(key => $KEY);
ok wait_until(sub { $poly->ws_state->{authed} == 1 }, timeout => 10),
    'stream: authenticated again once the key is right';

# the stream's counters
my $metrics = $ngb->http(GET => '/metrics')->{body} // '';
my ($nq) = $metrics =~ /^kx_market_polygon_stream_events_total\{[^}]*ev="Q"[^}]*\} (\d+)$/m;
my ($nt) = $metrics =~ /^kx_market_polygon_stream_events_total\{[^}]*ev="T"[^}]*\} (\d+)$/m;
my ($nc) = $metrics =~ /^kx_market_polygon_stream_connects_total\{[^}]*\} (\d+)$/m;
my ($nf) = $metrics =~ /^kx_market_polygon_stream_failures_total\{[^}]*\} (\d+)$/m;
is $nq, 2, 'metrics: 2 Q events counted';
is $nt, 1, 'metrics: 1 T event counted';
cmp_ok $nc // 0, '>=', 4, "metrics: connections counted (@{[ $nc // 0 ]})";
cmp_ok $nf // 0, '>=', 3, "metrics: failures counted (@{[ $nf // 0 ]})";

# REST through the same instance still works
is $ngb->http(GET => '/v1/quotes/TSLA')->{status}, 200, 'REST quote beside the stream: 200';

$ngb->stop;

# --- wss://: TLS verified against ws_ca (nginx terminates TLS for the fake) --

my $dir = File::Temp::tempdir(CLEANUP => 1);
my ($rc) = Kx::Test::_capture([ 'openssl', 'req', '-x509', '-newkey', 'rsa:2048',
    '-nodes', '-keyout', "$dir/key.pem", '-out', "$dir/cert.pem", '-days', '2',
    '-subj', '/CN=kx-polygon-test', '-addext', 'subjectAltName=IP:127.0.0.1' ]);
is $rc, 0, 'a self-signed certificate for 127.0.0.1';

my $tls = start_nginx(<<'CONF', vars => { CERT => "$dir/cert.pem", KEY => "$dir/key.pem",
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:%%PORT%% ssl;
        ssl_certificate %%CERT%%;
        ssl_certificate_key %%KEY%%;
        location / {
            proxy_pass http://%%FAKE_ADDR%%;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 1h;
        }
    }
}
CONF
                                              FAKE_ADDR => '127.0.0.1:' . $poly->port });
my $wss = 'wss://127.0.0.1:' . $tls->port . '/stocks';

my $stream_conf = <<'CONF';
master_process on;
worker_processes 1;
env POLYGON_API_KEY;
events { worker_connections 256; }
http {
    access_log off;
    kx_service market;
    kx_redis_addr %%REDIS_ADDR%%;
    kx_market_provider polygon url=%%POLY_URL%% ws=%%WSS%% %%CA%%
                               ws_backoff=100ms ws_backoff_max=300ms;
    kx_market_publish_interval 100ms;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /v1/ { kx_route market; kx_market; }
    }
}
CONF

# not trusted: the system's CAs do not know our certificate
my $ngc = start_nginx($stream_conf, redis => $redis, env => { POLYGON_API_KEY => $KEY },
    vars => { POLY_URL => $poly->url, WSS => $wss, CA => '' },
    allow_log => [ qr/polygon stream/ ]);
ok $ngc->wait_log(qr/polygon stream: certificate of 127\.0\.0\.1: \(\d+:/, timeout => 10),
    'wss: a certificate the system does not trust is refused';
$ngc->stop;

$connects = $poly->ws_state->{connects};
my $ngd = start_nginx($stream_conf, redis => $redis, env => { POLYGON_API_KEY => $KEY },
    vars => { POLY_URL => $poly->url, WSS => $wss, CA => "ws_ca=$dir/cert.pem" },
    allow_log => [ qr/polygon stream/ ]);
ok wait_until(sub { my $s = $poly->ws_state; $s->{connects} > $connects && $s->{authed} == 1 },
              timeout => 10), 'wss: connected through TLS, verified with ws_ca';
$poly->ws_send(qq([{"ev":"Q","sym":"AAPL","bp":192.5,"bs":1,"ap":192.52,"as":2,"t":@{[ $t2 + 20 ]}}]));
($pq) = next_quote(sub { ($_[0]{bid} // '') eq '192.50' });
ok $pq, 'wss: quotes flow to kx:quote:AAPL';
$ngd->stop;
$tls->stop;

$poly->stop;

# --- configuration errors ---------------------------------------------------

for my $c ([ 'bogus=1', qr/invalid parameter "bogus=1"/ ],
           [ 'ws=ftp://x/stocks', qr/ws= must start with ws:\/\/ or wss:\/\// ],
           [ 'url=ftp://x', qr/url= must be an http/ ])
{
    my ($arg, $re) = @$c;
    my $ok = eval {
        start_nginx(<<"CONF");
events { worker_connections 64; }
http {
    kx_market_provider polygon $arg;
    server { listen 127.0.0.1:%%PORT%%; location /v1/ { kx_market; } }
}
CONF
        1;
    };
    ok !$ok && ($@ // '') =~ $re, "kx_market_provider polygon $arg: refused";
}

done_testing;
