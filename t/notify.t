#!/usr/bin/perl

# The notification service (ngx_http_kx_notify_module) in the shipped
# notify.conf: the WebSocket (RFC 6455 handshake and framing, three ways
# to authenticate, quotes from Redis pub/sub, the user's own events and
# their replay, slow consumers, Redis down and up), and GET
# /v1/notifications, GET|PUT /v1/preferences; then the same through the
# shipped gateway.

use strict;
use warnings;
use feature 'state';

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

sub kx_symbol {
    my ($i) = @_;
    state $syms = do {
        [qw(AAPL ABBV ADBE AMD AMZN AVGO BA BAC COST CRM CSCO CVX DIA DIS GE
            GOOGL GS HD IBM INTC IWM JNJ JPM KO LLY MA MCD META MRK MSFT NFLX
            NKE NVDA ORCL PEP PFE PG QQQ SPY T)]
    };
    return $syms->[$i];
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

# a worker follows a symbol's channel only while a socket wants it
sub numsub { $redis->command('PUBSUB', 'NUMSUB', $_[0])->[1] }
my $o1 = ws_auth($T1);
my $o2 = ws_auth($T2);
$_->send_json({ action => 'subscribe', symbols => ['ORCL'] }) for $o1, $o2;
next_type($_, 'subscribed') for $o1, $o2;
ok wait_subscribed('kx:quote:ORCL'), 'ORCL followed';
is numsub('kx:quote:ORCL'), 1, 'once for two sockets';
$o1->send_json({ action => 'unsubscribe', symbols => ['ORCL'] });
next_type($o1, 'unsubscribed');
is numsub('kx:quote:ORCL'), 1, 'still followed for the other socket';
$o2->close;
ok wait_until(sub { numsub('kx:quote:ORCL') == 0 }, timeout => 5),
   'dropped when the last socket went';
$o1->close;

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
is next_type($w, 'authenticated')->{user_id}, $U1,
   'a fresh token of the same user renews the session';
$w->send_json({ action => 'auth', token => $T2 });
is next_type($w, 'error')->{code}, 'already_authenticated',
   "another user's token: refused";
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

# --- notifications (from kx:events) and preferences ----------------------

my %A1 = (Authorization => "Bearer $T1");
my %A2 = (Authorization => "Bearer $T2");
my $U3 = '33333333-3333-4333-8333-333333333333';
my %A3 = (Authorization => 'Bearer ' . stack_token($U3));

sub notes {
    my ($h, $q) = @_;
    return $ntf->http(GET => '/v1/notifications' . ($q // ''), headers => $h);
}

# what emit() put on kx:events so far: the consumer stores U1's fills and
# cancels (portfolio.updated makes none)
# (1 + 4 fills, 3 cancels, 1 + 20 fills)
ok wait_until(sub { (notes(\%A1)->{json}{unread_count} // 0) >= 29 },
              timeout => 10),
   'the consumer stored the events of kx:events';
sleep 0.3;
$r = notes(\%A1, '?limit=100');
is $r->{status}, 200, 'GET /v1/notifications 200';
my $list = $r->{json}{notifications};
is scalar @$list, 29, 'one per user-facing event of U1';
is $r->{json}{unread_count}, 29, 'unread_count';
ok((!grep { $_->{type} eq 'portfolio_update' } @$list), 'portfolio updates are not notifications');
my ($fl) = grep { $_->{type} eq 'order_filled' } @$list;
is $fl->{title}, 'Order filled: AMZN', 'newest first, with a title';
like $fl->{body}, qr/^Bought 10 AMZN \@ 228\.50$/, 'and a body';
ok $fl->{data}{fill}, 'the event payload as data';
is $fl->{read}, JSON::PP::false, 'unread';
is scalar(@{ notes(\%A2)->{json}{notifications} }), 0, "U2 sees none of U1's";

my $n1 = scalar @$list;
my ($dup_id, $dup_eid) = emit($U1, 'order.filled', fill('NVDA'));
emit($U1, 'order.filled', fill('NVDA'), event_id => $dup_eid);
emit($U1, 'order.cancelled', fill('NVDA', status => 'expired'));
ok wait_until(sub { scalar @{ notes(\%A1, '?limit=100')->{json}{notifications} } >= $n1 + 2 },
              timeout => 10), 'new events stored';
sleep 0.5;
$list = notes(\%A1, '?limit=100')->{json}{notifications};
is scalar @$list, $n1 + 2, 'a redelivered event_id is stored once';
is $list->[0]{title}, 'Order expired: NVDA', 'cancel/expire notification';

# pagination
$r = notes(\%A1, '?limit=2');
is scalar @{ $r->{json}{notifications} }, 2, 'limit=2';
ok my $cur = $r->{json}{next_cursor}, 'next_cursor';
my $r2 = notes(\%A1, "?limit=2&cursor=$cur");
is scalar @{ $r2->{json}{notifications} }, 2, 'second page';
isnt $r2->{json}{notifications}[0]{id}, $r->{json}{notifications}[1]{id},
    'no overlap';
is_deeply [map { $_->{id} } @{ $r->{json}{notifications} }, @{ $r2->{json}{notifications} }],
          [map { $_->{id} } @{ $list }[0 .. 3]], 'pages follow the full list';
is notes(\%A1, '?unread=true&limit=1')->{status}, 200, 'unread=true';
is notes(\%A1, '?limit=0')->{status}, 422, 'limit=0: 422';
is notes(\%A1, '?limit=101')->{status}, 422, 'limit=101: 422';
is notes(\%A1, '?cursor=zzz')->{status}, 422, 'bad cursor: 422';
is notes(\%A1, '?unread=maybe')->{status}, 422, 'bad unread: 422';
is $ntf->http(GET => '/v1/notifications')->{status}, 401, 'no token: 401';
is $ntf->http(PATCH => '/v1/notifications', headers => \%A1, json => {})->{status},
   405, 'PATCH: 405 (POST sends an alert: t/notify_send.t)';
is $ntf->http(GET => '/v1/notifications/x', headers => \%A1)->{status}, 404,
   'unknown subpath: 404';
is $ntf->http(GET => '/v1/notifications',
              headers => { Authorization => 'Bearer ' . stack_token('svc-x') })->{status},
   403, 'a subject that is not a user: 403';

# marking read
my $unread0 = notes(\%A1)->{json}{unread_count};
my @two = map { $_->{id} } @{ notes(\%A1, '?limit=2')->{json}{notifications} };
sub mark {
    my ($h, $body) = @_;
    return $ntf->http(POST => '/v1/notifications/read', headers => $h,
                      json => $body);
}
$r = mark(\%A1, { ids => \@two });
is $r->{status}, 200, 'POST /v1/notifications/read';
is $r->{json}{updated}, 2, 'two marked read';
is $r->{json}{unread_count}, $unread0 - 2, 'unread_count after';
is notes(\%A1, '?limit=1')->{json}{notifications}[0]{read}, JSON::PP::true,
   'the list says read';
ok((!grep { $_->{id} eq $two[0] } @{ notes(\%A1, '?unread=true&limit=100')->{json}{notifications} }),
   'unread=true leaves it out');
is mark(\%A2, { ids => \@two })->{json}{updated}, 0,
   "another user's ids change nothing";
is mark(\%A1, { ids => ['nope'] })->{status}, 422, 'bad id: 422';
is mark(\%A1, {})->{status}, 422, 'neither ids nor all: 422';
is mark(\%A1, { all => JSON::PP::false })->{status}, 422, 'all: false: 422';
$r = mark(\%A1, { all => JSON::PP::true });
is $r->{json}{unread_count}, 0, 'all: true marks everything read';
is $ntf->http(GET => '/v1/notifications/read', headers => \%A1)->{status}, 405,
   'GET on read: 405';

# preferences
sub prefs {
    my ($h, $body) = @_;
    return $ntf->http(PUT => '/v1/preferences', headers => $h, json => $body)
        if $body;
    return $ntf->http(GET => '/v1/preferences', headers => $h);
}

$r = prefs(\%A3);
is $r->{status}, 200, 'GET /v1/preferences';
is $r->{json}{in_app_enabled}, JSON::PP::true, 'defaults for a new user';
is $r->{json}{tz}, 'America/New_York', 'default zone';

$r = prefs(\%A3, { email_enabled => JSON::PP::false, tz => 'Europe/Paris',
                   quiet_hours_start => '22:00', quiet_hours_end => '07:00',
                   per_type => { order_filled => { in_app => JSON::PP::false } } });
is $r->{status}, 200, 'PUT /v1/preferences 200';
is $r->{json}{email_enabled}, JSON::PP::false, 'email off';
is $r->{json}{quiet_hours_start}, '22:00:00', 'quiet hours';
is $r->{json}{in_app_enabled}, JSON::PP::true, 'untouched fields keep their value';
$r = prefs(\%A3, { phone_number => '+14155550100' });
is $r->{json}{tz}, 'Europe/Paris', 'a partial update keeps the rest';
is $r->{json}{phone_number}, '+14155550100', 'and sets what it names';
is_deeply prefs(\%A3)->{json}, $r->{json}, 'GET reads it back';

for my $bad ([{}, 'empty'], [{ colour => 'red' }, 'unknown field'],
             [{ email_enabled => 'yes' }, 'not a boolean'],
             [{ phone_number => '12' }, 'not E.164'],
             [{ tz => 'Mars/Olympus_Mons' }, 'unknown zone (the database says)'],
             [{ quiet_hours_start => '23:00', quiet_hours_end => undef }, 'half quiet hours'])
{
    $r = prefs(\%A3, $bad->[0]);
    is $r->{status}, 422, "PUT: $bad->[1]: 422";
    is $r->{json}{error}{code}, 'validation_failed', "$bad->[1]: validation_failed";
}
is $ntf->http(PUT => '/v1/preferences', body => '{nope',
              headers => { %A3, 'Content-Type' => 'application/json' })->{status},
   400, 'malformed JSON: 400';
is $ntf->http(DELETE => '/v1/preferences', headers => \%A3)->{status}, 405,
   'DELETE: 405';

# U3 turned order_filled off: a fill makes no notification, a cancel does
emit($U3, 'order.filled', fill('AAPL'));
emit($U3, 'order.cancelled', fill('AAPL'));
ok wait_until(sub { @{ notes(\%A3)->{json}{notifications} // [] } >= 1 }, timeout => 10),
   'U3 got a notification';
sleep 0.3;
$list = notes(\%A3)->{json}{notifications};
is_deeply [map { $_->{type} } @$list], ['order_cancelled'],
    'preferences respected: no order_filled';

# --- slow consumers ---------------------------------------------------------

# a second instance with small queues and short timeouts
my $p2 = stack_ports();
my $conf = instance_conf('notify', ports => $p2, pg => $pg, redis => $redis);
$conf =~ s/(kx_service notify;)/$1\n    kx_notify_queue 64 256k;\n    kx_notify_send_timeout 30s;\n    kx_notify_auth_timeout 1s;\n    kx_notify_ping_interval 1s;/;
$conf =~ s/kx_notify_events on;/kx_notify_events off;/;
my $slowng = start_nginx($conf, vars => { PORT => $p2->{notify} },
                         env => { KX_JWT_SECRET => $STACK_SECRET });

sub ws2 {
    my ($path, %o) = @_;
    return ws_connect($slowng->ws_url($path // '/ws'),
                      headers => { Authorization => "Bearer $T1" }, %o);
}

# authentication deadline
$w = ws_connect($slowng->ws_url('/ws'));
$f = $w->recv_frame(3);
$f = $w->recv_frame(3) if $f && $f->{type} ne 'close';
is $f->{code}, 1008, 'no auth within kx_notify_auth_timeout: 1008';

# a session ends with its token
$w = ws_connect($slowng->ws_url('/ws'));
$w->send_json({ action => 'auth', token => stack_token($U1, exp => int(time) + 2) });
next_type($w, 'authenticated');
$m = next_type($w, 'error', 6);
is $m->{code}, 'token_expired', 'the token expired: token_expired';
$f = $w->recv_frame(3);
is $f->{code}, 1008, 'then 1008';

my $fast = ws2();
my $slow = ws2();
$fast->send_json({ action => 'subscribe', symbols => ['AAPL'] });
next_type($fast, 'subscribed');
my @all = map { kx_symbol($_) } 0 .. 39;
$slow->send_json({ action => 'subscribe', symbols => \@all });
next_type($slow, 'subscribed');
ok wait_subscribed('kx:quote:' . $all[-1]), 'subscribed 40 symbols';

# the slow one stops reading; the fast one keeps up
my $pad = 'x' x 8000;
my $rc = $redis->connect;
my ($got, $lat_max) = (0, 0);
for my $round (1 .. 60) {
    my $t0 = time;
    for my $s (@all) {
        $rc->send_command('PUBLISH', "kx:quote:$s", quote($s, pad => $pad, round => $round));
    }
    $rc->read_reply for @all;
    while (1) {
        my $x = $fast->recv_json(3) or last;
        next unless ($x->{type} // '') eq 'quote';
        $got++;
        last if $x->{round} == $round;
    }
    my $lat = time - $t0;
    $lat_max = $lat if $lat > $lat_max;
}
is $got, 60, 'the fast reader got every quote while another stalled';
cmp_ok $lat_max, '<', 2, "no round took long (max ${lat_max}s)";
ok $slowng->wait_log(qr/slow consumer/, timeout => 15),
   'the stalled reader was closed past the queue limits';
my $closed = 0;
while (my $fr = $slow->recv_frame(3)) {
    if ($fr->{type} eq 'close') { $closed = $fr->{code}; last }
}
ok $closed == 1008 || !$slow->is_open, "the slow socket is closed (code $closed)";

# coalescing: a reader that pauses gets the newest quote of a symbol
my $nap = ws2();
$nap->send_json({ action => 'subscribe', symbols => ['MSFT'] });
next_type($nap, 'subscribed');
my $big = 'y' x 20000;
for my $i (1 .. 300) {
    $rc->send_command('PUBLISH', 'kx:quote:MSFT', quote('MSFT', pad => $big, i => $i));
}
$rc->read_reply for 1 .. 300;
my @is;
while (my $x = $nap->recv_json(2)) {
    push @is, $x->{i} if ($x->{type} // '') eq 'quote';
    last if @is && $is[-1] == 300;
}
is $is[-1], 300, 'the newest quote arrives';
cmp_ok scalar @is, '<', 300, 'older ones were replaced while the reader paused (' . scalar(@is) . ' of 300)';
ok((!grep { $is[$_] <= $is[$_ - 1] } 1 .. $#is), 'still in order');
$nap->close;

# --- Redis down and up ------------------------------------------------------

my $rw = ws_auth($T1);
$rw->send_json({ action => 'subscribe', symbols => ['NVDA'] });
next_type($rw, 'subscribed');
ok wait_subscribed('kx:quote:NVDA'), 'subscribed NVDA';
$rc->close;
$redis->restart;
ok wait_subscribed('kx:quote:NVDA') && wait_subscribed("kx:user:$U1"),
   'resubscribed after Redis came back';
publish('kx:quote:NVDA', quote('NVDA', after_restart => 1));
$m = next_type($rw, 'quote', 5);
is $m->{after_restart}, 1, 'quotes flow again';
my $eid = emit($U1, 'order.filled', fill('NVDA'));
$m = next_type($rw, 'order_filled', 5);
is $m->{seq}, $eid, 'user events flow again';
ok wait_until(sub { (notes(\%A1)->{json}{unread_count} // 0) >= 1 },
              timeout => 15),
   'the kx:events consumer came back too (group made again)';
$rw->send_ping('alive');
is $rw->recv_frame(3)->{payload}, 'alive', 'the socket lived through it';

# --- quotes from the market instance's publisher ------------------------------

my $mkt = start_instance('market', ports => $ports, pg => $pg, redis => $redis);
my $lw = ws_auth($T1);
$lw->send_json({ action => 'subscribe', symbols => ['AAPL'] });
next_type($lw, 'subscribed');
my @mq;
my $deadline = time + 10;
while (@mq < 4 && time < $deadline) {
    my $x = $lw->recv_json(3) or last;
    push @mq, $x if ($x->{type} // '') eq 'quote' && !$x->{pad}
                    && $x->{price} =~ /^\d+\.\d+$/ && !defined $x->{round};
}
is scalar @mq, 4, 'quotes published by the market instance arrive';
is_deeply [map { $_->{symbol} } @mq], [('AAPL') x 4], 'for the symbol asked';
ok((!grep { $mq[$_]{timestamp} le $mq[$_ - 1]{timestamp} } 1 .. $#mq),
   'with increasing timestamps');
$lw->close;
$mkt->stop;

# --- through the shipped gateway ---------------------------------------------

my $gw = start_instance('gateway', ports => $ports, pg => $pg, redis => $redis);

my $gws = ws_connect($gw->ws_url("/ws?token=$T1"));
is $gws->status, 101, 'gateway /ws?token=: 101';
$gws->send_json({ action => 'subscribe', symbols => ['AMD'] });
next_type($gws, 'subscribed');
ok wait_subscribed('kx:quote:AMD'), 'subscribed through the gateway';
my $qa = quote('AMD');
publish('kx:quote:AMD', $qa);
is $gws->recv(3), $qa, 'a quote through the gateway, byte for byte';
$gws->close;

$gws = ws_connect($gw->ws_url('/v1/market/stream'),
                  headers => { Authorization => "Bearer $T2" });
is $gws->status, 101, 'gateway /v1/market/stream with a bearer token: 101';
$gws->close;

$gws = ws_connect($gw->ws_url('/market/stream'));
is $gws->status, 101, 'gateway without a token: upgraded';
$gws->send_json({ action => 'auth', token => $T2 });
is next_type($gws, 'authenticated')->{user_id}, $U2,
   'first-message auth through the gateway';
emit($U2, 'order.filled', fill('AMD'));
is next_type($gws, 'order_filled')->{data}{symbol}, 'AMD',
   'and the user events';
$gws->close;

$gws = ws_connect($gw->ws_url('/ws?token=forged.token.x'), allow_fail => 1);
is $gws->status, 401, 'a bad token at the gateway: 401';

$r = $gw->http(GET => '/notifications?limit=1', headers => \%A1);
is $r->{status}, 200, 'GET /notifications through the gateway';
is scalar @{ $r->{json}{notifications} }, 1, 'limit honoured';
is $r->{headers}{'x-kx-service'}, 'notify', 'served by notify';
$r = $gw->http(PUT => '/v1/preferences', headers => \%A1,
               json => { sms_enabled => JSON::PP::true });
is $r->{status}, 200, 'PUT /v1/preferences through the gateway';
is $gw->http(GET => '/preferences', headers => \%A1)->{json}{sms_enabled},
   JSON::PP::true, 'GET /preferences reads it back';

# --- metrics ------------------------------------------------------------------

my $met = $ntf->http(GET => '/metrics')->{body};
for my $series (qw(ws_opened quotes quote_deliveries user_events
                   replayed_events events_stored),
                'ws_closed:1002', 'ws_closed:1009')
{
    my ($name, $code) = split /:/, $series;
    my $labels = 'service="notify"' . ($code ? ",code=\"$code\"" : '');
    like $met, qr/^kx_notify_${name}_total\{\Q$labels\E\} [1-9]\d*$/m,
         "/metrics: kx_notify_${name}_total" . ($code ? " $code" : '');
}
like $slowng->http(GET => '/metrics')->{body},
     qr/^kx_notify_ws_slow_consumers_total\{service="notify"\} [1-9]/m,
     '/metrics: kx_notify_ws_slow_consumers_total';

# --- a reload closes sockets with 1001 ----------------------------------------

my $rl = ws_auth($T1);
$rl->send_json({ action => 'subscribe', symbols => ['AAPL'] });
next_type($rl, 'subscribed');
$ntf->reload;
my $bye;
while (my $fr = $rl->recv_frame(10)) {
    if ($fr->{type} eq 'close') { $bye = $fr->{code}; last }
}
is $bye, 1001, 'graceful shutdown of the old worker: 1001 going away';
$rl = ws_auth($T1);
is $rl->status, 101, 'the new worker serves WebSockets';
$rl->close;

done_testing();
