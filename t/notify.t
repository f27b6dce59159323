#!/usr/bin/perl

# The notification service (ngx_http_kx_notify_module) in the shipped
# notify.conf: the WebSocket (RFC 6455 handshake and framing, three ways
# to authenticate, quotes from Redis pub/sub, the user's own events and
# their replay, slow consumers, Redis down and up), and GET
# /v1/notifications, GET|PUT /v1/preferences; then the same through the
# shipped gateway.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time sleep);
use IO::Socket::INET;

use lib 't/lib';
use Kx::Test;
use Kx::Stack;

my $ports = stack_ports();
my $pg = start_pg();
my $redis = start_redis();

my $ntf = start_instance('notify', ports => $ports, pg => $pg,
                         redis => $redis);

my $U1 = '11111111-1111-4111-8111-111111111111';
my $U2 = '22222222-2222-4222-8222-222222222222';
my $T1 = stack_token($U1);
my $T2 = stack_token($U2);

sub ws {
    my ($path, %o) = @_;
    return ws_connect($ntf->ws_url($path), %o);
}

sub ws_auth {
    my ($token, $path, %o) = @_;
    return ws($path // '/ws',
              headers => { Authorization => "Bearer $token" }, %o);
}

sub next_type {
    my ($w, $type, $t) = @_;
    return $w->recv_json_until(sub { ($_[0]{type} // '') eq $type }, $t // 3);
}

# a quote as the market publishes it (contract C1)
my $qn = 0;
sub quote {
    my ($sym, %x) = @_;
    $qn++;
    return json_encode({ type => 'quote', symbol => $sym,
                         price => "100.$qn", bid => '100.00', ask => '100.02',
                         timestamp => 1_700_000_000_000 + $qn, %x });
}

sub publish {
    my ($chan, $msg) = @_;
    return $redis->command('PUBLISH', $chan, $msg);
}

# wait until this worker subscribed to the channel
sub wait_subscribed {
    my ($chan) = @_;
    return wait_until(sub {
        my $r = $redis->command('PUBSUB', 'NUMSUB', $chan);
        $r->[1] >= 1;
    }, timeout => 5);
}

# --- handshake ------------------------------------------------------------

my $r = $ntf->http(GET => '/ws', headers => { Authorization => "Bearer $T1" });
is $r->{status}, 400, 'plain GET /ws: 400';
is $r->{json}{error}{code}, 'bad_handshake', 'bad_handshake';

my $raw = sub {
    my (%h) = @_;
    my $req = "GET /ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $T1\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    return http_raw($ntf->port, "$req\r\n", timeout => 2, until => qr/\r\n\r\n.*\}/s);
};

my %good = (Upgrade => 'websocket', Connection => 'Upgrade',
            'Sec-WebSocket-Version' => 13,
            'Sec-WebSocket-Key' => 'dGhlIHNhbXBsZSBub25jZQ==');

my $resp = parse_http_response($raw->(%good, 'Sec-WebSocket-Key' => 'short'));
is $resp->{status}, 400, 'bad key: 400';
$resp = parse_http_response($raw->(%good, 'Sec-WebSocket-Version' => 8));
is $resp->{status}, 426, 'version 8: 426';
is $resp->{headers}{'sec-websocket-version'}, '13', 'names version 13';
my %nover = %good; delete $nover{'Sec-WebSocket-Version'};
$resp = parse_http_response($raw->(%nover));
is $resp->{status}, 400, 'no version: 400';
my %noup = %good; delete $noup{Upgrade};
$resp = parse_http_response($raw->(%noup));
is $resp->{status}, 400, 'no Upgrade: 400';

my $w = ws('/ws?token=bad.token.here', allow_fail => 1);
is $w->status, 401, 'bad token on the handshake: 401';

$w = ws_auth($T1);
is $w->status, 101, 'handshake with a bearer token: 101';
ok $w->header('x-request-id'), '101 carries X-Request-ID';

# --- subscribe and quotes -------------------------------------------------

$w->send_json({ action => 'subscribe', symbols => ['AAPL', 'tsla'] });
my $m = next_type($w, 'subscribed');
is_deeply [sort @{ $m->{symbols} // [] }], ['AAPL', 'TSLA'], 'subscribed AAPL, TSLA';
ok wait_subscribed('kx:quote:AAPL'), 'the worker subscribed kx:quote:AAPL';

my @sent = map { quote('AAPL') } 1 .. 5;
publish('kx:quote:AAPL', $_) for @sent;
my @got;
while (@got < 5) {
    my $msg = $w->recv(3) // last;
    push @got, $msg if $msg =~ /"type":"quote"/;
}
is_deeply \@got, \@sent, 'quotes arrive byte for byte, in order';
my @ts = map { json_decode($_)->{timestamp} } @got;
ok((!grep { $ts[$_] <= $ts[$_ - 1] } 1 .. $#ts), 'timestamps increase');

publish('kx:quote:MSFT', quote('MSFT'));
publish('kx:quote:TSLA', quote('TSLA'));
$m = next_type($w, 'quote');
is $m->{symbol}, 'TSLA', 'not subscribed to MSFT: the next is TSLA';

$w->send_json({ action => 'unsubscribe', symbols => ['AAPL'] });
$m = next_type($w, 'unsubscribed');
is_deeply $m->{symbols}, ['TSLA'], 'unsubscribed AAPL: TSLA left';
publish('kx:quote:AAPL', quote('AAPL'));
publish('kx:quote:TSLA', quote('TSLA', marker => 'after'));
$m = next_type($w, 'quote');
is $m->{marker}, 'after', 'no AAPL after unsubscribe';

$w->send_json({ action => 'subscribe', symbols => ['NOPE1'] });
$m = next_type($w, 'error');
is $m->{code}, 'unknown_symbol', 'unknown symbol: error message';
$w->send_text('not json');
$m = next_type($w, 'error');
is $m->{code}, 'invalid_json', 'not JSON: error message';
$w->send_json({ action => 'fly' });
$m = next_type($w, 'error');
is $m->{code}, 'unknown_action', 'unknown action';
$w->send_json({ action => 'ping' });
ok next_type($w, 'pong'), 'application ping: pong';

# --- framing --------------------------------------------------------------

$w->send_ping('abc');
my $f = $w->recv_frame(3);
is $f->{type}, 'pong', 'ping: pong frame';
is $f->{payload}, 'abc', 'pong echoes the payload';

# a subscribe in three fragments, a ping between them
my $msg = json_encode({ action => 'subscribe', symbols => ['MSFT'] });
my @parts = (substr($msg, 0, 5), substr($msg, 5, 10), substr($msg, 15));
$w->_send_frame(text => $parts[0], fin => 0);
$w->send_ping('mid');
$w->_send_frame(continuation => $parts[1], fin => 0);
$w->_send_frame(continuation => $parts[2], fin => 1);
$f = $w->recv_frame(3);
is $f->{type}, 'pong', 'ping between fragments answered at once';
$m = next_type($w, 'subscribed');
ok((grep { $_ eq 'MSFT' } @{ $m->{symbols} }), 'fragmented message assembled');

is $w->close(1000, 'bye'), 1000, 'close handshake: 1000 echoed';

# unmasked frame: 1002
$w = ws_auth($T1);
$w->send_raw("\x81\x02hi");
$f = $w->recv_frame(3);
is $f->{type}, 'close', 'unmasked frame: closed';
is $f->{code}, 1002, 'with 1002';

# invalid UTF-8: 1007
$w = ws_auth($T1);
$w->_send_frame(text => "\xc0\xaf");
$f = $w->recv_frame(3);
is $f->{code}, 1007, 'invalid UTF-8: 1007';

# continuation without a start: 1002
$w = ws_auth($T1);
$w->_send_frame(continuation => 'x', fin => 1);
$f = $w->recv_frame(3);
is $f->{code}, 1002, 'stray continuation: 1002';

# binary: 1003
$w = ws_auth($T1);
$w->send_binary("\x01\x02");
$f = $w->recv_frame(3);
is $f->{code}, 1003, 'binary message: 1003';

# too big: 1009 (64k by default)
$w = ws_auth($T1);
$w->send_text('x' x 70000);
$f = $w->recv_frame(3);
is $f->{code}, 1009, 'message over 64k: 1009';

# --- authentication, the other two ways ------------------------------------

$w = ws("/ws?token=$T2");
is $w->status, 101, 'token as a query argument: 101';
$w->close;

$w = ws('/ws');
is $w->status, 101, 'no token: the upgrade goes through';
$w->send_json({ action => 'subscribe', symbols => ['AAPL'] });
$m = next_type($w, 'error');
is $m->{code}, 'unauthorized', 'subscribe before auth: unauthorized';
$w->send_json({ action => 'auth', token => $T1 });
$m = next_type($w, 'authenticated');
is $m->{user_id}, $U1, 'first-message auth';
$w->send_json({ action => 'auth', token => $T1 });
is next_type($w, 'error')->{code}, 'already_authenticated', 'only once';
$w->close;

$w = ws('/ws');
$w->send_json({ action => 'auth', token => 'x.y.z' });
is next_type($w, 'error')->{code}, 'invalid_token', 'bad first-message token';
$f = $w->recv_frame(3);
is $f->{code}, 1008, 'then closed with 1008';

$w = ws('/ws');
$w->send_json({ action => 'auth',
                token => stack_token($U1, exp => int(time) - 3600,
                                    iat => int(time) - 7200) });
is next_type($w, 'error')->{code}, 'token_expired', 'expired first-message token';

# --- user events (C3, C5) -------------------------------------------------

my $eseq = 0;
sub uuid4 {
    my $h = join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
    substr($h, 12, 1) = '4';
    return join '-', substr($h, 0, 8), substr($h, 8, 4), substr($h, 12, 4),
                     substr($h, 16, 4), substr($h, 20);
}

# what the outbox relay does for one row (contract C3)
sub emit {
    my ($uid, $type, $data, %o) = @_;
    my $eid = $o{event_id} // uuid4();
    my $at = '2026-01-02T03:04:05Z';
    my $payload = json_encode($data);
    my @f = (event_id => $eid, type => $type, user_id => $uid,
             payload => $payload, occurred_at => $at, source => 'trading');
    my $id = $redis->command('XADD', 'kx:events', 'MAXLEN', '~', 1000000,
                             '*', @f);
    $redis->command('XADD', "kx:events:user:$uid", 'MAXLEN', '~', 1000,
                    $id, @f);
    unless ($o{no_publish}) {
        publish("kx:user:$uid",
                '{"id":"' . $id . '","event_id":"' . $eid . '","type":"'
                . $type . '","data":' . $payload . ',"occurred_at":"'
                . $at . '"}');
    }
    return wantarray ? ($id, $eid) : $id;
}

sub fill {
    my ($sym, %o) = @_;
    return { id => uuid4(), symbol => $sym, side => 'buy', status => 'filled',
             quantity => '10', fill => { price => '228.50', quantity => '10',
                                         trade_id => uuid4() }, %o };
}

my $w1 = ws_auth($T1);
my $w2 = ws("/ws?token=$T2");
ok wait_subscribed("kx:user:$U1") && wait_subscribed("kx:user:$U2"),
   'the worker follows both users';

my ($e1) = emit($U1, 'order.filled', fill('AAPL'));
$m = $w1->recv_json(3);
is $m->{type}, 'order_filled', 'U1 gets order_filled';
is $m->{seq}, $e1, 'with the stream entry id as seq';
is $m->{data}{fill}{price}, '228.50', 'and the payload';
emit($U2, 'portfolio.updated', { cash_balance => '100.00' });
$m = $w2->recv_json(3);
is $m->{type}, 'portfolio_update', 'U2 gets only their own (the first is theirs)';
$w1->send_json({ action => 'ping' });
is $w1->recv_json(3)->{type}, 'pong', "U1 did not get U2's event";

# --- replay ---------------------------------------------------------------

my @ids = map { scalar emit($U1, 'order.filled', fill('MSFT', n => $_)) } 1 .. 4;
my @live = map { $w1->recv_json(3)->{seq} } 1 .. 4;
is_deeply \@live, \@ids, 'live events in order';
$w1->close;

# missed while away
my @missed = map { scalar emit($U1, 'order.cancelled', fill('TSLA', n => $_)) } 1 .. 3;
my $w3 = ws_auth($T1, "/ws?last_event_id=$ids[1]");
my $more = emit($U1, 'order.filled', fill('AAPL', n => 9));
my @seq;
while (my $x = $w3->recv_json(2)) {
    push @seq, $x->{seq} if $x->{seq};
    last if @seq == 6;
}
is_deeply \@seq, [@ids[2, 3], @missed, $more],
    'reconnect with last_event_id: the missed ones, then live, no gap, no duplicate';
$w3->close;

# resume as a message, and a burst racing the replay
my $w4 = ws_auth($T1);
$w4->send_json({ action => 'resume', last_event_id => $missed[0] });
my @burst = map { scalar emit($U1, 'order.filled', fill('AMZN', n => $_)) } 1 .. 20;
@seq = ();
while (my $x = $w4->recv_json(2)) {
    push @seq, $x->{seq} if $x->{seq};
    last if @seq == 23;
}
is_deeply \@seq, [@missed[1, 2], $more, @burst],
    'resume while events keep coming: every one once, in order';
$w4->close;

$w = ws_auth($T1, '/ws?last_event_id=bogus', allow_fail => 1);
is $w->status, 400, 'bad last_event_id: 400';

done_testing();
