# The transactional-outbox relay (ngx_http_kx_outbox_module, contract C3):
# rows written into trading.outbox by SQL reach the stream kx:events, the
# user's stream (same entry ids) and the user's pub/sub channel, in order;
# a consumer group that was down catches up; Redis down, stalled or
# restarted, and PostgreSQL restarted, lose nothing and duplicate nothing;
# one user's stuck event holds back only that user; a second instance
# relaying the same table publishes nothing twice.

use strict;
use warnings;

use lib 't/lib';

use Test::More;
use Time::HiRes qw(time sleep);

use Kx::Test;

my $CONF = <<'CONF';
master_process on;
worker_processes 2;
events { worker_connections 1024; }
http {
    access_log off;

    kx_pg_conninfo "%%PG_CONNINFO%%";
    kx_pg_backoff 50ms 300ms;
    kx_pg_query_timeout 2s;

    kx_redis_addr %%REDIS_ADDR%%;
    kx_redis_timeout 1s;
    kx_redis_backoff 50ms 300ms;

    kx_outbox trading.outbox;
    kx_outbox_batch 50;
    kx_outbox_interval 10ms 100ms;
    kx_outbox_retry 50ms 300ms;
    # published rows stay, marked: most sections read the marks (the
    # default, deleting them, has its own section at the end)
    kx_outbox_keep on;

    kx_service trading;

    server {
        listen 127.0.0.1:%%PORT%%;
        location = /ping { return 200 "pong\n"; }
        location = /metrics { kx_metrics; }
    }
}
CONF

# Redis keeps its data over a restart (appendonly): "nothing twice" is
# checked against what was published before it went down.  PostgreSQL
# commits synchronously (the harness's default is off, which lets an
# immediate shutdown lose acknowledged commits).
my $pg = start_pg(settings => { synchronous_commit => 'on' });
my $redis = start_redis(appendonly => 1);

# --- configuration --------------------------------------------------------

for my $bad ('outbox', 'trading.outbox;drop', 'Trading.outbox',
             'trading."outbox"')
{
    (my $conf = $CONF) =~ s/kx_outbox trading\.outbox;/kx_outbox '$bad';/;
    ok !eval { start_nginx($conf, pg => $pg, redis => $redis); 1 },
       "kx_outbox refuses the table name \"$bad\"";
    like $@, qr/invalid table/, '... saying why';
}

{
    (my $conf = $CONF) =~ s/(kx_outbox trading\.outbox;)/$1 $1/;
    ok !eval { start_nginx($conf, pg => $pg, redis => $redis); 1 },
       'the same table twice is refused';
}

{
    (my $conf = $CONF) =~ s/kx_outbox_keep on;/kx_outbox_keep maybe;/;
    ok !eval { start_nginx($conf, pg => $pg, redis => $redis); 1 },
       'kx_outbox_keep takes on or off';
}

my $ng = start_nginx($CONF, pg => $pg, redis => $redis);

my @USERS = map { sprintf '00000000-0000-4000-8000-%012d', $_ } 1 .. 14;
my ($UA, $UB, $UC) = @USERS;

my $seq = 0;

# Insert events in ONE transaction: [[user, type], ...]; returns their
# event ids in id order.
sub insert_events {
    my (@ev) = @_;
    my @values = map {
        my ($u, $t) = @$_;
        $seq++;
        "('$t', '$u', '{\"n\": $seq, \"user\": \"$u\"}')"
    } @ev;
    my $out = $pg->psql("BEGIN;\n"
        . "INSERT INTO trading.outbox (type, user_id, payload) VALUES\n"
        . join(",\n", @values)
        . "\nRETURNING event_id;\nCOMMIT;\n");
    my @ids = grep { /^[0-9a-f-]{36}$/ } split /\n/, $out;
    die "inserted " . scalar(@ids) . " of " . scalar(@ev) unless @ids == @ev;
    return @ids;
}

sub unpublished {
    return $pg->value('SELECT count(*) FROM trading.outbox '
                      . 'WHERE published_at IS NULL');
}

sub all_published {
    my ($timeout) = @_;
    return wait_until(sub { unpublished() == 0 }, timeout => $timeout // 15);
}

# every entry of a stream: [[id, {field => value}], ...]
sub xrange {
    my ($key) = @_;
    my ($from, @all) = ('-');
    while (1) {
        my $r = $redis->command('XRANGE', $key, $from, '+', 'COUNT', 500);
        push @all, map { [ $_->[0], { @{ $_->[1] } } ] } @$r;
        last if @$r < 500;
        $from = '(' . $r->[-1][0];
    }
    return \@all;
}

# event_id => number of entries in kx:events
sub event_counts {
    my %n;
    $n{ $_->[1]{event_id} }++ for @{ xrange('kx:events') };
    return \%n;
}

# kx_outbox_<name>_total of trading.outbox in GET /metrics
sub metric {
    my ($name, $ng_) = @_;
    my $text = ($ng_ // $ng)->http(GET => '/metrics')->{body} // '';
    return $text =~ /^kx_outbox_${name}_total\{service="trading",table="trading\.outbox"\} (\d+)$/m
        ? $1 : 0;
}

sub dup_events {
    my $n = event_counts();
    return grep { $n->{$_} > 1 } keys %$n;
}

# --- rows reach the streams and the channel, in order ----------------------

{
    # a subscriber for two users' channels, before anything is published
    my $sub = $redis->connect(timeout => 5);
    $sub->send_command('SUBSCRIBE', "kx:user:$UA", "kx:user:$UB");
    $sub->read_reply for 1 .. 2;

    my @types = ('order.created', 'order.filled', 'portfolio.updated');
    my @ev = ([$UA, $types[0]], [$UB, $types[0]], [$UA, $types[1]],
              [$UA, $types[2]], [$UB, $types[1]]);
    my @eids = insert_events(@ev);

    ok all_published(), 'five rows inserted in one transaction are published';

    my $rows = [ $pg->rows(
        'SELECT event_id, type, user_id, stream_id, attempts, last_error, '
        . 'payload::text FROM trading.outbox ORDER BY id') ];
    is scalar(@$rows), 5, 'five outbox rows';

    my $global = xrange('kx:events');
    is_deeply [ map { $_->[1]{event_id} } @$global ], \@eids,
        'kx:events holds the events in id order';
    is_deeply [ map { $_->[0] } @$global ], [ map { $_->[3] } @$rows ],
        '... and each row records its entry id (stream_id)';
    is_deeply [ map { $_->[4] } @$rows ], [ (1) x 5 ], 'one attempt each';
    is metric('published'), 5, 'GET /metrics: kx_outbox_published_total 5';
    is_deeply [ map { $_->[5] } @$rows ], [ (undef) x 5 ], 'no errors';

    my $e = $global->[0][1];
    is $e->{type}, 'order.created', 'entry: type';
    is $e->{user_id}, $UA, 'entry: user_id';
    is $e->{source}, 'trading', 'entry: source is the schema';
    is_deeply json_decode($e->{payload}), { n => 1, user => $UA },
        'entry: payload';
    like $e->{occurred_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
        'entry: occurred_at in ISO 8601 UTC';

    for my $u ($UA, $UB) {
        my $mine = [ grep { $_->[1]{user_id} eq $u } @$global ];
        my $ustream = xrange("kx:events:user:$u");
        is_deeply $ustream, $mine,
            "kx:events:user:<uid>: the user's entries, same ids and fields";
    }

    # pub/sub: one message per event, in order, with the entry id
    my @msgs;
    while (@msgs < 5) {
        my $m = $sub->read_reply(5);
        last unless $m;
        push @msgs, $m;
    }
    is scalar(@msgs), 5, 'five messages on the users\' channels';

    for my $u ($UA, $UB) {
        my @got = map { json_decode($_->[2]) }
                  grep { $_->[1] eq "kx:user:$u" } @msgs;
        my @want = grep { $_->[1]{user_id} eq $u } @$global;
        is_deeply [ map { $_->{id} } @got ], [ map { $_->[0] } @want ],
            "kx:user:<uid>: messages in order, id = entry id";
        is_deeply [ map { $_->{event_id} } @got ],
                  [ map { $_->[1]{event_id} } @want ], '... event_id';
        is_deeply [ map { $_->{type} } @got ],
                  [ map { $_->[1]{type} } @want ], '... type';
        is_deeply [ map { $_->{data} } @got ],
                  [ map { json_decode($_->[1]{payload}) } @want ],
            '... data is the payload';
        ok !grep({ !defined $_->{occurred_at} } @got), '... occurred_at';
    }
    $sub->close;
}

# --- a consumer group that was down catches up, in order -------------------

{
    # the group exists (created by the subscribing service at its start);
    # then the consumer goes away while events are produced
    $redis->command('XGROUP', 'CREATE', 'kx:events', 'notify', '$',
                    'MKSTREAM');

    my @eids;
    for my $i (1 .. 10) {
        push @eids, insert_events([$USERS[$i % 3], 'order.created'],
                                  [$USERS[$i % 3], 'order.filled']);
    }
    ok all_published(), '20 events in 10 transactions published';

    # the consumer returns: it reads everything it missed, in order
    my $r = $redis->command('XREADGROUP', 'GROUP', 'notify', 'c1',
                            'COUNT', 1000, 'STREAMS', 'kx:events', '>');
    my $entries = $r->[0][1];
    is_deeply [ map { { @{ $_->[1] } }->{event_id} } @$entries ], \@eids,
        'a consumer back after a pause gets every missed event, in order';

    # it dies before acknowledging the last 5: they are delivered again
    $redis->command('XACK', 'kx:events', 'notify',
                    map { $_->[0] } @$entries[0 .. 14]);
    $r = $redis->command('XREADGROUP', 'GROUP', 'notify', 'c1',
                         'COUNT', 1000, 'STREAMS', 'kx:events', '0');
    is_deeply [ map { { @{ $_->[1] } }->{event_id} } @{ $r->[0][1] } ],
              [ @eids[15 .. 19] ],
        'events not acknowledged are delivered again after a restart';
    $redis->command('XACK', 'kx:events', 'notify',
                    map { $_->[0] } @{ $r->[0][1] });
    is $redis->command('XPENDING', 'kx:events', 'notify')->[0], 0,
        'nothing pending once acknowledged';

    $r = $redis->command('XREADGROUP', 'GROUP', 'notify', 'c1',
                         'COUNT', 1000, 'STREAMS', 'kx:events', '>');
    ok !defined $r, 'and nothing new';
}

# --- Redis down: rows wait, attempts grow, all arrive once -----------------

{
    $redis->down;

    my @eids = insert_events(map { [$USERS[$_ % 4], 'order.created'] } 1 .. 8);

    ok wait_until(sub {
        $pg->value('SELECT min(attempts) FROM trading.outbox '
                   . 'WHERE published_at IS NULL') >= 2
    }, timeout => 10), 'redis down: attempts grow';
    is unpublished(), 8, '... and the rows stay unpublished';
    like $pg->value('SELECT last_error FROM trading.outbox '
                    . 'WHERE published_at IS NULL LIMIT 1'),
         qr/redis/i, '... last_error says why';
    # whichever way the attempt failed (seen down, lost, timed out)
    is $pg->value("SELECT count(*) FROM trading.outbox WHERE published_at "
                  . "IS NULL AND last_error !~* 'redis'"), 0,
       '... on every row';

    my $t = time;
    my $r = $ng->http(GET => '/ping', timeout => 5);
    is $r->{status}, 200, 'the instance answers meanwhile';
    ok time - $t < 0.5, '... at once';

    $redis->up;    # an empty script cache: NOSCRIPT, then EVAL

    ok all_published(), 'redis back: every row is published';
    my $n = event_counts();
    is_deeply [ map { $n->{$_} // 0 } @eids ], [ (1) x 8 ],
        '... each event once in kx:events';
    is_deeply [ dup_events() ], [], 'no event twice in kx:events';
    ok metric('failed') >= 16, 'kx_outbox_failed_total counts the attempts';
}

# --- Redis stalled: commands time out, may still run: none twice -----------

{
    $redis->kill_stop;
    my @eids = insert_events(map { [$USERS[$_ % 5], 'order.filled'] } 1 .. 10);
    sleep 2.5;    # past kx_redis_timeout: the relay gave up on them
    $redis->kill_cont;

    ok all_published(), 'redis stalled, then back: every row published';
    my $n = event_counts();
    is_deeply [ map { $n->{$_} // 0 } @eids ], [ (1) x 10 ],
        '... each event once (a script that ran late is not repeated)';
    ok $pg->value("SELECT max(attempts) FROM trading.outbox "
                  . "WHERE event_id = '$eids[0]'") >= 2,
        '... after more than one attempt';
    ok metric('duplicates') > 0,
        'kx_outbox_duplicates_total: repeats were recognised';
}

# --- PostgreSQL restarted mid-stream: none lost, none twice ----------------

{
    my @eids;
    for my $i (1 .. 5) {
        push @eids, insert_events(map { [$USERS[$_ % 7], 'order.created'] }
                                  1 .. 40);
    }
    $pg->down(immediate => 1);
    sleep 0.5;
    $pg->up;

    push @eids, insert_events(map { [$USERS[$_ % 7], 'order.filled'] } 1 .. 5);

    is $pg->value('SELECT count(*) FROM trading.outbox WHERE event_id IN ('
                  . join(',', map { "'$_'" } @eids) . ')'), scalar(@eids),
        'postgres restarted: every committed row is still there';
    ok all_published(20), '... and published';
    my $n = event_counts();
    is scalar(grep { ($n->{$_} // 0) == 1 } @eids), scalar(@eids),
        '... each event once in kx:events';
    is_deeply [ dup_events() ], [], 'no event twice';
}

# --- every user stream keeps the outbox order ------------------------------

sub check_user_order {
    my ($label) = @_;
    my %by_user;
    for my $row ($pg->rows('SELECT user_id, event_id, stream_id '
                           . 'FROM trading.outbox ORDER BY id'))
    {
        push @{ $by_user{ $row->[0] } }, $row;
    }
    my $bad = 0;
    for my $u (keys %by_user) {
        my $s = xrange("kx:events:user:$u");
        my @got = map { $_->[1]{event_id} } @$s;
        my @want = map { $_->[1] } @{ $by_user{$u} };
        $bad++ unless "@got" eq "@want";
        $bad++ unless "@{[ map { $_->[0] } @$s ]}"
                   eq "@{[ map { $_->[2] } @{ $by_user{$u} } ]}";
    }
    is $bad, 0, "$label: each user's stream is the user's outbox rows, "
        . 'in id order, with the recorded entry ids';
}

check_user_order('after the failures');

# --- one user's stuck event holds back that user only ----------------------

{
    my ($stuck, $other) = @USERS[10, 11];
    $redis->command('SET', "kx:events:user:$stuck", 'not a stream');

    my @eids = insert_events([$stuck, 'order.created'],
                             [$other, 'order.created'],
                             [$stuck, 'order.filled'],
                             [$other, 'order.filled']);

    ok wait_until(sub { unpublished() == 2 }, timeout => 10),
        'a user whose stream is broken: the other user\'s events go';
    ok wait_until(sub {
        $pg->value("SELECT min(attempts) FROM trading.outbox "
                   . "WHERE user_id = '$stuck' AND published_at IS NULL") >= 3
    }, timeout => 10), '... the stuck user\'s are retried';
    is_deeply [ map { $_->[0] } $pg->rows(
        "SELECT event_id FROM trading.outbox WHERE published_at IS NULL "
        . "ORDER BY id") ], [ @eids[0, 2] ], '... and wait';
    my %err = map { $_->[0] => $_->[1] } $pg->rows(
        "SELECT event_id, last_error FROM trading.outbox "
        . "WHERE published_at IS NULL");
    like $err{ $eids[0] }, qr/WRONGTYPE/, '... the first says why';
    like $err{ $eids[2] }, qr/earlier event/,
        '... the second waits for the first';
    my $n = event_counts();
    ok !$n->{ $eids[0] } && !$n->{ $eids[2] },
        '... none of them is in kx:events';

    $redis->command('DEL', "kx:events:user:$stuck");
    ok all_published(), 'the stream repaired: they go, in order';
    is_deeply [ map { $_->[1]{event_id} } @{ xrange("kx:events:user:$stuck") } ],
              [ @eids[0, 2] ], '... in order';
}

# --- a row with several events (kx.events, trading's 0017) -----------------
# One row per transaction: payload = [{event_id, type, payload}, ...].  Each
# event is its own entry and message, in order, all from the row's one
# script; a row that fails is retried whole and goes once.

sub insert_batch {
    my ($u, @types) = @_;
    my @ids = map { $pg->value('SELECT gen_random_uuid()') } @types;
    my $arr = join ', ', map {
        $seq++;
        qq({"event_id": "$ids[$_]", "type": "$types[$_]", )
        . qq("payload": {"n": $seq, "user": "$u"}})
    } 0 .. $#types;
    $pg->psql("INSERT INTO trading.outbox (event_id, type, user_id, payload) "
              . "VALUES ('$ids[0]', 'kx.events', '$u', '[$arr]')");
    return @ids;
}

{
    my ($u, $v) = @USERS[12, 13];
    my $sub = $redis->connect(timeout => 5);
    $sub->send_command('SUBSCRIBE', "kx:user:$u");
    $sub->read_reply;

    my $published0 = metric('published');
    my @eids = insert_batch($u, 'order.created', 'order.filled',
                            'portfolio.updated');
    push @eids, insert_events([$u, 'order.cancelled']);

    ok all_published(), 'a kx.events row and a later row are published';
    my $mine = [ grep { $_->[1]{user_id} eq $u } @{ xrange('kx:events') } ];
    is_deeply [ map { $_->[1]{event_id} } @$mine ], \@eids,
        'kx:events: one entry per event, in order, with its own event_id';
    is_deeply [ map { $_->[1]{type} } @$mine ],
        [qw(order.created order.filled portfolio.updated order.cancelled)],
        '... and its own type';
    is json_decode($mine->[1][1]{payload})->{user}, $u,
        '... and its own payload';
    is_deeply xrange("kx:events:user:$u"), $mine,
        'the user\'s stream: the same entries';
    my @msgs = map { json_decode($sub->read_reply(5)->[2]) } 1 .. 4;
    is_deeply [ map { [$_->{id}, $_->{event_id}, $_->{type}] } @msgs ],
        [ map { [$_->[0], $_->[1]{event_id}, $_->[1]{type}] } @$mine ],
        'one message per event on kx:user:<uid>, in order';
    is metric('published') - $published0, 4,
        'kx_outbox_published_total counts events';
    is_deeply [ $pg->rows("SELECT stream_id, attempts FROM trading.outbox "
                          . "WHERE user_id = '$u' ORDER BY id") ],
        [ [ $mine->[2][0], 1 ], [ $mine->[3][0], 1 ] ],
        'the row is marked once, with its last event\'s entry id';
    is_deeply [ map { "@$_" } $pg->rows(
        "SELECT n, event_id, type FROM trading.outbox_events "
        . "WHERE user_id = '$u' ORDER BY id, n") ],
        [ map { join ' ', ($_ < 3 ? $_ + 1 : 1), $eids[$_],
                $mine->[$_][1]{type} } 0 .. 3 ],
        'trading.outbox_events: one row per event';

    # an event of a row fails: the row waits (its later events too),
    # then goes whole
    my @b = insert_batch($v, 'order.created', 'order.filled');
    ok all_published(), 'a second row published';
    $redis->command('SET', "kx:events:user:$v", 'not a stream');
    my @c = insert_batch($v, 'order.created', 'order.filled',
                         'portfolio.updated');
    ok wait_until(sub {
        $pg->value("SELECT attempts FROM trading.outbox "
                   . "WHERE event_id = '$c[0]'") >= 2
    }, timeout => 10), 'a row whose events fail is retried';
    like $pg->value("SELECT last_error FROM trading.outbox "
                    . "WHERE event_id = '$c[0]'"), qr/WRONGTYPE/,
        '... with the first failure\'s error';
    $redis->command('DEL', "kx:events:user:$v");
    ok all_published(), 'the stream repaired: the row goes';
    my $n = event_counts();
    is_deeply [ map { $n->{$_} // 0 } @b, @c ], [ (1) x 5 ],
        'every event of both rows once in kx:events';
    is_deeply [ map { $_->[1]{event_id} } @{ xrange("kx:events:user:$v") } ],
        \@c, '... and in order in the user\'s (new) stream';

    # events without their own event_id (a writer older than 0017): the
    # first has the row's, the others ids of their own
    my $w = $USERS[12];
    my $rid = $pg->value("INSERT INTO trading.outbox (type, user_id, payload)"
        . " VALUES ('kx.events', '$w', '[{\"type\": \"order.created\", "
        . "\"payload\": {}}, {\"type\": \"order.filled\", \"payload\": {}}, "
        . "{\"type\": \"portfolio.updated\", \"payload\": {}}]') "
        . "RETURNING event_id");
    ok all_published(), 'a kx.events row without event ids is published';
    my @ids = map { $_->[1]{event_id} }
              @{ xrange("kx:events:user:$w") }[4 .. 6];
    is $ids[0], $rid, '... its first event has the row\'s event_id';
    is scalar(keys %{{ map { $_ => 1 } grep { /^[0-9a-f-]{36}$/ } @ids }}), 3,
        '... and each one its own';

    # the sections below read trading.outbox as one row per event
    $pg->psql("DELETE FROM trading.outbox WHERE user_id IN ('$u', '$v')");
}

# --- two instances relay one table: nothing twice, order kept --------------

{
    my $ng2 = start_nginx($CONF, pg => $pg, redis => $redis);
    my $mark1 = $ng->error_log_mark;

    my @eids;
    for my $i (1 .. 20) {
        push @eids, insert_events(map { [$USERS[($i + $_) % 10], 'order.created'] }
                                  1 .. 25);
        sleep 0.01;
    }

    ok all_published(20), 'two relays: 500 events published';
    my $n = event_counts();
    is scalar(grep { ($n->{$_} // 0) == 1 } @eids), 500,
        '... each once in kx:events';
    is_deeply [ dup_events() ], [], '... nothing twice';
    unlike $ng->error_log($mark1) . $ng2->error_log,
        qr/published before/, '... and neither relay even tried twice';
    check_user_order('two relays');

    $ng2->stop;
}

$ng->stop;

# --- the default: a published row is deleted --------------------------------
# The mark is a second copy of the row for vacuum to clean; the stream is
# the record.  A row Redis refuses stays, counting its attempts.

{
    (my $conf = $CONF) =~ s/^\s*kx_outbox_keep on;\n//m;
    my $del = start_nginx($conf, pg => $pg, redis => $redis);
    my ($u, $v, $w) = map { sprintf '00000000-0000-4000-8000-%012d', $_ }
                      21 .. 23;
    my $in = sub { join ',', map { "'$_'" } @_ };
    my $rows_of = sub {
        $pg->value('SELECT count(*) FROM trading.outbox WHERE event_id IN ('
                   . $in->(@_) . ')');
    };

    my $published0 = metric('published', $del);
    my @eids = insert_events([$u, 'order.created'], [$v, 'order.created'],
                             [$u, 'order.filled']);
    my @batch = insert_batch($v, 'order.filled', 'portfolio.updated');

    ok wait_until(sub { $rows_of->(@eids, $batch[0]) == 0 }, timeout => 10),
        'kx_outbox_keep off (the default): published rows are deleted';
    my $n = event_counts();
    is scalar(grep { ($n->{$_} // 0) == 1 } @eids, @batch), 5,
        '... after each of their 5 events went to kx:events, once';
    is_deeply [ map { $_->[1]{event_id} } @{ xrange("kx:events:user:$v") } ],
        [ $eids[1], @batch ], '... in order, to the user\'s stream too';
    is metric('published', $del) - $published0, 5,
        '... and kx_outbox_published_total counts them';

    $redis->command('SET', "kx:events:user:$w", 'not a stream');
    my @s = insert_events([$w, 'order.created'], [$u, 'order.cancelled']);
    ok wait_until(sub {
        ($pg->value("SELECT attempts FROM trading.outbox "
                    . "WHERE event_id = '$s[0]'") // 0) >= 2
    }, timeout => 10), 'a row Redis refuses stays, and is retried';
    is $rows_of->($s[1]), 0, '... while the other user\'s row went';
    like $pg->value("SELECT last_error FROM trading.outbox "
                    . "WHERE event_id = '$s[0]' AND published_at IS NULL"),
        qr/WRONGTYPE/, '... it says why';

    $redis->command('DEL', "kx:events:user:$w");
    ok wait_until(sub { $rows_of->($s[0]) == 0 }, timeout => 10),
        'the stream repaired: it is published and deleted';
    is_deeply [ map { $_->[1]{event_id} } @{ xrange("kx:events:user:$w") } ],
        [ $s[0] ], '... once';

    # a round whose scripts ran late, and a round cut by PostgreSQL going
    # down: the rows come again and go once
    $redis->kill_stop;
    my @late = insert_events(map { [$USERS[$_ % 5], 'order.filled'] } 1 .. 10);
    sleep 2.5;    # past kx_redis_timeout
    $redis->kill_cont;
    ok wait_until(sub { $rows_of->(@late) == 0 }, timeout => 15),
        'Redis stalled, then back: the rows are published and deleted';

    my @cut;
    for my $i (1 .. 5) {
        push @cut, insert_events(map { [$USERS[$_ % 7], 'order.created'] }
                                 1 .. 40);
    }
    $pg->down(immediate => 1);
    sleep 0.5;
    $pg->up;
    ok wait_until(sub { $rows_of->(@cut) == 0 }, timeout => 20),
        'PostgreSQL restarted mid-stream: the rows are published and deleted';
    $n = event_counts();
    is scalar(grep { ($n->{$_} // 0) == 1 } @late, @cut),
        scalar(@late) + scalar(@cut), '... each event once in kx:events';
    is_deeply [ dup_events() ], [], 'nothing twice';
    $del->stop;
}

# --- a round waiting on Redis keeps no connection from requests ------------

# One worker with one pooled connection (the shipped shape): the relay's
# round holds its transaction while a stalled Redis does not answer; the
# worker's own statements still run at once, on the pool's connection.
{
    (my $conf = $CONF) =~ s/worker_processes 2;/worker_processes 1;/;
    $conf =~ s/kx_redis_timeout 1s;/kx_redis_timeout 3s;\n    kx_pg_pool_size 1;/;
    $conf =~ s{(location = /ping)}{location = /select1 { kx_iotest_pg_select1; }\n        $1};
    my $one = start_nginx($conf, pg => $pg, redis => $redis);
    is $one->http(GET => '/select1?v=7')->{status}, 200, 'one connection per worker';

    $redis->kill_stop;
    my @eids = insert_events(map { [$USERS[$_ % 3], 'order.created'] } 1 .. 5);
    ok wait_until(sub {
            $pg->value(q{SELECT count(*) FROM pg_stat_activity
                          WHERE state = 'idle in transaction'
                            AND query LIKE '%trading.outbox%'}) > 0
        }, timeout => 3),
        'Redis stalled: the relay holds its transaction, waiting';
    my $t = time;
    my $r = $one->http(GET => '/select1?v=8', timeout => 5);
    my $took = time - $t;
    $redis->kill_cont;
    is $r->{status}, 200, '... while a request\'s statement runs';
    cmp_ok $took, '<', 1.5, sprintf('... at once, not after the relay\'s '
                                    . 'Redis timeout (3 s): %.2f s', $took);
    ok all_published(), 'Redis back: the rows are published';
    $one->stop;
}

# --- the relay's statements are prepared once per connection --------------

# Each round runs the same few statements; parsing and planning them every
# round (20 ms apart under load) was 3-4% of PostgreSQL's CPU in
# bench/orders.  The server logs a prepared one as "execute <name>".
{
    $pg->psql(q{ALTER SYSTEM SET log_statement = 'all'});
    $pg->psql('SELECT pg_reload_conf()');
    my $relay = start_nginx($CONF, pg => $pg, redis => $redis);
    my $mark = length $pg->log;
    for (1 .. 3) {
        insert_events([$UA, 'order.created']);
        ok wait_until(sub { all_published() }, timeout => 10),
           "round $_ published";
    }
    my $log = substr $pg->log, $mark;
    my $named = () = $log =~ /execute kx_outbox_fetch trading\.outbox:/g;
    my $unnamed = () = $log =~ /execute <unnamed>: SELECT o\.id/g;
    cmp_ok $named, '>=', 3, "the fetch runs as a prepared statement ($named)";
    is $unnamed, 0, '... and is not parsed again';
    like $log, qr/execute kx_outbox_mark trading\.outbox:/,
         'so does the mark';
    $pg->psql('ALTER SYSTEM RESET log_statement');
    $pg->psql('SELECT pg_reload_conf()');
    $relay->stop;
}

done_testing;
