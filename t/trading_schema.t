#!/usr/bin/perl

# The row rules of the tables an order writes (CHECK constraints, one per
# table since 0014/0018): every rule still refuses a row that breaks it,
# with SQLSTATE 23514, and rows that keep them all (NULLs where a rule
# allows them) go in.  Straight SQL against the migrated schema.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use Kx::Test;

my $pg = start_pg();

my $U = '00000000-0000-4000-8000-000000000001';
my $O = '00000000-0000-4000-8000-0000000000aa';

# try($sql): '' when it went in, else the SQLSTATE of the error
sub try {
    my ($sql) = @_;
    my $r = $pg->psql_result("\\set VERBOSITY verbose\n$sql");
    return '' unless $r->{rc};
    return $r->{err} =~ /ERROR:\s+(\w{5}):/ ? $1 : "failed: $r->{err}";
}

# each case: [table, what, columns => values, ok?]
my @cases = (
    # portfolios
    [ portfolios => 'a good row', "user_id, currency, reserved_cash",
      "'$U', 'USD', 0", 1 ],
    [ portfolios => 'currency not 3 capitals', "user_id, currency",
      "gen_random_uuid(), 'usd'", 0 ],
    [ portfolios => 'currency too long', "user_id, currency",
      "gen_random_uuid(), 'USDX'", 0 ],
    [ portfolios => 'reserved_cash negative', "user_id, reserved_cash",
      "gen_random_uuid(), -0.01", 0 ],

    # positions
    [ positions => 'a good row', "user_id, symbol, quantity, avg_cost",
      "'$U', 'BRK.B', 1, 100", 1 ],
    [ positions => 'a current_price', "user_id, symbol, quantity, avg_cost, current_price",
      "'$U', 'AAPL', 1, 100, 101.5", 1 ],
    [ positions => 'avg_cost 0 (a position given away)', "user_id, symbol, quantity, avg_cost",
      "'$U', 'MSFT', 1, 0", 1 ],
    [ positions => 'symbol in lower case', "user_id, symbol, quantity, avg_cost",
      "'$U', 'aapl', 1, 100", 0 ],
    [ positions => 'symbol too long', "user_id, symbol, quantity, avg_cost",
      "'$U', 'ABCDEFGHIJKLMNOPQRSTU', 1, 100", 0 ],
    [ positions => 'avg_cost negative', "user_id, symbol, quantity, avg_cost",
      "'$U', 'TSLA', 1, -1", 0 ],
    [ positions => 'current_price 0', "user_id, symbol, quantity, avg_cost, current_price",
      "'$U', 'NVDA', 1, 100, 0", 0 ],

    # order_events
    [ order_events => 'a good row', "order_id, user_id, status, detail",
      "'$O', '$U', 'filled', '{\"x\":1}'", 1 ],
    (map { [ order_events => "status $_", "order_id, user_id, status",
             "'$O', '$U', '$_'", 1 ] }
         qw(new accepted partially_filled filled canceled rejected expired)),
    [ order_events => 'an unknown status', "order_id, user_id, status",
      "'$O', '$U', 'done'", 0 ],
    [ order_events => 'detail not an object', "order_id, user_id, status, detail",
      "'$O', '$U', 'new', '[1]'", 0 ],

    # trades
    [ trades => 'a good row', "user_id, order_id, symbol, side, quantity, price",
      "'$U', '$O', 'AAPL', 'buy', 0.01, 190.12", 1 ],
    [ trades => 'a fee', "user_id, order_id, symbol, side, quantity, price, fee",
      "'$U', '$O', 'AAPL', 'sell', 1, 190, 0.5", 1 ],
    [ trades => 'bad symbol', "user_id, order_id, symbol, side, quantity, price",
      "'$U', '$O', 'A APL', 'buy', 1, 1", 0 ],
    [ trades => 'bad side', "user_id, order_id, symbol, side, quantity, price",
      "'$U', '$O', 'AAPL', 'short', 1, 1", 0 ],
    [ trades => 'quantity 0', "user_id, order_id, symbol, side, quantity, price",
      "'$U', '$O', 'AAPL', 'buy', 0, 1", 0 ],
    [ trades => 'price 0', "user_id, order_id, symbol, side, quantity, price",
      "'$U', '$O', 'AAPL', 'buy', 1, 0", 0 ],
    [ trades => 'fee negative', "user_id, order_id, symbol, side, quantity, price, fee",
      "'$U', '$O', 'AAPL', 'buy', 1, 1, -0.01", 0 ],

    # outbox
    [ outbox => 'a good row', "type, user_id, payload",
      "'order.created', '$U', '{}'", 1 ],
    [ outbox => 'a kx.events row', "type, user_id, payload",
      "'kx.events', '$U', '[{\"type\":\"order.created\"}]'", 1 ],
    [ outbox => 'type without a dot', "type, user_id, payload",
      "'created', '$U', '{}'", 0 ],
    [ outbox => 'type in capitals', "type, user_id, payload",
      "'Order.Created', '$U', '{}'", 0 ],
    [ outbox => 'an array that is not kx.events', "type, user_id, payload",
      "'order.created', '$U', '[]'", 0 ],
    [ outbox => 'a scalar payload', "type, user_id, payload",
      "'order.created', '$U', '1'", 0 ],
);

for my $c (@cases) {
    my ($table, $what, $cols, $vals, $ok) = @$c;
    my $got = try("INSERT INTO trading.$table ($cols) VALUES ($vals);");
    is $got, $ok ? '' : '23514',
       "trading.$table: $what " . ($ok ? 'goes in' : 'is refused (23514)');
}

# updates are checked as well (the order path updates portfolios and
# positions)
is try("UPDATE trading.portfolios SET reserved_cash = -1 WHERE user_id = '$U';"),
   '23514', 'trading.portfolios: an UPDATE to negative reserved_cash is refused';
is try("UPDATE trading.positions SET avg_cost = -1 WHERE user_id = '$U';"),
   '23514', 'trading.positions: an UPDATE to negative avg_cost is refused';
is $pg->value("SELECT reserved_cash FROM trading.portfolios WHERE user_id = '$U'"),
   '0.00000000', '... and changes nothing';

# one CHECK per table, calling its rule function
is $pg->value(q{SELECT string_agg(conrelid::regclass || ':' || conname, ' '
                                  ORDER BY conrelid::regclass::text)
                  FROM pg_constraint
                 WHERE contype = 'c'
                   AND conrelid::regclass::text IN
                       ('trading.portfolios', 'trading.positions',
                        'trading.order_events', 'trading.trades',
                        'trading.outbox', 'trading.orders')}),
   'trading.order_events:order_events_row_check trading.orders:orders_row_check '
   . 'trading.outbox:outbox_row_check trading.portfolios:portfolios_row_check '
   . 'trading.positions:positions_row_check trading.trades:trades_row_check',
   'one CHECK per table';

$pg->stop;

done_testing;
