# kx_access_log: the JSON access line written straight from the request.
# Each request is logged twice, by kx_access_log and by nginx's own
# access_log with the log_format it replaces (escape=json), and the two
# lines must say the same; buffering (size, flush timer, exit, USR1
# reopen), several upstream tries, hostile URIs and user agents, and the
# directive's errors.

use strict;
use warnings;

use lib 't/lib';

use Test::More;
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);

use Kx::Test;

my $FORMAT = <<'FMT';
    log_format ref escape=json
        '{"time":"$time_iso8601","service":"$kx_service",'
        '"request_id":"$kx_request_id","remote_addr":"$remote_addr",'
        '"method":"$request_method","uri":"$request_uri","route":"$kx_route",'
        '"status":$status,"bytes_sent":$bytes_sent,'
        '"request_time":$request_time,'
        '"upstream":"$upstream_addr","upstream_status":"$upstream_status",'
        '"upstream_time":"$upstream_response_time",'
        '"user_agent":"$http_user_agent"}';
FMT

my $up = start_nginx(<<'CONF');
events { worker_connections 256; }
http {
    access_log off;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "up\n"; }
        location = /slow { return 503; }
    }
}
CONF
my $up_port = $up->port;
my $dead = free_port();

my $dir = tempdir(CLEANUP => 1);
chmod 0777, $dir;    # the workers reopen the file as their own user
my $ng = start_nginx(<<"CONF");
worker_processes 1;
events { worker_connections 256; }
http {
$FORMAT
    kx_service logtest;
    access_log logs/ref.log ref;
    kx_access_log logs/kx.log;

    upstream two { server 127.0.0.1:$dead; server 127.0.0.1:$up_port; }

    server {
        listen 127.0.0.1:%%PORT%%;
        location /up/ { kx_route proxied; proxy_pass http://127.0.0.1:$up_port/; }
        location /two/ {
            kx_route two;
            proxy_next_upstream error;
            proxy_pass http://two/;
        }
        location /err/ {
            kx_route err;
            proxy_intercept_errors on;
            error_page 503 = /up/after;
            proxy_pass http://127.0.0.1:$up_port/;
        }
        location = /quiet { kx_access_log off; return 204; }
        location / { kx_route local; return 200 "ok\n"; }
    }

    server {
        listen 127.0.0.1:%%PORT2%%;
        kx_access_log $dir/buffered.log buffer=64k flush=300ms;
        location / { return 200 "ok\n"; }
    }
}
CONF
my $port2 = $ng->ports->{PORT2};

sub lines {
    my ($file) = @_;
    my @l = split /\n/, Kx::Test::_slurp($ng->prefix . "/logs/$file");
    return [ map { json_decode($_) } @l ];
}

# --- the same fields as the log_format they replace ----------------------

my @reqs = (
    [ GET => '/plain' ],
    [ GET => '/up/x?a=1&b=%22q%22' ],
    [ GET => '/two/y' ],
    [ GET => '/err/slow' ],
    [ POST => '/plain', body => 'abc' ],
    [ GET => '/plain', headers => { 'X-Request-ID' => 'client-id-123' } ],
    [ GET => '/plain', headers => { 'X-Request-ID' => 'bad id "x"' } ],
    [ GET => '/quiet' ],
);

for my $q (@reqs) {
    my ($m, $p, %o) = @$q;
    my $r = $ng->http($m, $p, %o);
    ok $r->{status} >= 200 && $r->{status} < 599, "$m $p answered ($r->{status})";
}
# what HTTP clients would not send: quotes and a backslash in the path, a
# user agent with quotes, a tab and a control character
my $raw = http_raw($ng->port, "GET /quote\"back\\slash HTTP/1.1\r\nHost: x\r\n"
                   . "User-Agent: agent \"007\"\t\\ \x01x\r\nConnection: close\r\n\r\n");
like $raw, qr{^HTTP/1\.1 200}, 'a hostile request answered';
$raw = http_raw($ng->port, "GARBAGE\r\n\r\n");
like $raw, qr{^HTTP/1\.1 400}, 'a malformed request';

# every request and the two raw ones; /quiet only in the reference log
my ($kx, $ref);
wait_until(sub { $kx = lines('kx.log'); $ref = lines('ref.log');
                 @$ref == @reqs + 2 && @$kx == @reqs + 1 }, timeout => 5);
is scalar @$ref, @reqs + 2, 'the reference log has every request';
is scalar(grep { $_->{uri} eq '/quiet' } @$ref), 1, '/quiet among them';
$ref = [ grep { $_->{uri} ne '/quiet' } @$ref ];
is scalar @$kx, scalar @$ref, 'kx_access_log: the same, but /quiet (off)';

for my $i (0 .. $#$kx) {
    my ($a, $b) = ($kx->[$i], $ref->[$i]);
    for my $t (qw(request_time)) {
        ok abs($a->{$t} - $b->{$t}) < 0.05, "line $i: $t close";
        delete $a->{$t}; delete $b->{$t};
    }
    # upstream times: the same shape ("0.001, 0.000"), the values may differ
    (my $sa = $a->{upstream_time}) =~ s/\d+\.\d{3}/T/g;
    (my $sb = $b->{upstream_time}) =~ s/\d+\.\d{3}/T/g;
    is $sa, $sb, "line $i: upstream_time shape ($a->{upstream_time})";
    delete $a->{upstream_time}; delete $b->{upstream_time};
    # the same second, or the next one when the clock turned between
    delete $a->{time} if abs(iso_secs($a->{time}) - iso_secs($b->{time})) <= 1;
    delete $b->{time};
    is_deeply $a, $b, "line $i: the same fields as log_format escape=json ($b->{uri})";
}

is $kx->[2]{upstream}, "127.0.0.1:$dead, 127.0.0.1:$up_port", 'two tries, both named';
is $kx->[2]{upstream_status}, '502, 200', 'and their statuses';
like $kx->[3]{upstream}, qr/ : /, 'an internal redirect shows as " : "';
is $kx->[7]{user_agent}, "agent \"007\"\t\\ \x01x", 'hostile user agent escaped and intact';
is $kx->[7]{uri}, '/quote"back\\slash', 'hostile URI escaped and intact';
is $kx->[8]{status}, 400, 'the malformed request';
is $kx->[5]{request_id}, 'client-id-123', "the client's sane request id";
like $kx->[6]{request_id}, qr/^[0-9a-f]{32}$/, 'an insane one replaced';
is $kx->[0]{service}, 'logtest', 'service';
is $kx->[0]{route}, 'local', 'route';
is $kx->[0]{status}, 200, 'status is a number';

# --- buffering -------------------------------------------------------------

my $buffered = "$dir/buffered.log";
Kx::Test::http(GET => "http://127.0.0.1:$port2/b1");
is -s $buffered // 0, 0, 'buffered: nothing written at once';
ok wait_until(sub { (-s $buffered // 0) > 0 }, timeout => 3), 'written after the flush time';
like Kx::Test::_slurp($buffered), qr{"uri":"/b1"}, 'the line';

Kx::Test::http(GET => "http://127.0.0.1:$port2/b2");
rename $buffered, "$buffered.1" or die;
kill 'USR1', $ng->pid;
ok wait_until(sub { -e $buffered }, timeout => 5), 'USR1: the file reopened';
# the master creates the new file before the worker, told to reopen, flushes
# its buffer into the old one: wait for the line, not just for the file
ok wait_until(sub {
    (Kx::Test::_slurp("$buffered.1") . Kx::Test::_slurp($buffered))
        =~ m{"uri":"/b2"}
}, timeout => 5), 'the buffered line written at reopen, not lost';

Kx::Test::http(GET => "http://127.0.0.1:$port2/b3") for 1 .. 3;
$ng->stop;
my @b3 = grep { /"uri":"\/b3"/ } split /\n/, Kx::Test::_slurp("$buffered.1") . Kx::Test::_slurp($buffered);
is scalar @b3, 3, 'the buffer is written when the worker exits';

# --- a full buffer is written without waiting ------------------------------

my $small = start_nginx(<<'CONF');
events { worker_connections 256; }
http {
    access_log off;
    kx_access_log logs/small.log buffer=4k flush=1h;
    server { listen 127.0.0.1:%%PORT%%; location / { return 200 "ok\n"; } }
}
CONF
$small->http(GET => '/s' . ('x' x 300)) for 1 .. 40;
my @s = split /\n/, Kx::Test::_slurp($small->prefix . '/logs/small.log');
ok @s >= 20 && @s < 40, 'a full 4k buffer is written, the rest waits (' . scalar(@s) . ' lines)';
ok !(grep { !eval { json_decode($_); 1 } } @s), 'every written line is whole JSON';
$small->stop;

# --- directive errors ----------------------------------------------------------

for my $bad ('kx_access_log logs/x.log buffer=0;',
             'kx_access_log logs/x.log flush=1s;',
             'kx_access_log logs/x.log bogus=1;',
             'kx_access_log off buffer=1k;',
             "kx_access_log logs/x.log buffer=8k;\n    kx_access_log logs/x.log;")
{
    my $ok = eval {
        start_nginx("events { worker_connections 64; }\nhttp {\n    access_log off;\n    $bad\n"
                    . "    server { listen 127.0.0.1:%%PORT%%; }\n}\n");
        1;
    };
    ok !$ok, "refused: $bad";
}
my $two = eval {
    start_nginx(<<'CONF');
events { worker_connections 64; }
http {
    access_log off;
    server { listen 127.0.0.1:%%PORT%%; kx_access_log logs/x.log buffer=8k;
             location /a { kx_access_log logs/x.log buffer=16k; } }
}
CONF
};
ok !$two, 'one file, two buffer sizes: refused';

stop_all();
done_testing;

sub iso_secs {
    my ($t) = @_;
    my ($h, $m, $s) = $t =~ /T(\d\d):(\d\d):(\d\d)/ or return -1;
    return $h * 3600 + $m * 60 + $s;
}
