#!/usr/bin/perl

# POST /v1/notifications (the seed's "send notification"): a user's own
# alert becomes an "alert" domain event on kx:events and the user's
# stream, reaches their open WebSockets at once (and nobody else's), is
# replayable, and is stored by the notify consumer for GET
# /v1/notifications.  Bad bodies are 422 and publish nothing; Redis down
# is 503.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use Kx::Test;
use Kx::Stack;

my $ports = stack_ports();
my $pg = start_pg();
my $redis = start_redis();

my $ntf = start_instance('notify', ports => $ports, pg => $pg,
                         redis => $redis);

my $U1 = '31111111-1111-4111-8111-111111111111';
my $U2 = '32222222-2222-4222-8222-222222222222';
my %h1 = (Authorization => 'Bearer ' . stack_token($U1));

sub ws_user {
    my ($uid, $path) = @_;
    return ws_connect($ntf->ws_url($path // '/ws'),
                      headers => { Authorization => 'Bearer '
                                                    . stack_token($uid) });
}

sub send_alert {
    my ($json, %h) = @_;
    return $ntf->http(POST => '/v1/notifications',
                      headers => { %h1, %h }, json => $json);
}

my $w1 = ws_user($U1);
my $w2 = ws_user($U2);
ok wait_until(sub {
    my $r = $redis->command('PUBSUB', 'NUMSUB', "kx:user:$U1",
                            "kx:user:$U2");
    $r->[1] >= 1 && $r->[3] >= 1;
}), 'both users are followed';

my $len0 = $redis->command('XLEN', 'kx:events') // 0;

my $r = send_alert({ title => 'AAPL above 200', message => 'at 200.01',
                     data => { symbol => 'AAPL', price => '200.01' } });
is $r->{status}, 202, 'POST /v1/notifications: 202';
my $a = $r->{json} // {};
is $a->{type}, 'alert', '... an alert';
like $a->{id} // '', qr/^\d+-\d+$/, '... with its stream entry id';
like $a->{event_id} // '', qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    '... and a v4 event id';
like $a->{occurred_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    '... and its time';

my $m = $w1->recv_json(3) // {};
is $m->{type}, 'alert', 'the sender\'s socket gets the alert';
is $m->{seq}, $a->{id}, '... with the entry id as seq';
is $m->{data}{title}, 'AAPL above 200', '... title';
is $m->{data}{data}{price}, '200.01', '... and data, exactly';

$w2->send_json({ action => 'ping' });
is(($w2->recv_json(3) // {})->{type}, 'pong',
   "another user's socket got nothing");

is $redis->command('XLEN', 'kx:events'), $len0 + 1,
    'one event on kx:events';
my $e = $redis->command('XRANGE', "kx:events:user:$U1", '-', '+');
is scalar @$e, 1, "one entry on the user's stream";
is $e->[0][0], $a->{id}, '... with the same id';
my %f = @{ $e->[0][1] };
is $f{type}, 'alert', '... type alert';
is $f{user_id}, $U1, '... of the sender';

# stored by the consumer: GET /v1/notifications
my $list;
ok wait_until(sub {
    $list = $ntf->http(GET => '/v1/notifications', headers => \%h1)->{json};
    grep { ($_->{type} // '') eq 'alert' } @{ $list->{notifications} // [] };
}, timeout => 10), 'the alert is listed by GET /v1/notifications';
my ($n) = grep { $_->{type} eq 'alert' } @{ $list->{notifications} // [] };
is $n->{title}, 'AAPL above 200', '... with its title';
is $n->{body}, 'at 200.01', '... and message as body';

my $l2 = $ntf->http(GET => '/v1/notifications',
    headers => { Authorization => 'Bearer ' . stack_token($U2) })->{json};
ok !grep({ $_->{type} eq 'alert' } @{ $l2->{notifications} // [] }),
    'not in the other user\'s list';

# replay after a reconnect
my ($first) = $a->{id};
send_alert({ title => 'second' });
is(($w1->recv_json(3) // {})->{data}{title}, 'second', 'live: second');
$w1->close;
my $w3 = ws_user($U1, "/ws?last_event_id=$first");
$m = $w3->recv_json(3) // {};
is $m->{type}, 'alert', 'reconnect with last_event_id: the missed alert';
is $m->{data}{title}, 'second', '... the second one';

# --- errors -----------------------------------------------------------------

my $len1 = $redis->command('XLEN', 'kx:events');

for my $case (
    [ {},                                  'title',   'no title' ],
    [ { title => '' },                     'title',   'empty title' ],
    [ { title => 'x' x 201 },              'title',   'title too long' ],
    [ { title => 'a', message => 7 },      'message', 'message not a string' ],
    [ { title => 'a', data => [1] },       'data',    'data not an object' ],
    [ { title => 'a', type => 'order_filled' }, 'type', 'a forged type' ],
) {
    my ($body, $field, $name) = @$case;
    $r = send_alert($body);
    is $r->{status}, 422, "$name: 422";
    like $r->{json}{error}{message} // '', qr/^\Q$field\E:/,
        "$name: names $field";
}

$r = $ntf->http(POST => '/v1/notifications',
                headers => { %h1, 'Content-Type' => 'application/json' },
                body => '{"title":');
is $r->{status}, 400, 'malformed JSON: 400';
is $r->{json}{error}{code} // '', 'malformed_json', '... malformed_json'
    or diag $r->{body};

$r = $ntf->http(POST => '/v1/notifications', json => { title => 'x' });
is $r->{status}, 401, 'no token: 401';

is $redis->command('XLEN', 'kx:events'), $len1,
    'no bad request published anything';

$r = $ntf->http(DELETE => '/v1/notifications', headers => \%h1);
is $r->{status}, 405, 'DELETE: 405';

$redis->stop;
# once the service knows (a command sent before it noticed is "connection
# lost" instead, also a 503)
ok wait_until(sub { $ntf->http(GET => '/health')->{status} == 503 },
              timeout => 10), 'Redis down: /health says so';
$r = send_alert({ title => 'while Redis is down' });
is $r->{status}, 503, 'Redis down: 503';
is $r->{json}{error}{code} // '', 'redis_unavailable', '... JSON error'
    or diag $r->{body};

done_testing;
