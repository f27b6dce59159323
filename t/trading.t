#!/usr/bin/perl

# The trading service (ngx_http_kx_trading_module) in the shipped
# trading.conf, behind the shipped gateway, with the real market service,
# PostgreSQL and Redis: portfolio, positions, orders (market, limit, ioc,
# fok, idempotency, cancel, risk checks), trades, events, concurrency
# (50 simultaneous orders each worth 10% of the cash) and the accounting
# invariant after a random sequence of fills.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes ();

use lib 't/lib';
use Kx::Test;
use Kx::Stack;

my $ports = stack_ports();
my $pg = start_pg();
my $redis = start_redis();

my $mkt = start_instance('market', ports => $ports, pg => $pg,
                         redis => $redis);
# the relay keeps what it published (kx_outbox_keep): the tests read the
# events each order wrote
my $keep = sub {
    return $_[0] =~ s/^(\s*kx_outbox\s[^\n]*\n)/$1    kx_outbox_keep on;\n/mr;
};
my $trd = start_instance('trading', ports => $ports, pg => $pg,
                         redis => $redis, workers => 2, edit => $keep);
my $gw = $ENV{KX_TRADING_DIRECT} ? $trd
       : start_instance('gateway', ports => $ports, pg => $pg,
                        redis => $redis);

my $n_user = 0;
sub new_user {
    $n_user++;
    return sprintf '%08x-0000-4000-8000-%012x', $$, $n_user;
}

sub api {
    my ($user, $method, $path, $body, %o) = @_;
    my %h = (Authorization => 'Bearer ' . stack_token($user));
    my @b = defined $body ? (ref $body ? (json => $body) : (body => $body))
                          : ();
    $h{'Content-Type'} = 'application/json' if defined $body && !ref $body;
    my $ng = $o{direct} ? $trd : $gw;
    return $ng->http($method => $path, headers => \%h, @b);
}

sub quote {
    my ($sym) = @_;
    my $r = $mkt->http(GET => "/v1/quotes/$sym", headers => {
        Authorization => 'Bearer ' . stack_token(new_user()) });
    return $r->{json};
}

sub is_err {
    my ($r, $status, $code, $name, $field) = @_;
    is $r->{status}, $status, "$name: $status";
    is $r->{json}{error}{code}, $code, "$name: $code"
        or diag explain $r->{json};
    like $r->{json}{error}{message} // '', qr/^\Q$field\E:/,
        "$name: names $field" if defined $field;
}

# --- identity and a new portfolio ------------------------------------------

my $r = $gw->http(GET => '/v1/portfolio');
is $r->{status}, 401, 'no token: 401';

$r = $trd->http(GET => '/v1/portfolio',
                headers => { Authorization => 'Bearer '
                                              . stack_token('not-a-uuid') });
is $r->{status}, 403, 'a subject that is no user id: 403';

my $u1 = new_user();
$r = api($u1, GET => '/v1/portfolio');
is $r->{status}, 200, 'GET /v1/portfolio 200';
is $r->{json}{cash_balance}, '100000.00', 'a new user starts with 100000.00';
is $r->{json}{reserved_cash}, '0.00', 'nothing reserved';
is $r->{json}{buying_power}, '100000.00', 'buying power';
is $r->{json}{total_value}, '100000.00', 'total value';
is_deeply $r->{json}{positions}, [], 'no positions';
is $pg->value("SELECT count(*) FROM trading.portfolios"
              . " WHERE user_id = '$u1'"), 1, 'created lazily, once';

$r = api($u1, GET => '/portfolio');
is $r->{status}, 200, 'unversioned /portfolio through the gateway';

$r = api($u1, GET => '/v1/positions');
is_deeply $r->{json}, { positions => [] }, 'GET /v1/positions';

# --- a market order ----------------------------------------------------------

my $q = quote('AAPL');
ok $q->{ask} > 0, 'the market quotes AAPL';

$r = api($u1, POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                      type => 'market', quantity => '10',
                                      time_in_force => 'day' });
is $r->{status}, 201, 'market buy 201' or diag explain $r->{json};
my $o1 = $r->{json};
is $o1->{status}, 'filled', 'filled at once';
is $o1->{filled_qty}, '10', 'filled_qty';
like $o1->{filled_avg_price} // '', qr/^\d+\.\d{2,8}$/, 'filled_avg_price';
like $o1->{id} // '', qr/^[0-9a-f-]{36}$/, 'an id';

my $cost = $pg->value("SELECT round(10 * $o1->{filled_avg_price}, 8)");
$r = api($u1, GET => '/v1/portfolio');
is $pg->value("SELECT $r->{json}{cash_balance}::numeric"
              . " = round(100000 - $cost, 2)"), 't', 'cash paid the fill';
is scalar @{ $r->{json}{positions} }, 1, 'one position';
my $p = $r->{json}{positions}[0];
is $p->{symbol}, 'AAPL', 'position symbol';
is $p->{quantity}, '10', 'position quantity';
is $pg->value("SELECT '$p->{avg_cost}'::numeric = $o1->{filled_avg_price}"),
    't', 'avg_cost is the fill price';
for my $f (qw(current_price market_value unrealized_pl)) {
    like $p->{$f} // '', qr/^-?\d+\.\d+$/, "position $f";
}

$r = api($u1, GET => "/v1/orders/$o1->{id}");
is $r->{status}, 200, 'GET /v1/orders/:id';
is $r->{json}{status}, 'filled', 'stored filled';

is_deeply [ map { $_->[0] } $pg->rows("SELECT status FROM trading.order_events"
                                      . " WHERE order_id = '$o1->{id}' ORDER BY id") ],
    [qw(new accepted filled)], 'every transition in order_events';
is_deeply [ map { $_->[0] } $pg->rows("SELECT type FROM trading.outbox_events"
                                      . " WHERE user_id = '$u1' ORDER BY id, n") ],
    [qw(order.created order.filled portfolio.updated)],
    'outbox events in the same transaction';
is $pg->value("SELECT count(*) FROM trading.outbox WHERE user_id = '$u1'"), 1,
    '... as one outbox row (0017)';
is $pg->value("SELECT count(DISTINCT event_id) FROM trading.outbox_events"
              . " WHERE user_id = '$u1'"), 3, '... each with its event_id';
my $fill_ev = json_decode($pg->value("SELECT payload FROM trading.outbox_events"
                                     . " WHERE user_id = '$u1'"
                                     . " AND type = 'order.filled'"));
is $fill_ev->{id}, $o1->{id}, 'order.filled carries the order';
is $fill_ev->{fill}{quantity}, '10', 'and the fill';

$r = api($u1, GET => '/v1/trades');
is $r->{status}, 200, 'GET /v1/trades';
is scalar @{ $r->{json}{trades} }, 1, 'one trade';
is $r->{json}{trades}[0]{order_id}, $o1->{id}, 'trade of the order';

# --- validation ------------------------------------------------------------

is_err(api($u1, POST => '/v1/orders', { side => 'buy', type => 'market',
                                        quantity => 1 }),
       422, 'validation_failed', 'no symbol', 'symbol');
is_err(api($u1, POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                        type => 'market',
                                        quantity => '0.0000001' }),
       422, 'validation_failed', 'seven places', 'quantity');
is_err(api($u1, POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                        type => 'limit', quantity => 1 }),
       422, 'validation_failed', 'limit without price', 'limit_price');
is_err(api($u1, POST => '/v1/orders', { symbol => 'FOOX', side => 'buy',
                                        type => 'market', quantity => 1 }),
       422, 'validation_failed', 'unknown symbol', 'symbol');
$r = api($u1, POST => '/v1/orders', '{"symbol":"AAPL",');
is $r->{status}, 400, 'malformed JSON 400';
$r = api($u1, PUT => '/v1/orders', { symbol => 'AAPL' });
is $r->{status}, 405, 'PUT /v1/orders 405';

# --- idempotent client_order_id ---------------------------------------------

my %ord = (symbol => 'MSFT', side => 'buy', type => 'market', quantity => 1,
           client_order_id => 'my-order-1');
$r = api($u1, POST => '/v1/orders', \%ord);
is $r->{status}, 201, 'with client_order_id 201';
my $id = $r->{json}{id};
$r = api($u1, POST => '/v1/orders', \%ord);
is $r->{status}, 200, 'the same client_order_id again: 200';
is $r->{json}{id}, $id, 'the original order';
is $pg->value("SELECT count(*) FROM trading.orders WHERE user_id = '$u1'"
              . " AND client_order_id = 'my-order-1'"), 1, 'stored once';
my $u2 = new_user();
$r = api($u2, POST => '/v1/orders', \%ord);
is $r->{status}, 201, 'another user may use the same client_order_id';

# --- limit orders: rest, cross, cancel ---------------------------------------

$q = quote('AMZN');
my $below = sprintf '%.2f', $q->{bid} * 0.95;
$r = api($u1, POST => '/v1/orders', { symbol => 'AMZN', side => 'buy',
                                      type => 'limit', quantity => 2,
                                      limit_price => $below,
                                      time_in_force => 'gtc' });
is $r->{status}, 201, 'limit buy below the market 201';
my $rest = $r->{json};
is $rest->{status}, 'accepted', 'it rests';
is $pg->value("SELECT reserved_amount = round(2 * $below, 2) FROM trading.orders"
              . " WHERE id = '$rest->{id}'"), 't', 'limit x qty reserved';
$r = api($u1, GET => '/v1/portfolio');
is $pg->value("SELECT '$r->{json}{reserved_cash}'::numeric"
              . " = round(2 * $below, 2)"), 't', 'portfolio reserved_cash';

$r = api($u1, GET => '/v1/orders?status=open');
is_deeply [ map { $_->{id} } @{ $r->{json}{orders} } ], [ $rest->{id} ],
    'status=open lists it';
$r = api($u1, GET => '/v1/orders?status=closed&symbol=amzn');
ok !grep({ $_->{id} eq $rest->{id} } @{ $r->{json}{orders} }),
    'status=closed does not';
is_err(api($u1, GET => '/v1/orders?status=maybe'), 422, 'validation_failed',
       'bad status', 'status');
is_err(api($u1, GET => '/v1/orders?limit=0'), 422, 'validation_failed',
       'bad limit', 'limit');
is_err(api($u1, GET => '/v1/orders?cursor=zzz'), 422, 'validation_failed',
       'bad cursor', 'cursor');

# a quote crossing the limit, as the market publisher sends it (C1)
my $cross = sprintf '%.2f', $below - 0.5;
my $msg = json_encode({ type => 'quote', symbol => 'AMZN', price => $cross,
                        bid => sprintf('%.2f', $cross - 0.02), ask => $cross,
                        bid_size => 100, ask_size => 100, sent_ns => 1 });
my $got = wait_until(sub {
    $redis->cli('PUBLISH', 'kx:quote:AMZN', $msg);
    my $x = api($u1, GET => "/v1/orders/$rest->{id}");
    return $x->{json}{status} eq 'filled' ? $x->{json} : undef;
}, timeout => 15, interval => 0.3);
ok $got, 'the resting limit order fills when a quote crosses';
is $got->{filled_avg_price}, $cross, 'at the ask of that quote' if $got;
is $pg->value("SELECT reserved_cash FROM trading.portfolios"
              . " WHERE user_id = '$u1'"), '0.00000000',
    'its reserve is released';

# a limit through the market fills at once, at the market
$q = quote('MSFT');
$r = api($u1, POST => '/v1/orders', { symbol => 'MSFT', side => 'buy',
                                      type => 'limit', quantity => 1,
                                      limit_price => sprintf('%.2f',
                                                             $q->{ask} * 1.05) });
is $r->{status}, 201, 'marketable limit 201';
is $r->{json}{status}, 'filled', 'marketable limit fills at once';
cmp_ok $r->{json}{filled_avg_price}, '<=', $q->{ask} * 1.05, 'at or under the limit';

# ioc and fok that cannot fill end at once, without a fill
for my $tif (qw(ioc fok)) {
    $r = api($u1, POST => '/v1/orders', { symbol => 'MSFT', side => 'buy',
                                          type => 'limit', quantity => 1,
                                          limit_price => sprintf('%.2f',
                                                                 $q->{bid} * 0.95),
                                          time_in_force => $tif });
    is $r->{status}, 201, "$tif 201";
    is $r->{json}{status}, 'canceled', "$tif that cannot fill is canceled";
    is $r->{json}{filled_qty}, '0', "$tif filled nothing";
    $r = api($u1, POST => '/v1/orders', { symbol => 'MSFT', side => 'buy',
                                          type => 'market', quantity => 1,
                                          time_in_force => $tif });
    is $r->{json}{status}, 'filled', "$tif market fills";
}

# cancel
$r = api($u1, POST => '/v1/orders', { symbol => 'TSLA', side => 'buy',
                                      type => 'limit', quantity => 1,
                                      limit_price => sprintf('%.2f',
                                          quote('TSLA')->{bid} * 0.95),
                                      time_in_force => 'day' });
my $c = $r->{json};
is $c->{status}, 'accepted', 'a day limit rests';
is_err(api($u2, DELETE => "/v1/orders/$c->{id}"), 404, 'not_found',
       "another user's cancel");
is_err(api($u2, GET => "/v1/orders/$c->{id}"), 404, 'not_found',
       "another user's order");
$r = api($u1, DELETE => "/v1/orders/$c->{id}");
is $r->{status}, 200, 'DELETE /v1/orders/:id 200';
is $r->{json}{status}, 'canceled', 'canceled';
like $r->{json}{canceled_at} // '', qr/^\d{4}-/, 'canceled_at';
is_err(api($u1, DELETE => "/v1/orders/$c->{id}"), 422,
       'order_not_cancelable', 'cancel twice');
is_err(api($u1, DELETE => "/v1/orders/$o1->{id}"), 422,
       'order_not_cancelable', 'cancel of a filled order');
is_err(api($u1, GET => '/v1/orders/not-a-uuid'), 404, 'not_found',
       'a malformed id');
is $pg->value("SELECT reserved_cash FROM trading.portfolios"
              . " WHERE user_id = '$u1'"), '0.00000000',
    'cancel released the reserve';

# --- stop orders, notional orders, day expiry ------------------------------------

my $u7 = new_user();
$q = quote('META');
my $stop = sprintf '%.2f', $q->{ask} * 1.05;
$r = api($u7, POST => '/v1/orders', { symbol => 'META', side => 'buy',
                                      type => 'stop', quantity => 1,
                                      stop_price => $stop,
                                      time_in_force => 'gtc' });
is $r->{status}, 201, 'buy stop above the market 201';
my $so = $r->{json};
is $so->{status}, 'accepted', 'the stop rests';
my $up = sprintf '%.2f', $stop + 0.10;
$msg = json_encode({ type => 'quote', symbol => 'META', price => $up,
                     bid => sprintf('%.2f', $up - 0.02), ask => $up,
                     bid_size => 100, ask_size => 100 });
$got = wait_until(sub {
    $redis->cli('PUBLISH', 'kx:quote:META', $msg);
    my $x = api($u7, GET => "/v1/orders/$so->{id}");
    return $x->{json}{status} eq 'filled' ? $x->{json} : undef;
}, timeout => 15, interval => 0.3);
ok $got, 'the stop triggers and fills when the ask reaches it';
is $got->{filled_avg_price}, $up, 'at the ask' if $got;
ok $pg->value("SELECT triggered_at IS NOT NULL FROM trading.orders"
              . " WHERE id = '$so->{id}'") eq 't', 'triggered_at recorded';

$r = api($u7, POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                      type => 'market', notional => '1000' });
is $r->{status}, 201, 'notional market buy 201';
is $r->{json}{status}, 'filled', 'notional order filled';
cmp_ok $r->{json}{filled_qty} * $r->{json}{filled_avg_price}, '<=', 1000,
    'never spends more than the notional';

$r = api($u7, POST => '/v1/orders', { symbol => 'AAPL', side => 'sell',
                                      type => 'limit', quantity => '0.5',
                                      limit_price => sprintf('%.2f',
                                          quote('AAPL')->{ask} * 1.05),
                                      time_in_force => 'day' });
is $r->{status}, 201, 'day limit sell above the market 201';
my $day = $r->{json};
is $day->{status}, 'accepted', 'it rests';
is_err(api($u7, POST => '/v1/orders', { symbol => 'AAPL', side => 'sell',
                                        type => 'market',
                                        quantity => $r->{json}{qty} + 100 }),
       403, 'insufficient_position', 'shares promised to a sell count');
# as if placed in an earlier session: the sweeper expires it
$pg->psql("UPDATE trading.orders SET created_at = now() - interval '3 days'"
          . " WHERE id = '$day->{id}'");
$got = wait_until(sub {
    my $x = api($u7, GET => "/v1/orders/$day->{id}");
    return $x->{json}{status} eq 'expired' ? $x->{json} : undef;
}, timeout => 10, interval => 0.3);
ok $got, 'a day order expires after the close of its session';
like $got->{expired_at} // '', qr/^\d{4}-/, 'expired_at' if $got;
is $pg->value("SELECT count(*) FROM trading.outbox_events"
              . " WHERE user_id = '$u7' AND type = 'order.cancelled'"
              . " AND payload->>'status' = 'expired'"), 1,
    'order.cancelled with status expired in the outbox';

# --- risk checks ---------------------------------------------------------------

is_err(api($u1, POST => '/v1/orders', { symbol => 'NVDA', side => 'sell',
                                        type => 'market', quantity => 1 }),
       403, 'insufficient_position', 'no short selling');
is_err(api($u1, POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                        type => 'market',
                                        quantity => 1000000 }),
       403, 'insufficient_buying_power', 'more than the cash');
is_err(api($u1, POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                        type => 'limit', quantity => 1,
                                        limit_price => sprintf('%.2f',
                                            quote('AAPL')->{ask} * 2) }),
       422, 'price_outside_collar', 'a limit far outside the collar');

my $u3 = new_user();
api($u3, GET => '/v1/portfolio');
$pg->psql("INSERT INTO trading.risk_limits (user_id, max_order_value,"
          . " max_open_orders) VALUES ('$u3', 1000, 1)");
is_err(api($u3, POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                        type => 'market', notional => 2000 }),
       403, 'order_value_exceeds_limit', 'max_order_value');
$r = api($u3, POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                      type => 'limit', quantity => 1,
                                      limit_price => sprintf('%.2f',
                                          quote('AAPL')->{bid} * 0.95),
                                      time_in_force => 'gtc' });
is $r->{status}, 201, 'one open order';
is_err(api($u3, POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                        type => 'limit', quantity => 1,
                                        limit_price => sprintf('%.2f',
                                            quote('AAPL')->{bid} * 0.95),
                                        time_in_force => 'gtc' }),
       403, 'too_many_open_orders', 'max_open_orders');

my $u9 = new_user();
api($u9, GET => '/v1/portfolio');
$pg->psql("INSERT INTO trading.risk_limits (user_id, max_position_value,"
          . " allow_short) VALUES ('$u9', 1000, true)");
is_err(api($u9, POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                        type => 'market', notional => 1500 }),
       403, 'position_limit_exceeded', 'max_position_value');
$r = api($u9, POST => '/v1/orders', { symbol => 'AAPL', side => 'sell',
                                      type => 'market', quantity => 1 });
is $r->{status}, 201, 'allow_short: a sell without shares';
is $r->{json}{status}, 'filled', 'filled';
is $pg->value("SELECT quantity FROM trading.positions WHERE user_id = '$u9'"),
    '-1.00000000', 'a short position';
$r = api($u9, POST => '/v1/orders', { symbol => 'AAPL', side => 'buy',
                                      type => 'market', quantity => 1 });
is $r->{json}{status}, 'filled', 'covered';
is $pg->value("SELECT count(*) FROM trading.positions WHERE user_id = '$u9'"),
    0, 'flat: the position is gone';
is $pg->value("SELECT round(cash_balance - realized_pl, 2)"
              . " FROM trading.portfolios WHERE user_id = '$u9'"),
    '100000.00', 'cash - realized_pl is the start when flat';

# --- 50 simultaneous orders, each worth 10% of the cash ------------------------
# (to the trading instance itself: the gateway's orders rate limit would
# refuse most of them before they arrive)

sub post_concurrent {
    my ($user, $bodies) = @_;
    my $tok = stack_token($user);
    my (%c, @res);
    my $sel = IO::Select->new;
    for my $i (0 .. $#$bodies) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $trd->port, Proto => 'tcp',
                                      Timeout => 10) or die "connect: $!";
        binmode $s;
        my $b = json_encode($bodies->[$i]);
        syswrite $s, "POST /v1/orders HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                     . "Authorization: Bearer $tok\r\n"
                     . "Content-Type: application/json\r\n"
                     . 'Content-Length: ' . length($b) . "\r\n\r\n$b";
        $c{fileno $s} = { s => $s, i => $i, buf => '' };
        $sel->add($s);
    }
    my $deadline = time + 30;
    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read(0.2)) {
            my $x = $c{fileno $s};
            my $n = sysread($s, $x->{buf}, 65536, length $x->{buf});
            next if $n;
            $sel->remove($s);
            close $s;
            my ($st) = $x->{buf} =~ m{^HTTP/1\.\d (\d+)};
            $res[$x->{i}] = $st // 0;
        }
    }
    return @res;
}

my $u4 = new_user();
$q = quote('AAPL');
my $lim = sprintf '%.2f', $q->{bid} * 0.95;
my $qty = $pg->value("SELECT floor(10000 / $lim * 1000000) / 1000000");
my @st = post_concurrent($u4, [ map { { symbol => 'AAPL', side => 'buy',
                                        type => 'limit', quantity => "$qty",
                                        limit_price => $lim,
                                        time_in_force => 'gtc' } } 1 .. 50 ]);
my $ok = grep { $_ == 201 } @st;
my $bp = grep { $_ == 403 } @st;
is $ok + $bp, 50, '50 answers: 201 or 403' or diag "@st";
is $ok, 10, 'exactly 10 orders of 10% accepted';
is $pg->value("SELECT count(*) FROM trading.orders WHERE user_id = '$u4'"),
    $ok, 'as many orders stored';
is $pg->value("SELECT p.reserved_cash = (SELECT sum(reserved_amount)"
              . " FROM trading.orders WHERE user_id = p.user_id"
              . " AND status IN ('new','accepted','partially_filled'))"
              . " AND p.reserved_cash <= p.cash_balance"
              . " FROM trading.portfolios p WHERE user_id = '$u4'"), 't',
    'reserved_cash is the sum of the open orders, never above the cash';

# the same with market orders: cash never goes negative
my $u5 = new_user();
my $mq = $pg->value("SELECT floor(10000 / $q->{ask} * 1000000) / 1000000");
@st = post_concurrent($u5, [ map { { symbol => 'AAPL', side => 'buy',
                                     type => 'market', quantity => "$mq" } }
                             1 .. 50 ]);
$ok = grep { $_ == 201 } @st;
cmp_ok $ok, '<=', 10, "at most 10 market orders of 10% filled ($ok)";
cmp_ok $ok, '>=', 1, 'some filled';
is $pg->value("SELECT cash_balance >= 0 AND reserved_cash = 0"
              . " FROM trading.portfolios WHERE user_id = '$u5'"), 't',
    'cash never negative';

# one client_order_id sent 20 times at once: one order, every answer is it
# (the losers of the race are decided again under the lock, which must
# look the order up by its client_order_id)
my $u_race = new_user();
@st = post_concurrent($u_race, [ map { { symbol => 'AAPL', side => 'buy',
                                         type => 'market', quantity => '1',
                                         client_order_id => 'race-1' } }
                                 1 .. 20 ]);
is scalar(grep { $_ == 201 } @st), 1, 'the same client_order_id 20 times '
    . 'at once: one 201' or diag "@st";
is scalar(grep { $_ == 200 } @st), 19, '... and 19 answers 200 (the original)'
    or diag "@st";
is $pg->value("SELECT count(*) FROM trading.orders"
              . " WHERE user_id = '$u_race'"), 1, '... one order stored';

# --- pagination ----------------------------------------------------------------

my @seen;
my $cursor;
for (1 .. 20) {
    $r = api($u1, GET => '/v1/orders?status=all&limit=3'
                         . ($cursor ? "&cursor=$cursor" : ''));
    push @seen, map { $_->{id} } @{ $r->{json}{orders} };
    $cursor = $r->{json}{next_cursor} or last;
}
my $all = $pg->value("SELECT count(*) FROM trading.orders"
                     . " WHERE user_id = '$u1'");
is scalar @seen, $all, 'cursor pagination visits every order';
my %uniq = map { $_ => 1 } @seen;
is scalar keys %uniq, $all, 'each once';

# --- the accounting invariant after a random sequence ---------------------------
# (to the trading instance itself, past the gateway's orders rate limit)

my $u6 = new_user();
srand(42);
my %held;
my ($n201, $n403) = (0, 0);
for my $i (1 .. 200) {
    my $sym = (qw(AAPL MSFT TSLA))[int rand 3];
    my $side = rand() < 0.55 ? 'buy' : 'sell';
    my $q6 = sprintf '%.6f', 0.5 + rand 20;
    $q6 =~ s/0+$//;
    $r = api($u6, POST => '/v1/orders', { symbol => $sym, side => $side,
                                          type => 'market', quantity => $q6 },
             direct => 1);
    $r->{status} == 201 ? $n201++ : $r->{status} == 403 ? $n403++
                        : diag "replay $i: $r->{status} $r->{body}";
}
is $n201 + $n403, 200, "200 random orders: $n201 filled, $n403 refused";
is $pg->value("SELECT round(p.cash_balance + coalesce((SELECT"
              . " sum(quantity * avg_cost) FROM trading.positions"
              . " WHERE user_id = p.user_id), 0) - p.realized_pl, 2)"
              . " FROM trading.portfolios p WHERE user_id = '$u6'"),
    '100000.00', 'cash + sum(quantity x avg_cost) - realized_pl == start';
is $pg->value("SELECT count(*) FROM trading.trades WHERE user_id = '$u6'"),
    $n201, 'one trade per filled order';
is $pg->value("SELECT bool_and(quantity > 0) FROM trading.positions"
              . " WHERE user_id = '$u6'") // 't', 't', 'never short';

# --- a stalled database: no blocking, a JSON 5xx ---------------------------------

{
    my $u8 = new_user();
    api($u8, GET => '/v1/portfolio', undef, direct => 1);
    $pg->kill_stop;
    my $tok = stack_token($u8);
    my $b = json_encode({ symbol => 'AAPL', side => 'buy', type => 'market',
                          quantity => 1 });
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $trd->port, Proto => 'tcp',
                                  Timeout => 5) or die "connect: $!";
    syswrite $s, "POST /v1/orders HTTP/1.0\r\nHost: x\r\n"
                 . "Authorization: Bearer $tok\r\n"
                 . "Content-Type: application/json\r\n"
                 . 'Content-Length: ' . length($b) . "\r\n\r\n$b";
    my $t0 = Time::HiRes::time();
    my $h = $trd->http(GET => '/v1/quotes-not-here');
    ok Time::HiRes::time() - $t0 < 2,
        'while an order waits for the database, the worker answers others';
    my $buf = '';
    my $sel = IO::Select->new($s);
    while ($sel->can_read(15)) {
        last unless sysread($s, $buf, 65536, length $buf);
    }
    $pg->kill_cont;
    my ($st) = $buf =~ m{^HTTP/1\.\d (\d+)};
    like $st // '', qr/^50[34]$/, "the stalled order gets a 503/504 ($st)";
    like $buf, qr/"error":\{"code":"database_/, 'with a JSON error';
    wait_until(sub { api($u8, GET => '/v1/portfolio', undef,
                         direct => 1)->{status} == 200 }, timeout => 15);
    # the order's statement may or may not have committed before the
    # timeout: either way the account is whole
    is $pg->value("SELECT round(p.cash_balance + coalesce((SELECT"
                  . " sum(quantity * avg_cost) FROM trading.positions"
                  . " WHERE user_id = p.user_id), 0) - p.realized_pl, 2)"
                  . " = 100000 AND (SELECT count(*) FROM trading.orders"
                  . " WHERE user_id = p.user_id) = (SELECT count(*)"
                  . " FROM trading.trades WHERE user_id = p.user_id)"
                  . " FROM trading.portfolios p WHERE user_id = '$u8'"),
       't', 'the account is consistent afterwards';
}

done_testing;
