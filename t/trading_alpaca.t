#!/usr/bin/perl

# The Alpaca broker adapter (modules/kx_trading_alpaca.c) behind the trading
# service (the shipped trading.conf with "kx_trading_broker alpaca ...")
# against Kx::FakeAlpaca: the request an order becomes (fields, auth
# headers), fills found by polling and applied to order, position and cash,
# cancels, Alpaca's 403/422/5xx, timeouts and outages mapped onto our
# statuses without losing an order, and a slow Alpaca not stalling the
# worker.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use JSON::PP ();
use Time::HiRes qw(time sleep);

use lib 't/lib';
use Kx::Test;
use Kx::Stack;
use Kx::FakeHTTP;
use Kx::FakeAlpaca;

my $ports = stack_ports();
my $pg = start_pg();
my $redis = start_redis();

# the market service, as trading asks it for quotes (C6)
sub quote {
    my ($sym, $price) = @_;
    return { json => { symbol => $sym, price => $price, bid => $price,
                       ask => $price, bid_size => 100, ask_size => 100,
                       open => $price, prev_close => $price,
                       change_percent => '0.00',
                       timestamp => '2026-01-02T15:04:05.000Z' } };
}
my $market = Kx::FakeHTTP->start(routes => {
    '/v1/quotes/AAPL' => quote(AAPL => '187.50'),
    '/v1/quotes/MSFT' => quote(MSFT => '400.00'),
});

my $fa = Kx::FakeAlpaca->start(cash => '1000000',
                               prices => { AAPL => '187.5', MSFT => '400' });

# trading.conf with the Alpaca broker pointed at the fake
sub trading {
    my (%o) = @_;
    my $p = { %$ports, trading => free_port() };
    my $text = instance_conf('trading', ports => $p, pg => $pg,
                             redis => $redis, workers => 1);
    my $url = $o{url} // $fa->url;
    my $mkt = $market->url;
    my $args = $o{args} // 'poll=200ms timeout=2s retries=1';
    $text =~ s/^\s*kx_trading_(?:market_url|broker)\s[^\n]*\n//mg;
    $text =~ s{(kx_service\s+trading;)}
              {$1\n    kx_trading_broker alpaca url=$url $args;\n    kx_trading_market_url $mkt;};
    my %env = (KX_JWT_SECRET => $STACK_SECRET,
               APCA_API_KEY_ID => $o{key} // $fa->key,
               APCA_API_SECRET_KEY => $o{secret} // $fa->secret);
    delete $env{$_} for @{ $o{unset} // [] };
    return start_nginx($text, vars => { PORT => $p->{trading} }, env => \%env,
                       %{ $o{nginx} // {} });
}

my $uid = '5d0a3f9e-1b2c-4d5e-8f90-a1b2c3d4e5f6';
my %auth = (Authorization => 'Bearer ' . stack_token($uid));

my $ng = trading();

sub req {
    my ($method, $path, $json) = @_;
    return $ng->http($method => $path, headers => \%auth,
                     defined $json ? (json => $json) : ());
}

sub order_of { req(GET => "/v1/orders/$_[0]")->{json} // {} }

sub wait_order {
    my ($id, $pred, $timeout) = @_;
    my $o;
    wait_until(sub { $o = order_of($id); $pred->($o) },
               timeout => $timeout // 10);
    return $o;
}

sub portfolio { req(GET => '/v1/portfolio')->{json} // {} }

my $t0;

sub db { $pg->value($_[0]) }

# a POST left in flight (http_start's shape): the socket and its start
sub post_start {
    my ($port, $path, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "connect: $!";
    binmode $s;
    print {$s} "POST $path HTTP/1.0\r\nHost: 127.0.0.1\r\n"
        . "Authorization: $auth{Authorization}\r\n"
        . "Content-Type: application/json\r\n"
        . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
    $s->flush;
    return ($s, time);
}

# --- configuration ----------------------------------------------------------

{
    my $ok = eval { trading(unset => ['APCA_API_KEY_ID']); 1 };
    my $err = $@;
    ok !$ok, 'without APCA_API_KEY_ID the configuration is refused';
    like $err, qr/APCA_API_KEY_ID.*is not set/, '... naming the variable';
    unlike $err, qr/\Q${\ $fa->secret }\E/, '... and not showing the secret';

    $ok = eval { trading(args => 'pol=1s'); 1 };
    like $@, qr/invalid option "pol=1s"/, 'an unknown option is refused';
}

# --- /health checks the account ------------------------------------------

my $r = $ng->http(GET => '/health');
is $r->{status}, 200, '/health: 200';
is_deeply $r->{json}{checks}{alpaca}, { ok => JSON::PP::true(),
                                        detail => 'account active' },
    '/health: the Alpaca account is active (nothing else of it shown)';

# --- a market order: the request, the answer, the fill by polling ---------

my $cash0 = portfolio()->{cash_balance};
is $cash0, '100000.00', 'a new account starts with the paper cash';

$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'market', quantity => '2',
                                 client_order_id => 'my-first-order' });
is $r->{status}, 201, 'market buy: 201';
my $id = $r->{json}{id} // '';
like $r->{json}{status} // '', qr/^(accepted|filled)$/,
    'Alpaca accepted it: accepted';

my ($post) = @{ $fa->requests(POST => qr{^/v2/orders$}) };
ok $post, 'POST /v2/orders sent';
my $sent = json_decode($post->{body} // '{}');
is_deeply $sent, { symbol => 'AAPL', qty => '2', side => 'buy',
                   type => 'market', time_in_force => 'day',
                   client_order_id => $id },
    'body: Alpaca fields, decimals as strings, our order id as '
    . 'client_order_id';
is $post->{headers}{'apca-api-key-id'}, $fa->key, 'APCA-API-KEY-ID sent';
is $post->{headers}{'apca-api-secret-key'}, $fa->secret,
    'APCA-API-SECRET-KEY sent';
like $post->{headers}{'content-type'} // '', qr{^application/json},
    'Content-Type: application/json';

my $at = $fa->order_by_client_id($id) // {};
is db("SELECT broker_order_id FROM trading.orders WHERE id = '$id'"),
   $at->{id}, "Alpaca's order id stored as broker_order_id";

my $o = wait_order($id, sub { ($_[0]{status} // '') eq 'filled' });
is $o->{status}, 'filled', 'the fill found by polling: filled';
is $o->{filled_qty}, '2', 'filled_qty 2';
is $o->{filled_avg_price} + 0, 187.5, 'at the fake\'s price';
is $o->{client_order_id}, 'my-first-order', 'the user\'s client_order_id kept';

my $pf = portfolio();
is $pf->{cash_balance}, '99625.00', 'cash: 100000 - 2 x 187.50';
my ($pos) = grep { $_->{symbol} eq 'AAPL' } @{ $pf->{positions} // [] };
is $pos->{quantity} // $pos->{qty}, '2', 'position AAPL 2';

# --- a resting limit order fills when the market crosses it ---------------

$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'limit', limit_price => '180',
                                 quantity => '1', time_in_force => 'gtc' });
is $r->{status}, 201, 'limit buy below the market: 201';
my $lim = $r->{json}{id};
$sent = json_decode($fa->requests(POST => qr{^/v2/orders$})->[-1]{body});
is_deeply [ @$sent{qw(type limit_price time_in_force qty)} ],
          [ 'limit', '180', 'gtc', '1' ], 'limit fields sent';
sleep 0.5;
is order_of($lim)->{status}, 'accepted', 'it rests: accepted';

$fa->set_price(AAPL => '179.25');
$o = wait_order($lim, sub { ($_[0]{status} // '') eq 'filled' });
is $o->{status}, 'filled', 'the market crossed: filled';
is $o->{filled_avg_price} + 0, 179.25, 'at the new price';
is portfolio()->{cash_balance}, '99445.75', 'cash: 99625 - 179.25';

# --- partial fills ----------------------------------------------------------

$fa->set(fill => 'manual');
$r = req(POST => '/v1/orders', { symbol => 'MSFT', side => 'buy',
                                 type => 'limit', limit_price => '410',
                                 quantity => '10' });
my $part = $r->{json}{id};
my $alp = $fa->order_by_client_id($part // '') // {};
$fa->fill($alp->{id}, 4, '400.50');
$o = wait_order($part, sub { ($_[0]{status} // '') eq 'partially_filled' });
is $o->{status}, 'partially_filled', '4 of 10: partially_filled';
is $o->{filled_qty}, '4', 'filled_qty 4';
$fa->fill($alp->{id}, 6, '401');
$o = wait_order($part, sub { ($_[0]{status} // '') eq 'filled' });
is $o->{status}, 'filled', 'the other 6: filled';
is $o->{filled_avg_price} + 0, 400.8, 'average (4 x 400.50 + 6 x 401) / 10';
is portfolio()->{cash_balance}, '95437.75', 'cash less 4008.00 exactly';
is db("SELECT count(*) FROM trading.trades WHERE order_id = '$part'"), 2,
   'two trades recorded';

# --- cancel -----------------------------------------------------------------

$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'limit', limit_price => '175',
                                 quantity => '3' });
is $r->{status}, 201, 'a resting limit order (within the price collar)';
my $can = $r->{json}{id} // '';
$fa->reset_requests;
$r = req(DELETE => "/v1/orders/$can");
is $r->{status}, 200, 'cancel: 200';
is $r->{json}{status}, 'canceled', 'canceled';
my $alp_can = $fa->order_by_client_id($can) // {};
is $alp_can->{status}, 'canceled', 'canceled at Alpaca too';
is scalar @{ $fa->requests(DELETE => qr{^/v2/orders/\Q${\ ($alp_can->{id} // '')}\E$}) },
   1, 'DELETE /v2/orders/{alpaca id} sent';

$r = req(DELETE => "/v1/orders/$id");
is $r->{status}, 422, 'cancel of a filled order: 422';

# the broker cancels on its own (e.g. a halt): the poller notices
$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'limit', limit_price => '176',
                                 quantity => '1' });
my $bc = $r->{json}{id} // '';
$fa->broker_cancel(($fa->order_by_client_id($bc) // {})->{id} // '');
$o = wait_order($bc, sub { ($_[0]{status} // '') eq 'canceled' });
is $o->{status}, 'canceled', 'canceled by the broker: canceled here';

$fa->set(fill => 'immediate');

# --- a notional order: Alpaca fills fractional shares to 9 places --------

$fa->set_price(AAPL => '187.5');
my $cash1 = portfolio()->{cash_balance};
$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'market', notional => '500' });
is $r->{status}, 201, 'notional buy: 201';
my $notional = $r->{json}{id} // '';
$sent = json_decode($fa->requests(POST => qr{^/v2/orders$})->[-1]{body});
is_deeply [ @$sent{qw(notional qty)} ], [ '500', undef ],
    'notional sent, no qty';
$o = wait_order($notional, sub { ($_[0]{status} // '') eq 'filled' });
is $o->{status}, 'filled', 'filled';
is $fa->order_by_client_id($notional)->{filled_qty}, '2.666666666',
   'Alpaca: 2.666666666 shares';
is $o->{filled_qty}, '2.66666666',
   'ours: rounded toward zero to 8 places (never more than paid for)';
cmp_ok abs(($cash1 - portfolio()->{cash_balance}) - 500), '<=', 0.01,
    'cash less 500.00 (to the cent)';

# --- Alpaca refuses: 403, 422 ----------------------------------------------

my $bp = portfolio()->{buying_power};
$fa->fail(POST => '^/v2/orders$',
          { status => 403, json => { code => 40310000,
                                     message => 'insufficient buying power',
                                     buying_power => '10',
                                     cost_basis => '187.5' } });
$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'market', quantity => '1' });
my $rej = $r->{json}{id} // $r->{json}{order}{id};
ok $r->{status} == 201 || $r->{status} == 403,
    "Alpaca's 403: answered ($r->{status})";
is $r->{json}{status}, 'rejected', 'the answer: status rejected';
is db("SELECT status FROM trading.orders ORDER BY created_at DESC LIMIT 1"),
   'rejected', 'stored rejected';
like db("SELECT reject_reason FROM trading.orders "
        . "ORDER BY created_at DESC LIMIT 1"),
     qr/insufficient buying power/, "Alpaca's reason recorded";
is portfolio()->{buying_power}, $bp, 'its reserve released';

$fa->fail(POST => '^/v2/orders$',
          { status => 422, json => { code => 40010001,
                                     message => 'qty must be > 0' } });
$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'market', quantity => '1' });
ok $r->{status} == 201 || $r->{status} == 422,
    "Alpaca's 422: answered ($r->{status})";
is db("SELECT status FROM trading.orders "
      . "ORDER BY created_at DESC LIMIT 1"), 'rejected', 'rejected';

# --- a lost answer: the retry finds the order by client_order_id -----------

$fa->reset_requests;
$fa->fail(POST => '^/v2/orders$',
          { status => 500, apply => 1,
            json => { code => 50010000, message => 'internal server error' } });
$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'market', quantity => '1' });
is $r->{status}, 201, 'a 500 after Alpaca took the order: 201';
my $lost = $r->{json}{id};
is scalar @{ $fa->requests(POST => qr{^/v2/orders$}) }, 2,
   'the submit was sent again';
is scalar(grep { $_->{client_order_id} eq $lost } @{ $fa->orders }), 1,
   'Alpaca holds it once';
is scalar @{ $fa->requests(GET => qr{^/v2/orders:by_client_order_id$}) }, 1,
   '"client_order_id must be unique": read back by client_order_id';
$o = wait_order($lost, sub { ($_[0]{status} // '') eq 'filled' });
is $o->{status}, 'filled', 'and it fills as usual';

# --- Alpaca's answer written after conflicts: still 201 -------------------
# A test trigger fails the first writes of the answer (the update that
# gives the order its broker id) with KX002, as when the account changed
# meanwhile (a fill of another order, with two connections): the write is
# decided again, under the lock, and the request that placed the order
# still gets 201.  Twice: the first KX002 sends the op under the lock, and
# the lock's decision may meet one too (here the trigger; in session 8 a
# real change of the account came first, and the trigger's one failure
# then met the locked write, which answered 409).  A write that keeps
# failing gives up with 409 after a bounded number of tries.

sub kx002_trigger {
    my ($fails) = @_;
    $pg->psql(<<"SQL");
CREATE SEQUENCE public.kx_test_fired;
CREATE FUNCTION public.kx_test_kx002() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF nextval('public.kx_test_fired') <= $fails THEN
        RAISE EXCEPTION 'the account changed (test)' USING ERRCODE = 'KX002';
    END IF;
    RETURN NEW;
END
\$\$;
CREATE TRIGGER kx_test_kx002 BEFORE UPDATE ON trading.orders FOR EACH ROW
    WHEN (OLD.broker_order_id IS NULL AND NEW.broker_order_id IS NOT NULL)
    EXECUTE FUNCTION public.kx_test_kx002();
SQL
}

sub kx002_trigger_drop {
    my $fired = db("SELECT last_value FROM public.kx_test_fired");
    $pg->psql('DROP TRIGGER kx_test_kx002 ON trading.orders; '
              . 'DROP FUNCTION public.kx_test_kx002(); '
              . 'DROP SEQUENCE public.kx_test_fired;');
    return $fired;
}

kx002_trigger(2);
my $mark = $ng->error_log_mark;
$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'market', quantity => '1' });
is $r->{status}, 201, 'the answer\'s write failed twice: still 201'
    or diag "answer: $r->{body}\nerror log:\n" . $ng->error_log($mark);
is db("SELECT broker_order_id IS NOT NULL FROM trading.orders "
      . "WHERE id = '$r->{json}{id}'"), 't', '... with its broker id';
cmp_ok kx002_trigger_drop(), '>=', 3, '... written on the third try';

kx002_trigger(1000);
my $before = db("SELECT count(*) FROM trading.orders");
$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'market', quantity => '1' });
is $r->{status}, 409, 'a write that keeps failing: 409, not a loop';
is $r->{json}{error}{code}, 'conflict', '... conflict';
is db("SELECT count(*) FROM trading.orders"), $before + 1,
    '... the order sent stays stored';
my $kept = db("SELECT id FROM trading.orders ORDER BY created_at DESC "
              . "LIMIT 1");
# the request tried 4 times; each report of the poller (poll=200ms) tries
# 4 times too.  A poll whose report could not be written reports it again
# at the next poll, not only at the resync (60 s): 3 reports in 10 s.
ok wait_until(sub { db("SELECT last_value FROM public.kx_test_fired") >= 16 },
              timeout => 10, interval => 0.2),
   '... the poller reports it again while its write keeps failing';
kx002_trigger_drop();
ok wait_until(sub { db("SELECT broker_order_id IS NOT NULL FROM "
                       . "trading.orders WHERE id = '$kept'") eq 't' },
              timeout => 10, interval => 0.2),
   '... and once it can be written, the order gets its broker id';

# --- 429: rate limited, retried after Retry-After ------------------------

$fa->reset_requests;
$fa->fail(POST => '^/v2/orders$',
          { status => 429, headers => { 'Retry-After' => '1' },
            json => { code => 42910000, message => 'rate limit exceeded' } });
$t0 = time;
$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'market', quantity => '1' });
is $r->{status}, 201, 'Alpaca 429 once: 201';
like $r->{json}{status}, qr/^(accepted|filled)$/, '... placed on the retry';
cmp_ok time - $t0, '>=', 0.9, '... after Retry-After';
is scalar @{ $fa->requests(POST => qr{^/v2/orders$}) }, 2, 'two attempts';

# --- a 200 whose body is not an order: unknown, never "rejected" ---------

$fa->fail(POST => '^/v2/orders$',
          { status => 200, apply => 1, content_type => 'text/html',
            body => '<html>proxy says hello</html>' });
$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'market', quantity => '1' });
is $r->{json}{status}, 'new', 'an unreadable 200: the order stays new';
my $garbled = $r->{json}{id} // '';
$o = wait_order($garbled, sub { ($_[0]{status} // '') eq 'filled' });
is $o->{status}, 'filled', 'the poller finds it at Alpaca: filled';

# --- 5xx throughout: the outcome is unknown, the order is kept -------------

$fa->fail(POST => '^/v2/orders$',
          [ map { { status => 503, json => { code => 50310000,
                                             message => 'unavailable' } } }
            1 .. 2 ]);
$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'market', quantity => '1' });
is $r->{status}, 201, 'Alpaca 503 twice: still 201 (stored)';
my $unk = $r->{json}{id};
is $r->{json}{status}, 'new', 'status new: not at the broker (yet)';
is db("SELECT status FROM trading.orders WHERE id = '$unk'"), 'new',
   'in the database';

# --- a timeout: the order reached Alpaca, the poller finds it --------------

$fa->slow(4000);
$t0 = time;
$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'market', quantity => '1' });
my $took = time - $t0;
is $r->{status}, 201, 'Alpaca too slow: 201';
my $slow = $r->{json}{id};
is $r->{json}{status}, 'new', 'status new';
cmp_ok $took, '<', 3.5, sprintf('answered within the timeout (%.2fs)', $took);
$fa->slow(0);
$o = wait_order($slow, sub { ($_[0]{status} // '') eq 'filled' }, 15);
is $o->{status}, 'filled',
   'found by the poller through client_order_id: filled';

# --- a slow Alpaca does not stall the worker --------------------------------

$fa->slow(1500);
my @h = post_start($ng->port, '/v1/orders',
                   json_encode({ symbol => 'AAPL', side => 'buy',
                                 type => 'market', quantity => '1' }));
sleep 0.2;
$t0 = time;
my $pr = req(GET => '/v1/portfolio');
my $other = time - $t0;
is $pr->{status}, 200, 'meanwhile GET /v1/portfolio: 200';
cmp_ok $other, '<', 0.8,
    sprintf('answered at once (%.3fs) while the submit waits', $other);
my $hr = http_finish(@h, 10);
is $hr->{status}, 201, 'the slow submit: 201';
$fa->slow(0);

# --- the client leaves while Alpaca is slow: the answer is still applied --

$fa->slow(1000);
my ($sock) = post_start($ng->port, '/v1/orders',
                        json_encode({ symbol => 'MSFT', side => 'buy',
                                      type => 'market', quantity => '1' }));
sleep 0.3;
close $sock;
my $gone = db("SELECT id FROM trading.orders WHERE symbol = 'MSFT' "
              . "ORDER BY created_at DESC LIMIT 1");
$fa->slow(0);
$o = wait_order($gone, sub { ($_[0]{status} // '') eq 'filled' });
is $o->{status}, 'filled', 'a client that left: its order still placed, filled';

# --- Alpaca down: nothing lost ---------------------------------------------

$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'limit', limit_price => '175',
                                 quantity => '1', time_in_force => 'gtc' });
my $rest = $r->{json}{id} // '';
is $r->{json}{status}, 'accepted', 'a resting order before the outage';
$fa->stop;
$r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                 type => 'market', quantity => '1' });
is $r->{status}, 201, 'Alpaca down: 201';
my $down = $r->{json}{id};
is db("SELECT status FROM trading.orders WHERE id = '$down'"), 'new',
   'the order is stored, new';
sleep 1.1;
$r = $ng->http(GET => '/health');
is $r->{status}, 503, '/health: 503 while Alpaca is down';
is_deeply $r->{json}{failed}, ['alpaca'], '... naming alpaca';
$r = req(DELETE => "/v1/orders/$rest");
is $r->{status}, 503, 'a cancel while Alpaca is down: 503';
is order_of($rest)->{status}, 'accepted', '... and the order still open';
# the failed polls and calls open the HTTP client's breaker for Alpaca
my ($fast, @unsent) = (undef, $down);
wait_until(sub {
    $r = req(POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                     type => 'market', quantity => '1' });
    $fast = $r;
    push @unsent, $r->{json}{id} if ($r->{json}{status} // '') eq 'new';
    ($r->{json}{status} // '') eq 'rejected';
}, timeout => 10, interval => 0.3);
is $fast->{json}{status}, 'rejected',
   'once Alpaca is known down (breaker open): orders are rejected at once';
like db("SELECT reject_reason FROM trading.orders "
        . "ORDER BY created_at DESC LIMIT 1"),
     qr/unavailable/, '... "the broker is unavailable"';
$fa->restart;
wait_until(sub { $r = req(DELETE => "/v1/orders/$rest");
                 $r->{status} != 503 }, timeout => 15, interval => 0.5);
is $r->{json}{status}, 'canceled', 'Alpaca back: the cancel goes through';
my @canceled = grep { req(DELETE => "/v1/orders/$_")->{json}{status} eq
                       'canceled' } @unsent;
is scalar @canceled, scalar @unsent,
   'orders that never reached Alpaca: their cancels are taken here';
ok !(grep { $fa->order_by_client_id($_) } @unsent),
   '... and none of them is at Alpaca';

# --- wrong keys --------------------------------------------------------------

{
    my $bad = trading(secret => 'not-the-secret', args => 'poll=off');
    my $br = $bad->http(POST => '/v1/orders', headers => \%auth,
                        json => { symbol => 'AAPL', side => 'buy',
                                  type => 'market', quantity => '1' });
    ok $br->{status} < 500 || $br->{status} == 502,
       "wrong keys: answered ($br->{status})";
    # seen twice in ~120 runs: a 500 with the order left new; say why next time
    diag "answer: $br->{body}\nerror log:\n" . $bad->error_log
        unless $br->{status} < 500 || $br->{status} == 502;
    my $bid = $br->{json}{id};
    ok !$fa->order_by_client_id($bid // 'none'),
       'Alpaca refused it (401): nothing placed';
    $br = $bad->http(GET => '/health');
    is $br->{json}{checks}{alpaca}{detail}, 'keys refused',
       '/health: keys refused';
    is db("SELECT status FROM trading.orders ORDER BY created_at DESC "
          . "LIMIT 1"), 'rejected', 'rejected here';
    $bad->stop;
}

# --- every order we stored is accounted for --------------------------------

my @ours = map { $_->[0] } $pg->rows("SELECT id FROM trading.orders "
                                     . "WHERE status <> 'rejected' "
                                     . "AND broker_order_id IS NOT NULL");
my %at = map { $_->{client_order_id} => $_ } @{ $fa->orders };
my @missing = grep { !$at{$_} && $_ ne $unk } @ours;
is_deeply \@missing, [], 'every order with a broker id is at Alpaca';
is scalar(keys %at), scalar @{ $fa->orders }, '... each once';
is db("SELECT count(*) FROM trading.orders WHERE status = 'new' "
      . "AND id NOT IN ('$unk')"), 0,
   'no order left new but the one Alpaca never saw (503 throughout)';

# --- reload and quit while a poll hangs -------------------------------------

{
    my $ng2 = trading();
    $fa->stall(1);
    sleep 1.5;                      # the first poll is in flight, stalled
    my @old = $ng2->worker_pids;
    $t0 = time;
    $ng2->reload;
    wait_until(sub { !grep { kill 0, $_ } @old }, timeout => 10);
    my $took = time - $t0;
    cmp_ok $took, '<', 3,
        sprintf('reload while a poll hangs: the old worker left in %.2fs',
                $took);
    $fa->stall(0);
    is $ng2->http(GET => '/v1/portfolio', headers => \%auth)->{status}, 200,
       'the new worker answers';
    $fa->stall(1);
    sleep 1.5;
    $t0 = time;
    $ng2->stop;
    $took = time - $t0;
    cmp_ok $took, '<', 3,
        sprintf('quit while a poll hangs: %.2fs, a clean log', $took);
    $fa->stall(0);
}

done_testing;
