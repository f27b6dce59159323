package Kx::FakeHTTP;

# A scriptable fake HTTP/1.1 server in a forked child process, standing in
# for an outside provider (Polygon, Alpaca, OpenAI ...) in tests. See the
# POD at the end of this file.

use strict;
use warnings;

use Carp qw(croak);
use Encode ();
use Errno qw(EINTR EAGAIN EWOULDBLOCK);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

use Kx::Test ();

our $VERSION = '0.01';

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

my %REASON = (
    200 => 'OK', 201 => 'Created', 202 => 'Accepted', 204 => 'No Content',
    301 => 'Moved Permanently', 302 => 'Found', 304 => 'Not Modified',
    400 => 'Bad Request', 401 => 'Unauthorized', 403 => 'Forbidden',
    404 => 'Not Found', 405 => 'Method Not Allowed', 409 => 'Conflict',
    413 => 'Payload Too Large', 422 => 'Unprocessable Entity',
    429 => 'Too Many Requests', 500 => 'Internal Server Error',
    501 => 'Not Implemented', 502 => 'Bad Gateway',
    503 => 'Service Unavailable', 504 => 'Gateway Timeout',
);

my $CONTROL = '/__fake/';
my $MAX_RECORDED = 50;

# ---------------------------------------------------------------------------
# Parent side

# Kx::FakeHTTP->start(port => $port, routes => { '/path' => $spec | [$spec, ...] })
sub start {
    my ($class, %o) = @_;
    my $self = bless {
        port   => $o{port} // Kx::Test::free_port(),
        routes => {},
        stall  => 0,
    }, $class;
    for my $path (keys %{ $o{routes} // {} }) {
        $self->{routes}{$path} = _responses($o{routes}{$path});
    }
    $self->_spawn;
    Kx::Test::_register($self) if defined &Kx::Test::_register;
    return $self;
}

sub port { $_[0]{port} }
sub pid  { $_[0]{pid} }
sub url  { my ($s, $p) = @_; $p //= '/'; "http://127.0.0.1:$s->{port}$p" }

# route($path, $spec) or route($path, [$spec1, $spec2, ...]): each request to
# $path takes the next response; the last one repeats.
sub route {
    my ($self, $path, $spec) = @_;
    my $list = _responses($spec);
    $self->{routes}{$path} = $list;
    $self->_control(POST => 'route', { path => $path, responses => $list });
    return $self;
}

# stall(1): every request (but the control ones) is read and never answered
sub stall {
    my ($self, $on) = @_;
    $self->{stall} = $on ? 1 : 0;
    $self->_control(POST => 'stall', { on => $self->{stall} });
    return $self;
}

# hits('/path') -> count; hits() -> { path => count }
sub hits {
    my ($self, $path) = @_;
    my $h = $self->_control(GET => 'hits');
    return defined $path ? ($h->{$path} // 0) : $h;
}

sub reset_hits { $_[0]->_control(POST => 'reset', {}); $_[0] }

# requests('/path') -> [ { method, path, query, headers, body }, ... ]
sub requests {
    my ($self, $path) = @_;
    return $self->_control(GET => 'requests', undef, $path);
}

sub kill_stop { my $s = shift; kill 'STOP', $s->{pid} if $s->{pid}; 1 }
sub kill_cont { my $s = shift; kill 'CONT', $s->{pid} if $s->{pid}; 1 }

sub running { my $s = shift; return $s->{pid} && Kx::Test::_alive($s->{pid}) }

sub stop {
    my ($self) = @_;
    if (my $pid = delete $self->{pid}) {
        kill 'CONT', $pid;
        kill 'TERM', $pid;
        my $deadline = time + 5;
        while (waitpid($pid, WNOHANG) == 0) {
            if (time > $deadline) { kill 'KILL', $pid; waitpid($pid, 0); last }
            sleep 0.01;
        }
    }
    Kx::Test::_unregister($self) if defined &Kx::Test::_unregister;
    return 1;
}

# start again on the same port with the same routes (hit counts restart)
sub restart {
    my ($self) = @_;
    $self->stop if $self->{pid};
    $self->_spawn;
    Kx::Test::_register($self) if defined &Kx::Test::_register;
    return $self;
}

sub _responses {
    my ($spec) = @_;
    my @list = ref $spec eq 'ARRAY' ? @$spec : ($spec);
    croak 'route: no response' unless @list;
    for my $r (@list) {
        $r = { status => $r } unless ref $r;
        croak 'route: a response is a hash' unless ref $r eq 'HASH';
        if (exists $r->{json}) {
            $r = { %$r };
            $r->{body} = $JSON->encode(delete $r->{json});
            $r->{content_type} //= 'application/json';
        }
    }
    return \@list;
}

sub _spawn {
    my ($self) = @_;
    # Listen before forking: the port accepts as soon as start() returns.
    my $listen = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => $self->{port}, Proto => 'tcp',
        Listen => 128, ReuseAddr => 1)
        or croak "FakeHTTP: listen on port $self->{port}: $!";
    my $pid = fork;
    croak "FakeHTTP: fork: $!" unless defined $pid;
    if ($pid == 0) {
        # never return into the test, never run its END blocks
        my $rc = eval {
            $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP QUIT CHLD);
            $SIG{PIPE} = 'IGNORE';
            _serve($listen, $self->{routes}, $self->{stall});
            1;
        };
        print STDERR "FakeHTTP: $@" unless $rc;
        POSIX::_exit($rc ? 0 : 1);
    }
    # Only the child may hold the socket: with nothing listening, a
    # connection is refused (a stopped provider), not left in a backlog.
    close $listen;
    $self->{pid} = $pid;
    return $self;
}

sub _control {
    my ($self, $method, $what, $data, $path) = @_;
    my $url = $self->url($CONTROL . $what);
    $url .= '?path=' . _uri_escape($path) if defined $path;
    my $res = HTTP::Tiny->new(timeout => 5, keep_alive => 0)->request(
        $method, $url,
        defined $data ? { content => $JSON->encode($data),
                          headers => { 'Content-Type' => 'application/json' } }
                      : {});
    croak "FakeHTTP: $method $what: $res->{status} $res->{content}"
        unless $res->{success};
    return length $res->{content} ? $JSON->decode($res->{content}) : undef;
}

sub _uri_escape {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~\/])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

# ---------------------------------------------------------------------------
# Child side: one process, select() over every connection

sub _serve {
    my ($listen, $routes, $stall) = @_;
    my %st = (
        routes   => { %$routes },
        cursor   => {},
        hits     => {},
        requests => {},
        stall    => $stall,
        conns    => {},
        timers   => [],
    );
    my $sel = IO::Select->new($listen);
    $listen->blocking(0);
    while (1) {
        my $wait = 0.5;
        if (@{ $st{timers} }) {
            my $due = $st{timers}[0][0] - time;
            $wait = $due < 0 ? 0 : ($due < $wait ? $due : $wait);
        }
        my @ready = $sel->can_read($wait);
        for my $fh (@ready) {
            if ($fh == $listen) {
                while (my $c = $listen->accept) {
                    binmode $c;
                    $c->blocking(0);
                    $st{conns}{fileno $c} = { sock => $c, buf => '' };
                    $sel->add($c);
                }
                next;
            }
            my $conn = $st{conns}{fileno $fh} or next;
            my $n = sysread($fh, $conn->{buf}, 65536, length $conn->{buf});
            if (!defined $n) {
                next if $! == EINTR || $! == EAGAIN || $! == EWOULDBLOCK;
                _close_conn(\%st, $sel, $conn);
                next;
            }
            if ($n == 0) {
                _close_conn(\%st, $sel, $conn);
                next;
            }
            _process(\%st, $sel, $conn);
        }
        my $now = time;
        while (@{ $st{timers} } && $st{timers}[0][0] <= $now) {
            my (undef, $conn, $resp, $req) = @{ shift @{ $st{timers} } };
            next if $conn->{closed};
            _respond(\%st, $sel, $conn, $resp, $req);
        }
    }
}

sub _close_conn {
    my ($st, $sel, $conn) = @_;
    return if $conn->{closed};
    $conn->{closed} = 1;
    $sel->remove($conn->{sock});
    delete $st->{conns}{fileno $conn->{sock}};
    close $conn->{sock};
}

# Handle every complete request in the buffer, one at a time: a request
# waits while the one before it is delayed or stalled.
sub _process {
    my ($st, $sel, $conn) = @_;
    while (!$conn->{busy} && !$conn->{closed}) {
        my $req = _parse(\$conn->{buf}) or return;
        if ($req->{bad}) {
            _respond($st, $sel, $conn,
                     { status => 400, body => 'bad request', close => 0 },
                     { version => 'HTTP/1.0', headers => {} });
            _close_conn($st, $sel, $conn);
            return;
        }
        _handle($st, $sel, $conn, $req);
    }
}

sub _parse {
    my ($bufref) = @_;
    my $end = index($$bufref, "\r\n\r\n");
    if ($end < 0) {
        return length $$bufref > 65536 ? { bad => 1 } : undef;
    }
    my $head = substr($$bufref, 0, $end);
    my ($line, @lines) = split /\r\n/, $head;
    my ($method, $target, $version) =
        ($line // '') =~ m{^([A-Z]+) (\S+) (HTTP/1\.[01])$}
        or return { bad => 1 };
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or return { bad => 1 };
        $k = lc $k;
        $h{$k} = exists $h{$k} ? "$h{$k}, $v" : $v;
    }
    my $len = $h{'content-length'} // 0;
    return { bad => 1 } unless $len =~ /^\d+$/;
    return undef if length($$bufref) < $end + 4 + $len;
    my $body = substr($$bufref, $end + 4, $len);
    substr($$bufref, 0, $end + 4 + $len, '');
    my ($path, $query) = $target =~ /^([^?]*)(?:\?(.*))?$/;
    return {
        method => $method, target => $target, path => $path,
        query => $query // '', version => $version, headers => \%h,
        body => $body,
    };
}

sub _handle {
    my ($st, $sel, $conn, $req) = @_;
    if (index($req->{path}, $CONTROL) == 0) {
        _respond($st, $sel, $conn, _control_request($st, $req), $req);
        return;
    }
    my $path = $req->{path};
    $st->{hits}{$path}++;
    my $rec = $st->{requests}{$path} //= [];
    push @$rec, { map { $_ => $req->{$_} } qw(method path query headers body) };
    shift @$rec while @$rec > $MAX_RECORDED;

    if ($st->{stall}) {
        $conn->{busy} = 1;   # read, and never answered
        return;
    }
    my $resp;
    if (my $list = $st->{routes}{$path}) {
        my $i = $st->{cursor}{$path}++ // 0;
        $resp = $list->[$i < @$list ? $i : $#$list];
    }
    elsif ($path eq '/echo') {
        $resp = { status => 200, content_type => 'application/json',
                  body => $JSON->encode({
                      map { $_ => $req->{$_} } qw(method path query headers body)
                  }) };
    }
    else {
        $resp = { status => 404, content_type => 'application/json',
                  body => '{"error":"no route"}' };
    }
    if ($resp->{stall}) {
        $conn->{busy} = 1;
        return;
    }
    if ($resp->{close}) {
        _close_conn($st, $sel, $conn);
        return;
    }
    if (my $ms = $resp->{delay_ms}) {
        $conn->{busy} = 1;
        my $t = $st->{timers};
        push @$t, [time + $ms / 1000, $conn, $resp, $req];
        @$t = sort { $a->[0] <=> $b->[0] } @$t;
        return;
    }
    _respond($st, $sel, $conn, $resp, $req);
}

sub _control_request {
    my ($st, $req) = @_;
    my $what = substr($req->{path}, length $CONTROL);
    my $data = length $req->{body} ? eval { $JSON->decode($req->{body}) } : {};
    my $ok = { status => 200, content_type => 'application/json',
               body => '{"ok":true}' };
    if ($what eq 'route' && $data && defined $data->{path}) {
        $st->{routes}{$data->{path}} = $data->{responses};
        delete $st->{cursor}{$data->{path}};
        return $ok;
    }
    if ($what eq 'stall' && $data) {
        $st->{stall} = $data->{on} ? 1 : 0;
        return $ok;
    }
    if ($what eq 'hits') {
        return { status => 200, content_type => 'application/json',
                 body => $JSON->encode($st->{hits}) };
    }
    if ($what eq 'requests') {
        my ($p) = $req->{query} =~ /(?:^|&)path=([^&]*)/;
        $p //= '';
        $p =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
        return { status => 200, content_type => 'application/json',
                 body => $JSON->encode($st->{requests}{$p} // []) };
    }
    if ($what eq 'reset') {
        $st->{hits} = {};
        $st->{requests} = {};
        return $ok;
    }
    return { status => 400, content_type => 'application/json',
             body => '{"error":"bad control request"}' };
}

sub _respond {
    my ($st, $sel, $conn, $resp, $req) = @_;
    $conn->{busy} = 0;
    my $status = $resp->{status} // 200;
    my $body = $resp->{body} // '';
    $body = Encode::encode('UTF-8', $body) if utf8::is_utf8($body);
    my $keep = $req->{version} eq 'HTTP/1.1'
        ? (($req->{headers}{connection} // '') !~ /close/i)
        : (($req->{headers}{connection} // '') =~ /keep-alive/i);
    $keep = 0 if $resp->{close_after};
    my %h = (
        'Content-Type' => $resp->{content_type} // 'text/plain',
        %{ $resp->{headers} // {} },
    );
    my $out = "HTTP/1.1 $status " . ($REASON{$status} // 'Status') . "\r\n";
    $out .= "$_: $h{$_}\r\n" for sort keys %h;
    $out .= 'Content-Length: ' . length($body) . "\r\n"
        unless grep { lc $_ eq 'content-length' } keys %h;
    $out .= 'Connection: ' . ($keep ? 'keep-alive' : 'close') . "\r\n\r\n";
    $out .= $body unless ($req->{method} // '') eq 'HEAD';

    # small answers to a local client: write it all (blocking briefly)
    my $s = $conn->{sock};
    $s->blocking(1);
    my $off = 0;
    while ($off < length $out) {
        my $n = syswrite($s, $out, length($out) - $off, $off);
        if (!defined $n) {
            next if $! == EINTR;
            _close_conn($st, $sel, $conn);
            return;
        }
        $off += $n;
    }
    $s->blocking(0);
    _close_conn($st, $sel, $conn) unless $keep;
    # a request that arrived behind this one
    _process($st, $sel, $conn) if !$conn->{closed} && length $conn->{buf};
}

1;

__END__

=head1 NAME

Kx::FakeHTTP - a scriptable fake HTTP server for tests (a stand-in provider)

=head1 SYNOPSIS

    use Kx::Test;
    use Kx::FakeHTTP;

    my $fake = Kx::FakeHTTP->start(routes => {
        '/v2/last/trade/AAPL' => { json => { results => { p => '187.12' } } },
    });
    $fake->route('/flaky', [ { status => 503, headers => { 'Retry-After' => 1 } },
                             { status => 200, body => 'ok' } ]);
    $fake->route('/slow', { delay_ms => 2000, body => 'late' });
    $fake->route('/hang', { stall => 1 });
    ... point nginx at $fake->url('/...') or 127.0.0.1:$fake->port ...
    is $fake->hits('/flaky'), 2;
    $fake->kill_stop; ... $fake->kill_cont;    # a provider that hangs
    $fake->stop; ... $fake->restart;           # a provider that is down

=head1 DESCRIPTION

A forked child serves HTTP/1.1 with keep-alive on 127.0.0.1 (a free port
from Kx::Test::free_port unless port => is given), listening before start()
returns. It stops with the test (Kx::Test's registry) or with stop().

A route answers every request to its path (the query string is ignored for
matching) with the next response of its list; the last response repeats.
A response is a hash: status (200), body, json (encoded; sets
application/json), content_type (text/plain), headers => {...},
delay_ms (answer later; other connections go on), stall => 1 (read the
request, never answer), close => 1 (close the connection without an
answer), close_after => 1 (answer, then close). Without a route, /echo
answers a JSON copy of the request ({method, path, query, headers, body})
and anything else 404.

Methods: port, url($path), pid, route($path, $resp | [$resp, ...]),
stall($on) (every request hangs), hits($path) (requests received for a
path, stalled ones included) or hits() (all), reset_hits, requests($path)
(the last 50 requests: method, path, query, headers (lower-case names),
body), kill_stop, kill_cont, running, stop, restart (same port and
routes, new counters).

The parent talks to the child over HTTP on the same port (paths under
/__fake/). Control requests are answered also with stall(1), but not while
the child is stopped (kill_stop).

=cut
