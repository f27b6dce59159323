package Kx::Test;

# Integration-test harness for Kianax: starts PostgreSQL, Redis and nginx
# instances on free loopback ports, with a config written by the test, and
# gives HTTP, raw-socket and WebSocket clients. Everything it starts is
# stopped when the test ends (END block, die, SIGINT/SIGTERM). See the POD at
# the end of this file for the API.

use strict;
use warnings;

use Carp qw(croak carp);
use Cwd qw(abs_path);
use Encode ();
use Errno qw(EINTR EAGAIN);
use Exporter qw(import);
use Fcntl qw(:flock O_RDONLY O_CREAT);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp qw(tempdir tempfile);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use Test::More ();

our $VERSION = '0.01';

our @EXPORT = qw(
    project_root nginx_bin free_port
    start_pg start_redis start_nginx stop_all
    http http_agent http_raw parse_http_response
    http_start http_finish http_concurrent
    ws_connect
    wait_until json_encode json_decode
);
our @EXPORT_OK = qw(pg_bindir keep_tmp);

# Ports the running stack uses by default (ARCHITECTURE.md §1): never handed
# out, so that tests can run beside it.
my %RESERVED_PORTS = map { $_ => 1 }
    (8080, 8081, 3002 .. 3007, 5432, 6379, 55432, 56379);

my @RUNNING;          # started objects, in start order
my %PORT_LOCKS;       # port => locked file handle, held until exit
my $SIGNALS_SET;

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

# ---------------------------------------------------------------------------
# Paths and small utilities

sub project_root {
    return abs_path(dirname(__FILE__) . '/../../..');
}

sub nginx_bin {
    return $ENV{KX_NGINX} // project_root() . '/build/nginx/sbin/nginx';
}

sub pg_bindir {
    return $ENV{KX_PG_BINDIR} if $ENV{KX_PG_BINDIR};
    my @dirs = sort { _pg_major($b) <=> _pg_major($a) }
               grep { -x "$_/postgres" } glob('/usr/lib/postgresql/*/bin');
    return $dirs[0] if @dirs;
    for my $d (split /:/, $ENV{PATH} // '') {
        return $d if -x "$d/postgres" && -x "$d/initdb";
    }
    croak 'PostgreSQL server binaries not found (set KX_PG_BINDIR)';
}

sub _pg_major { my ($d) = @_; return $d =~ m{/(\d+)/bin$} ? $1 : 0 }

sub keep_tmp { return $ENV{KX_KEEP} ? 1 : 0 }

sub json_encode { return $JSON->encode($_[0]) }

sub json_decode {
    my ($text) = @_;
    return undef unless defined $text;
    my $v = eval { $JSON->decode($text) };
    return $v;
}

# wait_until(sub { ... }, timeout => 10, interval => 0.05): the first true
# value the sub returns, or undef after the timeout.
sub wait_until {
    my ($cond, %o) = @_;
    my $deadline = time + ($o{timeout} // 10);
    my $interval = $o{interval} // 0.05;
    while (1) {
        my $v = $cond->();
        return $v if $v;
        return undef if time >= $deadline;
        sleep $interval;
    }
}

sub _tmp_base {
    my $base = $ENV{KX_TMPDIR} // File::Spec->tmpdir;
    make_path($base) unless -d $base;
    return $base;
}

sub _tempdir {
    my ($kind, $base) = @_;
    return tempdir("kx-$kind-XXXXXX", DIR => $base // _tmp_base(), CLEANUP => 0);
}

# Where PostgreSQL clusters go: a tmpfs (/dev/shm) when it has room, because
# creating a cluster's ~1500 files on a disk is what makes start_pg slow;
# KX_PG_TMPDIR overrides.
sub _pg_tmp_base {
    return $ENV{KX_PG_TMPDIR} if $ENV{KX_PG_TMPDIR};
    my $shm = '/dev/shm';
    if (-d $shm && -w $shm) {
        my ($rc, $out) = _capture(['df', '-Pk', $shm], timeout => 10);
        my @f = split ' ', (split /\n/, $out)[1] // '';
        return $shm if !$rc && ($f[3] // 0) > 2 * 1024 * 1024;   # > 2 GiB free
    }
    return _tmp_base();
}

sub _slurp {
    my ($file, $offset) = @_;
    open my $fh, '<:raw', $file or return '';
    if ($offset) { seek $fh, $offset, 0 }
    local $/;
    my $s = <$fh>;
    return $s // '';
}

sub _spew {
    my ($file, $text) = @_;
    make_path(dirname($file));
    open my $fh, '>:raw', $file or croak "write $file: $!";
    print {$fh} $text;
    close $fh or croak "close $file: $!";
}

# ---------------------------------------------------------------------------
# Ports

# A port that is free on 127.0.0.1, below the kernel's ephemeral range (so no
# outgoing connection can grab it before our server binds it), never one of
# the stack's default ports, and locked by a file lock for the life of this
# process so that parallel test files (prove -j) never get the same one.
sub free_port {
    my ($lo_eph) = (_slurp('/proc/sys/net/ipv4/ip_local_port_range') =~ /(\d+)/);
    $lo_eph ||= 32768;
    my ($lo, $hi) = (10000, $lo_eph - 1);
    ($lo, $hi) = (20000, 29999) if $hi <= $lo + 1000;
    my $lockdir = _tmp_base() . '/kx-test-ports';
    unless (-d $lockdir) {
        mkdir $lockdir;
        chmod 01777, $lockdir;
    }
    for (1 .. 500) {
        my $port = $lo + int(rand($hi - $lo + 1));
        next if $RESERVED_PORTS{$port} || $PORT_LOCKS{$port};
        sysopen(my $lfh, "$lockdir/$port", O_RDONLY | O_CREAT, 0666) or next;
        unless (flock($lfh, LOCK_EX | LOCK_NB)) { close $lfh; next }
        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'tcp',
            Listen => 1, ReuseAddr => 1);
        unless ($s) { close $lfh; next }
        close $s;
        $PORT_LOCKS{$port} = $lfh;
        return $port;
    }
    croak 'free_port: no free port found';
}

sub _port_accepts {
    my ($port, $host) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $host // '127.0.0.1',
                                  PeerPort => $port, Proto => 'tcp',
                                  Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

# ---------------------------------------------------------------------------
# Processes

# ($uid, $gid, $home) of the user servers that refuse root run as, or ()
# when we are not root.
sub _unprivileged_user {
    return () if $> != 0;
    my $name = $ENV{KX_PG_OS_USER} // 'postgres';
    my @pw = getpwnam($name);
    croak "running as root and there is no user '$name' to run PostgreSQL as"
        unless @pw;
    return ($pw[2], $pw[3], $pw[7]);
}

sub _drop_privileges {
    my ($uid, $gid, $home) = @_;
    POSIX::setgid($gid) or die "setgid($gid): $!\n";
    $) = "$gid $gid";
    POSIX::setuid($uid) or die "setuid($uid): $!\n";
    die "could not drop privileges to uid $uid\n" if $> != $uid || $< != $uid;
    my $name = getpwuid($uid) // $uid;
    @ENV{qw(HOME USER LOGNAME)} = ($home // '/', $name, $name);
}

# Fork and exec @$cmd. Options: stdin (file), stdout/stderr (file, appended),
# as => [$uid,$gid,$home], env => {...}, chdir, pgrp (own process group).
sub _spawn {
    my ($cmd, %o) = @_;
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    return $pid if $pid;

    # child: never return into the test, never run its END blocks
    eval {
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP QUIT PIPE CHLD);
        POSIX::setpgid(0, 0) if $o{pgrp};
        open STDIN, '<', $o{stdin} // '/dev/null' or die "stdin: $!\n";
        if ($o{stdout}) {
            open STDOUT, '>>', $o{stdout} or die "stdout $o{stdout}: $!\n";
        }
        if ($o{stderr}) {
            open STDERR, '>>', $o{stderr} or die "stderr $o{stderr}: $!\n";
        }
        if ($o{env}) {
            for my $k (keys %{ $o{env} }) {
                if (defined $o{env}{$k}) { $ENV{$k} = $o{env}{$k} }
                else                     { delete $ENV{$k} }
            }
        }
        if ($o{chdir}) { chdir $o{chdir} or die "chdir $o{chdir}: $!\n" }
        _drop_privileges(@{ $o{as} }) if $o{as} && @{ $o{as} };
        exec { $cmd->[0] } @$cmd or die "exec $cmd->[0]: $!\n";
    };
    print STDERR "kx-test: $@" if $@;
    POSIX::_exit(127);
}

# Run a command to completion: returns ($rc, $stdout, $stderr); $rc is the
# exit status (or 128+signal). Options as _spawn, plus input => $string and
# timeout => seconds (default 120).
sub _capture {
    my ($cmd, %o) = @_;
    my ($ofh, $ofile) = tempfile('kx-out-XXXXXX', DIR => _tmp_base(), UNLINK => 0);
    my ($efh, $efile) = tempfile('kx-err-XXXXXX', DIR => _tmp_base(), UNLINK => 0);
    close $ofh; close $efh;
    my $ifile;
    if (defined $o{input}) {
        (my $ifh, $ifile) = tempfile('kx-in-XXXXXX', DIR => _tmp_base(), UNLINK => 0);
        binmode $ifh;
        print {$ifh} $o{input};
        close $ifh;
    }
    my $pid = _spawn($cmd, %o, stdout => $ofile, stderr => $efile,
                     (defined $ifile ? (stdin => $ifile) : ()));
    my $deadline = time + ($o{timeout} // 120);
    my $status;
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) { $status = $?; last }
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            $status = $?;
            last;
        }
        sleep 0.01;
    }
    my ($out, $err) = (_slurp($ofile), _slurp($efile));
    unlink grep { defined } $ofile, $efile, $ifile;
    my $rc = ($status & 127) ? 128 + ($status & 127) : $status >> 8;
    return ($rc, $out, $err);
}

# /proc/<pid>/stat -> (state, ppid)
sub _proc_stat {
    my ($pid) = @_;
    my $s = _slurp("/proc/$pid/stat");
    return () unless length $s;
    my $r = rindex($s, ')');
    return () if $r < 0;
    my @f = split ' ', substr($s, $r + 2);
    return ($f[0], $f[1]);
}

sub _alive {
    my ($pid) = @_;
    return 0 unless $pid && kill(0, $pid);
    my ($state) = _proc_stat($pid);
    return 0 if !defined $state || $state eq 'Z' || $state eq 'X';
    return 1;
}

sub _children {
    my ($ppid) = @_;
    my @kids;
    opendir my $dh, '/proc' or return ();
    for my $p (grep { /^\d+$/ } readdir $dh) {
        my (undef, $pp) = _proc_stat($p);
        push @kids, $p + 0 if defined $pp && $pp == $ppid;
    }
    closedir $dh;
    return sort { $a <=> $b } @kids;
}

sub _cmdline {
    my ($pid) = @_;
    my $c = _slurp("/proc/$pid/cmdline");
    $c =~ s/\0+$//;
    $c =~ s/\0/ /g;
    return $c;
}

# Reap our child $pid if it has exited; true when it is gone.
sub _reaped {
    my ($pid) = @_;
    my $r = waitpid($pid, WNOHANG);
    return 1 if $r == $pid || $r == -1;
    return !_alive($pid);
}

sub _wait_gone {
    my ($pids, $timeout, $own) = @_;
    my $deadline = time + $timeout;
    while (1) {
        my @left = grep { $own && $_ == $own ? !_reaped($_) : _alive($_) } @$pids;
        return 1 unless @left;
        return 0 if time > $deadline;
        sleep 0.02;
    }
}

# Stop a server: optional CONT, then each [signal, seconds] step in turn
# until $pid (our child) and @$others are gone; KILL as a last resort.
sub _terminate {
    my ($pid, $steps, $others) = @_;
    my @all = ($pid, @{ $others // [] });
    my @alive = grep { _alive($_) } @all;
    kill 'CONT', @alive if @alive;
    for my $step (@$steps) {
        return 1 if _wait_gone(\@all, 0, $pid);
        my ($sig, $secs) = @$step;
        kill $sig, $pid if _alive($pid);
        return 1 if _wait_gone([$pid], $secs, $pid) && _wait_gone(\@all, 2, $pid);
    }
    return 1 if _wait_gone(\@all, 0, $pid);
    my @left = grep { _alive($_) } @all;
    kill 'KILL', @left if @left;
    _wait_gone(\@all, 5, $pid);
    return 0;
}

# ---------------------------------------------------------------------------
# Registry, cleanup on exit and on signals

sub _register {
    my ($obj) = @_;
    $obj->{owner_pid} = $$;   # a forked child never stops its parent's servers
    push @RUNNING, $obj;
    unless ($SIGNALS_SET) {
        $SIGNALS_SET = 1;
        for my $sig (qw(INT TERM HUP)) {
            my $old = $SIG{$sig};
            next if defined $old && ref $old;           # the test's own handler
            next if defined $old && $old eq 'IGNORE';
            $SIG{$sig} = sub {
                stop_all();
                # Die of the same signal, as the caller expects (perl keeps
                # it blocked while its handler runs: unblock it).
                $SIG{$sig} = 'DEFAULT';
                my $num = _signal_number($sig);
                kill $sig, $$;
                POSIX::sigprocmask(POSIX::SIG_UNBLOCK(), POSIX::SigSet->new($num));
                POSIX::_exit(128 + $num);
            };
        }
    }
    return $obj;
}

sub _signal_number {
    my ($name) = @_;
    my $code = POSIX->can("SIG$name");
    return $code ? $code->() : 15;
}

sub _unregister {
    my ($obj) = @_;
    @RUNNING = grep { $_ != $obj } @RUNNING;
}

# Stop everything still running, newest first (nginx before its databases).
sub stop_all {
    my @objs = reverse @RUNNING;   # stop() unregisters: iterate a copy
    for my $obj (@objs) {
        next unless $obj->{owner_pid} == $$;
        eval { $obj->stop; 1 } or carp "stop: $@";
    }
    @RUNNING = grep { $_->{owner_pid} != $$ } @RUNNING;
}

END {
    local ($?, $@, $!);
    stop_all();
}

sub _cleanup_dir {
    my ($dir) = @_;
    return unless $dir && -d $dir;
    if (keep_tmp()) {
        Test::More::diag("KX_KEEP: kept $dir");
        return;
    }
    remove_tree($dir, { safe => 0, error => \my $err });
}

# ---------------------------------------------------------------------------
# PostgreSQL

my %PG_DEFAULT_SETTINGS = (
    listen_addresses           => '127.0.0.1',
    # Tests only: a crash may lose or corrupt data, which a test does not keep.
    fsync                      => 'off',
    synchronous_commit         => 'off',
    full_page_writes           => 'off',
    max_connections            => '200',
    shared_buffers             => '32MB',
    max_wal_size               => '256MB',
    log_min_messages           => 'warning',
    log_line_prefix            => '%m [%p] %q%u@%d ',
    log_timezone               => 'UTC',
    timezone                   => 'UTC',
    logging_collector          => 'off',
    dynamic_shared_memory_type => 'posix',
);

sub start_pg {
    my (%opt) = @_;
    return Kx::Test::Pg->start(%opt);
}

# ---------------------------------------------------------------------------
# Redis

sub start_redis {
    my (%opt) = @_;
    return Kx::Test::Redis->start(%opt);
}

# ---------------------------------------------------------------------------
# nginx

sub start_nginx {
    my ($conf, %opt) = @_;
    return Kx::Test::Nginx->start($conf, %opt);
}

# ---------------------------------------------------------------------------
# HTTP

# A keep-alive HTTP::Tiny to pass as agent => for connection reuse.
sub http_agent {
    my (%o) = @_;
    return HTTP::Tiny->new(
        timeout      => $o{timeout} // 10,
        keep_alive   => $o{keep_alive} // 1,
        max_redirect => 0,
        agent        => 'kx-test/1',
    );
}

# http($method, $url, headers => {...}, body => $bytes | json => $data,
#      timeout => 10, agent => $http_tiny)
# -> { status, reason, headers (lower-case keys), body, json, error }
sub http {
    my ($method, $url, %o) = @_;
    my %h = %{ $o{headers} // {} };
    my $content;
    if (exists $o{json}) {
        $content = $JSON->encode($o{json});
        $h{'Content-Type'} //= 'application/json'
            unless grep { lc($_) eq 'content-type' } keys %h;
    }
    elsif (defined $o{body}) {
        $content = $o{body};
        $content = Encode::encode('UTF-8', $content) if Encode::is_utf8($content);
    }
    my $ua = $o{agent} // http_agent(timeout => $o{timeout}, keep_alive => 0);
    $ua->timeout($o{timeout}) if $o{agent} && $o{timeout};
    my $res = $ua->request(uc $method, $url, {
        headers => \%h,
        (defined $content ? (content => $content) : ()),
    });
    my %r = (
        status  => $res->{status},
        reason  => $res->{reason},
        headers => $res->{headers} // {},
        body    => $res->{content} // '',
        json    => undef,
        success => $res->{success} ? 1 : 0,
    );
    if ($res->{status} == 599) {
        $r{error} = $r{body};
    }
    my $ct = $r{headers}{'content-type'} // '';
    $ct = $ct->[0] if ref $ct;
    if ($ct =~ m{^application/(?:[\w.+-]+\+)?json\b}i && length $r{body}) {
        $r{json} = eval { $JSON->decode($r{body}) };
        $r{json_error} = $@ if $@;
    }
    return \%r;
}

# http_start($port, $path): send a GET now, read its answer later with
# http_finish($sock, $t0, $timeout); the answer has {secs} since the send.
sub http_start {
    my ($port, $path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "connect: $!";
    binmode $s;
    print {$s} "GET $path HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    $s->flush;
    return ($s, time);
}

sub http_finish {
    my ($s, $t0, $timeout) = @_;
    my $sel = IO::Select->new($s);
    my $buf = '';
    my $deadline = time + $timeout;
    while ((my $left = $deadline - time) > 0) {
        last unless $sel->can_read($left);
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
    }
    close $s;
    my $r = parse_http_response($buf) // { status => 0, headers => {} };
    $r->{json} = json_decode($r->{body}) if defined $r->{body};
    $r->{secs} = time - $t0;
    return $r;
}

# http_concurrent($port, [paths], $timeout): many GETs at once from one
# process: every connection is opened and its request written first, then
# all answers are read with select().  Each answer has {secs} from its
# request's write to its end; one that never came is {status => 0}.
sub http_concurrent {
    my ($port, $paths, $timeout) = @_;
    my (%c, @res);
    my $sel = IO::Select->new;
    for my $i (0 .. $#$paths) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp',
                                      Timeout => 10)
            or die "connect $i: $!";
        binmode $s;
        syswrite $s, "GET $paths->[$i] HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        $c{fileno $s} = { s => $s, i => $i, buf => '', t => time };
        $sel->add($s);
    }
    my $deadline = time + $timeout;
    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read(0.2)) {
            my $c = $c{fileno $s};
            my $n = sysread($s, $c->{buf}, 65536, length $c->{buf});
            next if $n;
            my $secs = time - $c->{t};
            $sel->remove($s);
            close $s;
            my $r = parse_http_response($c->{buf}) // { status => 0 };
            $r->{json} = json_decode($r->{body});
            $r->{secs} = $secs;
            $res[$c->{i}] = $r;
        }
    }
    $_->close for $sel->handles;
    return map { $_ // { status => 0, secs => 99 } } @res[0 .. $#$paths];
}

# http_raw($port, $request, timeout => 5, half_close => 0, until => qr//,
#          delay => seconds between chunks when $request is an arrayref)
# Sends raw bytes, returns everything the server sent until it closed the
# connection, the timeout passed, or the received bytes matched "until".
sub http_raw {
    my ($port, $req, %o) = @_;
    my $timeout = $o{timeout} // 5;
    my $s = IO::Socket::INET->new(PeerAddr => $o{host} // '127.0.0.1',
                                  PeerPort => $port, Proto => 'tcp',
                                  Timeout => $timeout)
        or croak "http_raw: connect to port $port: $!";
    binmode $s;
    my @chunks = ref $req eq 'ARRAY' ? @$req : ($req);
    local $SIG{PIPE} = 'IGNORE';
    for my $i (0 .. $#chunks) {
        sleep($o{delay} // 0) if $i;
        _write_all($s, $chunks[$i]) or last;
    }
    shutdown($s, 1) if $o{half_close};
    my $buf = '';
    my $sel = IO::Select->new($s);
    my $deadline = time + $timeout;
    while (1) {
        my $left = $deadline - time;
        last if $left <= 0;
        last unless $sel->can_read($left);
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;   # EOF or error (e.g. reset)
        last if $o{until} && $buf =~ $o{until};
    }
    close $s;
    return $buf;
}

sub _write_all {
    my ($s, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($s, $data, length($data) - $off, $off);
        unless (defined $n) {
            next if $! == EINTR || $! == EAGAIN;
            return 0;
        }
        $off += $n;
    }
    return 1;
}

# parse_http_response($raw) -> { status, reason, headers, body } or undef.
# Headers: lower-case names; repeated ones joined with ", ". The body is the
# rest of the bytes (chunked bodies are decoded).
sub parse_http_response {
    my ($raw) = @_;
    return undef unless defined $raw
        && $raw =~ m{\AHTTP/\d\.\d (\d{3})(?: ([^\r\n]*))?\r\n(.*?)\r\n\r\n}s;
    my %r = (status => $1, reason => $2 // '', headers => {});
    my ($hdr, $body) = ($3, substr($raw, $+[0]));
    for my $line (split /\r\n/, $hdr) {
        next unless $line =~ /^([^:]+):\s*(.*)$/;
        my $k = lc $1;
        $r{headers}{$k} = exists $r{headers}{$k} ? "$r{headers}{$k}, $2" : $2;
    }
    if (($r{headers}{'transfer-encoding'} // '') =~ /chunked/i) {
        my $out = '';
        while ($body =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $out .= substr($body, 0, $len, '');
            $body =~ s/\A\r\n//;
        }
        $body = $out;
    }
    $r{body} = $body;
    return \%r;
}

# ---------------------------------------------------------------------------
# WebSocket

# ws_connect($url, \%headers) or ws_connect($url, headers => {...},
#   protocol => 'p1, p2', timeout => 5, allow_fail => 0, origin => ...)
sub ws_connect {
    my ($url, @rest) = @_;
    my %o = (@rest == 1 && ref $rest[0] eq 'HASH') ? (headers => $rest[0]) : @rest;
    return Kx::Test::WS->connect($url, %o);
}

# ===========================================================================

package Kx::Test::Pg;

use strict;
use warnings;
use Carp qw(croak);
use Digest::SHA qw(sha256_hex);
use Fcntl qw(:flock O_RDWR O_CREAT);
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(time sleep);

# Bump when the way a template is built changes.
my $TEMPLATE_FORMAT = 2;

sub start {
    my ($class, %opt) = @_;
    my $self = bless {
        bindir   => $opt{bindir} // Kx::Test::pg_bindir(),
        port     => $opt{port} // Kx::Test::free_port(),
        host     => '127.0.0.1',
        user     => 'postgres',
        dbname   => $opt{dbname} // 'kx',
        migrate  => $opt{migrate} // 1,
        settings => { %PG_DEFAULT_SETTINGS, %{ $opt{settings} // {} } },
        as       => [Kx::Test::_unprivileged_user()],
        timeout  => $opt{timeout} // 60,
    }, $class;
    $self->{dir}  = Kx::Test::_tempdir('pg', Kx::Test::_pg_tmp_base());
    $self->{data} = "$self->{dir}/data";
    $self->{log}  = "$self->{dir}/postgres.log";
    chmod 0755, $self->{dir};
    chown $self->{as}[0], $self->{as}[1], $self->{dir} if @{ $self->{as} };
    Kx::Test::_register($self);

    my $use_template = $opt{template} // ($ENV{KX_PG_TEMPLATE} // 1);
    my $tpl = $use_template ? $self->_template : undef;
    if ($tpl) {
        my ($rc, $out, $err) = Kx::Test::_capture(
            ['cp', '-a', "$tpl/data", $self->{data}]);
        delete $self->{tpl_lock};   # copied: a rebuild may replace it now
        croak "copy of the PostgreSQL template failed: $err" if $rc;
        $self->{from_template} = 1;
        $self->_start_server;
    }
    else {
        $self->_initdb;
        $self->_start_server;
        if ($self->{migrate}) { $self->migrate }
        else                  { $self->_create_db($self->{port}) }
    }
    return $self;
}

sub _as { my $self = shift; return @{ $self->{as} } ? (as => $self->{as}) : () }

sub _initdb {
    my ($self, $data) = @_;
    $data //= $self->{data};
    my ($rc, $out, $err) = Kx::Test::_capture(
        ["$self->{bindir}/initdb", '-D', $data, '-U', 'postgres',
         '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync',
         '--wal-segsize=1'],
        $self->_as, chdir => $self->{dir}, env => { LC_ALL => 'C.UTF-8' });
    croak "initdb failed ($rc):\n$out$err" if $rc;
}

sub _server_cmd {
    my ($self, $data, $port) = @_;
    my @cmd = ("$self->{bindir}/postgres", '-D', $data, '-p', $port,
               '-c', "unix_socket_directories=$self->{dir}");
    for my $k (sort keys %{ $self->{settings} }) {
        push @cmd, '-c', "$k=$self->{settings}{$k}";
    }
    return \@cmd;
}

sub _start_server {
    my ($self) = @_;
    $self->{pid} = Kx::Test::_spawn(
        $self->_server_cmd($self->{data}, $self->{port}),
        $self->_as, pgrp => 1, chdir => $self->{dir},
        stdout => $self->{log}, stderr => $self->{log},
        env => { LC_ALL => 'C.UTF-8' });
    $self->_wait_ready($self->{data}, $self->{pid});
}

# Ready when postmaster.pid says so (what pg_ctl -w checks).
sub _wait_ready {
    my ($self, $data, $pid) = @_;
    my $deadline = time + $self->{timeout};
    while (1) {
        if (Kx::Test::_reaped($pid)) {
            croak "postgres exited during start-up:\n" . Kx::Test::_slurp($self->{log});
        }
        my @l = split /\n/, Kx::Test::_slurp("$data/postmaster.pid");
        last if @l >= 8 && $l[7] =~ /ready/;
        croak "postgres did not become ready in $self->{timeout} s:\n"
            . Kx::Test::_slurp($self->{log}) if time > $deadline;
        sleep 0.02;
    }
}

sub _migrations_key {
    my ($self) = @_;
    my $root = Kx::Test::project_root();
    my $sha = Digest::SHA->new(256);
    $sha->add("format $TEMPLATE_FORMAT\0db $self->{dbname}\0migrate $self->{migrate}\0");
    my ($rc, $ver) = Kx::Test::_capture(["$self->{bindir}/postgres", '--version']);
    $sha->add("version $ver\0");
    if ($self->{migrate}) {
        for my $f (sort glob("$root/db/migrations/*.sql"), "$root/scripts/kx-migrate") {
            my $name = $f; $name =~ s{.*/}{};
            $sha->add("$name\0" . Kx::Test::_slurp($f) . "\0");
        }
    }
    # "<variant>-<hash>": a new hash replaces only templates of its variant.
    (my $variant = "$self->{dbname}-m$self->{migrate}") =~ s/[^\w-]/_/g;
    return "$variant-" . substr($sha->hexdigest, 0, 24);
}

# A stopped, migrated cluster under build/test-pgtemplate/<key>/data, built
# once per content of the migrations and copied by every test (cp -a is much
# faster than initdb + migrations). undef when the cache cannot be used.
sub _template {
    my ($self) = @_;
    my $cache = $ENV{KX_PG_TEMPLATE_DIR}
        // Kx::Test::project_root() . '/build/test-pgtemplate';
    eval { make_path($cache) unless -d $cache; 1 } or return undef;
    return undef unless -w $cache;
    my $key  = $self->_migrations_key;
    my $tdir = "$cache/$key";
    my $ready = sub { -f "$tdir/ready" && -f "$tdir/data/PG_VERSION" };

    # Readers hold a shared lock (in $self->{tpl_lock}) until they have
    # copied the template; a builder holds it exclusively.
    sysopen(my $lock, "$cache/.lock", O_RDWR | O_CREAT, 0644) or return undef;
    $self->{tpl_lock} = $lock;
    flock($lock, LOCK_SH) or return undef;
    return $tdir if $ready->();
    flock($lock, LOCK_UN);
    flock($lock, LOCK_EX) or return undef;
    return $tdir if $ready->();

    # Build it in our own directory, stop it cleanly, move it into place.
    my $build = "$self->{dir}/template";
    my $port  = Kx::Test::free_port();
    $self->_initdb($build);
    my $pid = Kx::Test::_spawn($self->_server_cmd($build, $port),
        $self->_as, pgrp => 1, chdir => $self->{dir},
        stdout => $self->{log}, stderr => $self->{log},
        env => { LC_ALL => 'C.UTF-8' });
    my $ok = eval {
        $self->_wait_ready($build, $pid);
        $self->_run_migrate($port) if $self->{migrate};
        $self->_create_db($port) unless $self->{migrate};
        1;
    };
    my $err = $@;
    Kx::Test::_terminate($pid, [[INT => 30], [QUIT => 5]]);
    die $err unless $ok;

    my $tmp = "$cache/$key.tmp.$$";
    remove_tree($tmp);
    make_path($tmp);
    my ($rc, $out, $cerr) = Kx::Test::_capture(['cp', '-a', $build, "$tmp/data"]);
    if ($rc) { remove_tree($tmp); croak "template copy failed: $cerr" }
    Kx::Test::_spew("$tmp/ready", "key $key\n");
    $self->{built_template} = 1;
    remove_tree($tdir) if -e $tdir;
    rename $tmp, $tdir or do { remove_tree($tmp); croak "rename $tmp: $!" };
    remove_tree($build);
    # Older templates of the same variant are no use any more.
    (my $variant = $key) =~ s/-[0-9a-f]+$//;
    if (opendir my $dh, $cache) {
        for my $e (readdir $dh) {
            next if $e eq $key || $e !~ /^\Q$variant\E-[0-9a-f]+$/;
            remove_tree("$cache/$e") if -d "$cache/$e";
        }
        closedir $dh;
    }
    flock($lock, LOCK_UN);
    flock($lock, LOCK_SH);
    return $tdir;
}

sub _create_db {
    my ($self, $port) = @_;
    my ($rc, $out, $err) = Kx::Test::_capture(
        ["$self->{bindir}/psql", '-X', '-q', '-v', 'ON_ERROR_STOP=1',
         '-h', '127.0.0.1', '-p', $port, '-U', 'postgres', '-d', 'postgres',
         '-c', qq{CREATE DATABASE "$self->{dbname}"}]);
    croak "CREATE DATABASE failed: $err" if $rc;
}

sub _run_migrate {
    my ($self, $port) = @_;
    my ($rc, $out, $err) = Kx::Test::migrate_db(
        "hostaddr=127.0.0.1 port=$port user=postgres dbname=$self->{dbname}",
        bindir => $self->{bindir});
    croak "kx-migrate failed ($rc):\n$out$err" if $rc;
    return $out;
}

# Apply the migrations (again): returns kx-migrate's output.
sub migrate {
    my ($self) = @_;
    return $self->_run_migrate($self->{port});
}

sub host     { $_[0]{host} }
sub port     { $_[0]{port} }
sub user     { $_[0]{user} }
sub dbname   { $_[0]{dbname} }
sub dir      { $_[0]{dir} }
sub data_dir { $_[0]{data} }
sub pid      { $_[0]{pid} }
sub log      { Kx::Test::_slurp($_[0]{log}) }

sub conninfo {
    my ($self) = @_;
    return "hostaddr=127.0.0.1 port=$self->{port} user=$self->{user} dbname=$self->{dbname}";
}

sub url {
    my ($self) = @_;
    return "postgresql://$self->{user}\@127.0.0.1:$self->{port}/$self->{dbname}";
}

sub env {
    my ($self) = @_;
    return (PGHOST => '127.0.0.1', PGHOSTADDR => '127.0.0.1',
            PGPORT => $self->{port}, PGUSER => $self->{user},
            PGDATABASE => $self->{dbname});
}

sub _psql_cmd {
    my ($self, %o) = @_;
    return ["$self->{bindir}/psql", '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
            '-h', '127.0.0.1', '-p', $self->{port}, '-U', $self->{user},
            '-d', $o{dbname} // $self->{dbname}, @{ $o{args} // [] }];
}

# psql($sql, allow_error => 0, dbname => ..., timeout => 60): psql's stdout
# without the last newline (unaligned, tuples only, '|' between columns);
# dies on error unless allow_error. Always a single scalar.
sub psql {
    my ($self, $sql, %o) = @_;
    my $r = $self->psql_result($sql, %o);
    croak "psql failed ($r->{rc}): $r->{err}\nSQL: $sql" if $r->{rc} && !$o{allow_error};
    return $r->{out};
}

# psql_result($sql, dbname => ..., timeout => 60) -> { out, err, rc }, never
# dies (rc 137 when killed by the timeout).
sub psql_result {
    my ($self, $sql, %o) = @_;
    my ($rc, $out, $err) = Kx::Test::_capture(
        $self->_psql_cmd(%o, args => ['-f', '-']),
        input => $sql, timeout => $o{timeout} // 60);
    chomp $out;
    return { out => $out, err => $err, rc => $rc };
}

# rows($sql) -> list of arrayrefs (the rows of every statement that returns
# rows), NULL as undef.
sub rows {
    my ($self, $sql, %o) = @_;
    my ($rc, $out, $err) = Kx::Test::_capture(
        $self->_psql_cmd(%o, args => ['-F', "\x1f", '-R', "\x1e",
                                      '-P', "null=\x02", '-f', '-']),
        input => $sql, timeout => $o{timeout} // 60);
    croak "psql failed ($rc): $err\nSQL: $sql" if $rc;
    $out =~ s/\n\z//;
    my @rows;
    for my $r (split /\x1e/, $out) {
        $r =~ s/\A\n//;
        push @rows, [map { $_ eq "\x02" ? undef : $_ } split /\x1f/, $r, -1];
    }
    return @rows;
}

# value($sql): the first column of the first row (undef when none / NULL).
sub value {
    my ($self, $sql, %o) = @_;
    my @r = $self->rows($sql, %o);
    return @r ? $r[0][0] : undef;
}

# The postmaster and all its children (backends, checkpointer, ...).
sub pids {
    my ($self) = @_;
    return () unless $self->{pid} && Kx::Test::_alive($self->{pid});
    return ($self->{pid}, Kx::Test::_children($self->{pid}));
}

# SIGSTOP every process of the cluster: connections hang, nothing answers.
sub kill_stop {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'STOP', $self->{pid};          # first: it forks no new backend now
    my @p = Kx::Test::_children($self->{pid});
    kill 'STOP', @p if @p;
    $self->{stopped} = 1;
    return 1;
}

sub kill_cont {
    my ($self) = @_;
    return unless $self->{pid};
    my @p = ($self->{pid}, Kx::Test::_children($self->{pid}));
    kill 'CONT', @p;
    $self->{stopped} = 0;
    return 1;
}

# Stop the server (fast shutdown), keeping its data for up().
sub down {
    my ($self, %o) = @_;
    return unless $self->{pid};
    my @kids = Kx::Test::_children($self->{pid});
    my $steps = $o{immediate} ? [[QUIT => 10]] : [[INT => 30], [QUIT => 10]];
    Kx::Test::_terminate($self->{pid}, $steps, \@kids);
    delete $self->{pid};
    $self->{stopped} = 0;
    return 1;
}

# Start it again, same data, same port.
sub up {
    my ($self) = @_;
    return 1 if $self->{pid};
    $self->_start_server;
    return 1;
}

sub restart {
    my ($self, %o) = @_;
    $self->down(%o);
    $self->up;
    return 1;
}

# Stop for good and remove the directory (kept with KX_KEEP).
sub stop {
    my ($self) = @_;
    $self->down;
    Kx::Test::_unregister($self);
    Kx::Test::_cleanup_dir(delete $self->{dir}) if $self->{dir};
    return 1;
}

package Kx::Test;

# migrate_db($conninfo, bindir => ...) -> ($rc, $stdout, $stderr)
sub migrate_db {
    my ($conninfo, %o) = @_;
    my $bindir = $o{bindir} // pg_bindir();
    return _capture(['bash', project_root() . '/scripts/kx-migrate', $conninfo],
                    env => { PATH => "$bindir:" . ($ENV{PATH} // '/usr/bin:/bin'),
                             PSQL => "$bindir/psql" },
                    timeout => $o{timeout} // 300);
}

# ===========================================================================

package Kx::Test::Redis;

use strict;
use warnings;
use Carp qw(croak);
use Time::HiRes qw(time sleep);

sub start {
    my ($class, %opt) = @_;
    my $bin = $opt{bin} // $ENV{KX_REDIS_SERVER} // 'redis-server';
    my $self = bless {
        bin     => $bin,
        cli_bin => $opt{cli} // $ENV{KX_REDIS_CLI} // 'redis-cli',
        port    => $opt{port} // Kx::Test::free_port(),
        host    => '127.0.0.1',
        args    => $opt{args} // [],
        persist => $opt{appendonly} ? 1 : 0,
        timeout => $opt{timeout} // 20,
    }, $class;
    $self->{dir} = Kx::Test::_tempdir('redis');
    $self->{log} = "$self->{dir}/redis.log";
    if ($opt{unix}) {
        # nginx's workers (not root) must reach it; TCP stays for the tests
        $self->{sock} = "$self->{dir}/redis.sock";
        chmod 0755, $self->{dir};
        push @{ $self->{args} }, '--unixsocket', $self->{sock},
                                 '--unixsocketperm', '777';
    }
    Kx::Test::_register($self);
    $self->up;
    return $self;
}

sub _cmd {
    my ($self) = @_;
    return [$self->{bin},
            '--port', $self->{port}, '--bind', '127.0.0.1',
            '--daemonize', 'no', '--supervised', 'no',
            '--save', '', '--appendonly', ($self->{persist} ? 'yes' : 'no'),
            '--dir', $self->{dir}, '--logfile', $self->{log},
            '--protected-mode', 'no', '--loglevel', 'notice',
            @{ $self->{args} }];
}

sub up {
    my ($self) = @_;
    return 1 if $self->{pid};
    $self->{pid} = Kx::Test::_spawn($self->_cmd, pgrp => 1,
        stdout => $self->{log}, stderr => $self->{log});
    my $deadline = time + $self->{timeout};
    while (1) {
        if (Kx::Test::_reaped($self->{pid})) {
            delete $self->{pid};
            croak "redis-server exited during start-up:\n" . $self->log;
        }
        my $pong = eval { $self->command('PING') };
        last if defined $pong && $pong eq 'PONG';
        croak "redis-server did not answer PING in $self->{timeout} s:\n"
            . $self->log if time > $deadline;
        sleep 0.02;
    }
    return 1;
}

sub down {
    my ($self) = @_;
    return unless $self->{pid};
    Kx::Test::_terminate($self->{pid}, [[TERM => 10]]);
    delete $self->{pid};
    return 1;
}

sub restart { my $self = shift; $self->down; $self->up; return 1 }

sub stop {
    my ($self) = @_;
    $self->down;
    Kx::Test::_unregister($self);
    Kx::Test::_cleanup_dir(delete $self->{dir}) if $self->{dir};
    return 1;
}

sub kill_stop { my $s = shift; kill 'STOP', $s->{pid} if $s->{pid}; $s->{stopped} = 1; 1 }
sub kill_cont { my $s = shift; kill 'CONT', $s->{pid} if $s->{pid}; $s->{stopped} = 0; 1 }

sub host { $_[0]{host} }
sub port { $_[0]{port} }
sub addr { $_[0]{sock} ? "unix:$_[0]{sock}" : "127.0.0.1:$_[0]{port}" }
sub sock { $_[0]{sock} }
sub url  { "redis://127.0.0.1:$_[0]{port}" }
sub pid  { $_[0]{pid} }
sub pids { my $s = shift; return $s->{pid} && Kx::Test::_alive($s->{pid}) ? ($s->{pid}) : () }
sub dir  { $_[0]{dir} }
sub log  { Kx::Test::_slurp($_[0]{log}) }

# cli(@args): redis-cli's output (raw format, last newline removed).
sub cli {
    my ($self, @args) = @_;
    my ($rc, $out, $err) = Kx::Test::_capture(
        [$self->{cli_bin}, '-h', '127.0.0.1', '-p', $self->{port}, @args],
        timeout => 30);
    croak "redis-cli @args failed ($rc): $err" if $rc;
    chomp $out;
    return $out;
}

# command(@args): one command on a fresh connection, the decoded reply.
sub command {
    my ($self, @args) = @_;
    my $c = $self->connect(timeout => 2);
    my $r = $c->command(@args);
    $c->close;
    return $r;
}

# connect(): a connection for several commands or for SUBSCRIBE / XREAD.
sub connect {
    my ($self, %o) = @_;
    return Kx::Test::RedisConn->new($self->{port}, %o);
}

package Kx::Test::RedisConn;

# A minimal RESP2 client. Replies: simple string / integer / bulk as scalars,
# nil as undef, arrays as arrayrefs, errors as Kx::Test::RedisError objects
# (command() dies on them unless allow_error).

use strict;
use warnings;
use Carp qw(croak);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

sub new {
    my ($class, $port, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => $o{timeout} // 5)
        or croak "redis connect to $port: $!";
    binmode $s;
    return bless { sock => $s, buf => '', timeout => $o{timeout} // 5 }, $class;
}

sub send_command {
    my ($self, @args) = @_;
    my $req = '*' . scalar(@args) . "\r\n";
    for my $a (@args) {
        my $b = Encode::is_utf8($a) ? Encode::encode('UTF-8', $a) : "$a";
        $req .= '$' . length($b) . "\r\n$b\r\n";
    }
    Kx::Test::_write_all($self->{sock}, $req) or croak "redis write: $!";
}

sub command {
    my ($self, @args) = @_;
    my %o;
    %o = %{ pop @args } if ref $args[-1] eq 'HASH';
    $self->send_command(@args);
    my $r = $self->read_reply($o{timeout});
    croak "redis @args: timeout" unless $self->{got};
    croak "redis @args: $$r" if ref $r eq 'Kx::Test::RedisError' && !$o{allow_error};
    return $r;
}

# read_reply($timeout): the next reply; undef with ->{got} false on timeout.
sub read_reply {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // $self->{timeout});
    $self->{got} = 0;
    while (1) {
        my $pos = 0;
        my $r = _parse(\$self->{buf}, \$pos);
        if ($r) {
            substr($self->{buf}, 0, $pos, '');
            $self->{got} = 1;
            return $r->[0];
        }
        my $left = $deadline - time;
        return undef if $left <= 0;
        return undef unless IO::Select->new($self->{sock})->can_read($left);
        my $n = sysread($self->{sock}, $self->{buf}, 65536, length $self->{buf});
        croak 'redis: connection closed' unless $n;
    }
}

# Returns [value] when a whole reply is in the buffer, else undef.
sub _parse {
    my ($buf, $pos) = @_;
    my $eol = index($$buf, "\r\n", $$pos);
    return undef if $eol < 0;
    my $type = substr($$buf, $$pos, 1);
    my $line = substr($$buf, $$pos + 1, $eol - $$pos - 1);
    my $next = $eol + 2;
    if ($type eq '+') { $$pos = $next; return [$line] }
    if ($type eq '-') { $$pos = $next; return [bless \(my $e = $line), 'Kx::Test::RedisError'] }
    if ($type eq ':') { $$pos = $next; return [$line + 0] }
    if ($type eq '$') {
        if ($line < 0) { $$pos = $next; return [undef] }
        return undef if length($$buf) < $next + $line + 2;
        my $v = substr($$buf, $next, $line);
        $$pos = $next + $line + 2;
        return [$v];
    }
    if ($type eq '*') {
        if ($line < 0) { $$pos = $next; return [undef] }
        my $p = $next;
        my @items;
        for (1 .. $line) {
            my $r = _parse($buf, \$p);
            return undef unless $r;
            push @items, $r->[0];
        }
        $$pos = $p;
        return [\@items];
    }
    croak "redis: bad reply type '$type'";
}

sub close { my $self = shift; CORE::close($self->{sock}) if $self->{sock}; delete $self->{sock} }

package Kx::Test::RedisError;
use overload '""' => sub { ${ $_[0] } }, fallback => 1;

# ===========================================================================

package Kx::Test::Nginx;

use strict;
use warnings;
use Carp qw(croak);
use File::Path qw(make_path);
use Time::HiRes qw(time sleep);

my @DEFAULT_BAD_LOG = (
    qr/\[(?:alert|emerg|crit)\]/,
    qr/AddressSanitizer/,
    qr/LeakSanitizer/,
    qr/runtime error:/,
    # glibc and assert() write these to stderr, which nginx points at its log
    qr/Assertion .* failed/,
    qr/(?:double free|free\(\): |malloc\(\): |corrupted .*size|stack smashing)/,
);

my @TEMP_PATHS = qw(client_body_temp proxy_temp fastcgi_temp uwsgi_temp scgi_temp);

# start_nginx($conf, vars => {NAME => value}, pg => $pg, redis => $redis,
#   nginx => $binary, env => {...}, files => {relpath => content},
#   allow_log => [qr/.../], wait_ports => [...], timeout => 20,
#   stop_timeout => 10)
sub start {
    my ($class, $conf, %opt) = @_;
    my $bin = $opt{nginx} // Kx::Test::nginx_bin();
    croak "nginx binary not found: $bin (build it, or set KX_NGINX)" unless -x $bin;
    my $prefix = Kx::Test::_tempdir('nginx');
    my $self = eval { $class->_start($bin, $prefix, $conf, %opt) };
    unless ($self) {
        my $err = $@;
        Kx::Test::_cleanup_dir($prefix);
        die $err;
    }
    return $self;
}

sub _start {
    my ($class, $bin, $prefix, $conf, %opt) = @_;
    chmod 0755, $prefix;   # workers run unprivileged and need to get in
    make_path(map { "$prefix/$_" } 'conf', 'logs', 'html', @TEMP_PATHS);
    # a crashing worker leaves its core here (see _complete_conf, stop)
    make_path("$prefix/cores");
    chmod 01777, "$prefix/cores";

    my %vars = (
        ROOT   => Kx::Test::project_root(),
        PREFIX => $prefix,
        %{ $opt{vars} // {} },
    );
    if (my $pg = $opt{pg}) {
        $vars{PG_CONNINFO} //= $pg->conninfo;
        $vars{PG_PORT}     //= $pg->port;
        $vars{PG_HOST}     //= '127.0.0.1';
        $vars{PG_DBNAME}   //= $pg->dbname;
        $vars{PG_USER}     //= $pg->user;
    }
    if (my $r = $opt{redis}) {
        $vars{REDIS_ADDR} //= $r->addr;
        $vars{REDIS_HOST} //= '127.0.0.1';
        $vars{REDIS_PORT} //= $r->port;
    }
    # Every %%PORT%%, %%PORT2%%, %%GATEWAY_PORT%% ... gets its own free port.
    my %ports;
    for my $name ($conf =~ /%%(\w*PORT\w*)%%/g) {
        next if $name =~ /^(?:PG|REDIS)_PORT$/;
        $vars{$name} //= Kx::Test::free_port();
        $ports{$name} = $vars{$name};
    }
    $vars{PORT} //= Kx::Test::free_port();
    $ports{PORT} = $vars{PORT};

    my $text = $conf;
    $text =~ s{%%(\w+)%%}{
        exists $vars{$1} ? $vars{$1} : croak "start_nginx: no value for %%$1%%"
    }ge;
    $text = _complete_conf($text, $prefix, _modules_without($bin));
    Kx::Test::_spew("$prefix/conf/nginx.conf", $text);
    for my $rel (sort keys %{ $opt{files} // {} }) {
        my $content = $opt{files}{$rel};
        $content =~ s{%%(\w+)%%}{ exists $vars{$1} ? $vars{$1} : "%%$1%%" }ge;
        Kx::Test::_spew("$prefix/$rel", $content);
    }

    my @base = ($bin, '-p', "$prefix/", '-c', 'conf/nginx.conf',
                '-e', 'logs/error.log');
    my %env = %{ $opt{env} // {} };
    my ($rc, $out, $err) = Kx::Test::_capture([@base, '-t'], env => \%env,
                                              timeout => 60);
    croak "nginx -t failed ($rc):\n$out$err\n--- conf/nginx.conf ---\n$text" if $rc;

    my $self = bless {
        bin          => $bin,
        prefix       => $prefix,
        conf         => $text,
        vars         => \%vars,
        port         => $vars{PORT},
        ports        => \%ports,
        error_log    => "$prefix/logs/error.log",
        stderr_log   => "$prefix/logs/stderr.log",
        allow_log    => [@{ $opt{allow_log} // [] }],
        stop_timeout => $opt{stop_timeout} // 10,
        check_log    => $opt{check_log} // 1,
    }, $class;
    $self->{pid} = Kx::Test::_spawn(\@base, pgrp => 1, env => \%env,
        stdout => $self->{stderr_log}, stderr => $self->{stderr_log});
    Kx::Test::_register($self);
    my $ok = eval { $self->_wait_started(\%opt); 1 };
    unless ($ok) {
        my $err = $@;
        $self->{check_log} = 0;   # the error says it already
        $self->stop;
        die $err;
    }
    return $self;
}

sub _wait_started {
    my ($self, $opt) = @_;
    my %opt = %$opt;
    my $text = $self->{conf};

    # Wait until every port the config listens on accepts.
    my @wait = @{ $opt{wait_ports} // [] };
    unless (@wait) {
        my %seen;
        @wait = grep { !$seen{$_}++ }
                $text =~ /^\s*listen\s+(?:[\d.]+:|\[[^\]]*\]:|localhost:)?(\d+)\b/mg;
    }
    my $deadline = time + ($opt{timeout} // 20);
    for my $port (@wait) {
        while (!Kx::Test::_port_accepts($port)) {
            if (Kx::Test::_reaped($self->{pid})) {
                delete $self->{pid};
                croak "nginx exited during start-up:\n" . $self->error_log
                    . _stderr_text($self);
            }
            croak "nginx: port $port not accepting after start-up\n"
                . $self->error_log if time > $deadline;
            sleep 0.02;
        }
    }
    # ... and until the workers are there (the master listens before it
    # forks them), so that worker_pids() is right from the start.
    my $want = _expected_workers($text);
    while ($want && $self->worker_pids < $want) {
        croak "nginx: $want worker(s) not started\n" . $self->error_log
            if time > $deadline || Kx::Test::_reaped($self->{pid});
        sleep 0.02;
    }
    return 1;
}

sub _expected_workers {
    my ($text) = @_;
    return 0 if $text =~ /^\s*master_process\s+off\s*;/m;
    my ($n) = $text =~ /^\s*worker_processes\s+(\w+)\s*;/m;
    return 1 unless defined $n;
    return $n if $n =~ /^\d+$/;
    return 1;   # auto: at least one
}

sub _stderr_text { my $s = Kx::Test::_slurp($_[0]{stderr_log}); length $s ? "--- stderr ---\n$s" : '' }

# Modules a binary was built without (from nginx -V), cached per binary.
my %WITHOUT;
sub _modules_without {
    my ($bin) = @_;
    return $WITHOUT{$bin} //= do {
        my ($rc, $out, $err) = Kx::Test::_capture([$bin, '-V'], timeout => 30);
        my %w = map { $_ => 1 } ("$out$err" =~ /--without-http_(\w+?)_module/g);
        \%w;
    };
}

# Add what a test config may leave out: daemon off, a pid file and an error
# log in the prefix, and temp paths in the prefix for the http block.
sub _complete_conf {
    my ($text, $prefix, $without) = @_;
    croak "start_nginx: the config must not say 'daemon on'"
        if $text =~ /^\s*daemon\s+on\s*;/m;
    my $head = '';
    $head .= "daemon off;\n" unless $text =~ /^\s*daemon\s/m;
    $head .= "pid logs/nginx.pid;\n" unless $text =~ /^\s*pid\s/m;
    $head .= "error_log logs/error.log info;\n" unless $text =~ /^\s*error_log\s/m;
    # rare crashes leave a core for the backtrace stop() prints
    $head .= "worker_rlimit_core 1g;\nworking_directory $prefix/cores;\n"
        unless $text =~ /^\s*(?:working_directory|worker_rlimit_core)\s/m;
    my $http = '';
    for my $t (@TEMP_PATHS) {
        (my $m = $t) =~ s/_temp$//;
        next if $without && $without->{$m};
        (my $d = $t) =~ s/_temp$/_temp_path/;
        $http .= "    $d $prefix/$t;\n" unless $text =~ /\b\Q$d\E\b/;
    }
    $text =~ s/^(\s*http\s*\{)/$1\n$http/m if length $http;
    return $head . $text;
}

sub port     { $_[0]{port} }
sub ports    { $_[0]{ports} }
sub prefix   { $_[0]{prefix} }
sub conf     { $_[0]{conf} }
sub pid      { $_[0]{pid} }
sub url      { my ($s, $p) = @_; $p //= '/'; "http://127.0.0.1:$s->{port}$p" }
sub ws_url   { my ($s, $p) = @_; $p //= '/'; "ws://127.0.0.1:$s->{port}$p" }

# error_log(): the whole error log; error_log($mark): what came after
# error_log_mark() returned $mark.
sub error_log      { my ($s, $m) = @_; Kx::Test::_slurp($s->{error_log}, $m) }
sub error_log_mark { my $s = shift; return -s $s->{error_log} // 0 }

# wait_log(qr/.../, timeout => 5, mark => $mark): true when the error log
# (after mark) matches.
sub wait_log {
    my ($s, $re, %o) = @_;
    return Kx::Test::wait_until(sub { $s->error_log($o{mark}) =~ $re },
                                timeout => $o{timeout} // 5);
}

sub allow_log { my ($s, @re) = @_; push @{ $s->{allow_log} }, @re; return $s }

# http($method, $path_or_url, %opt): Kx::Test::http against this instance.
sub http {
    my ($s, $method, $path, %o) = @_;
    my $url = $path =~ m{^https?://} ? $path : $s->url($path);
    return Kx::Test::http($method, $url, %o);
}

sub pids {
    my ($s) = @_;
    return () unless $s->{pid} && Kx::Test::_alive($s->{pid});
    return ($s->{pid}, Kx::Test::_children($s->{pid}));
}

sub worker_pids {
    my ($s) = @_;
    return () unless $s->{pid};
    return grep { Kx::Test::_cmdline($_) =~ /worker process/ }
           Kx::Test::_children($s->{pid});
}

sub kill_stop { my $s = shift; my @p = $s->pids; kill 'STOP', @p if @p; 1 }
sub kill_cont { my $s = shift; my @p = $s->pids; kill 'CONT', @p if @p; 1 }

# reload(): SIGHUP, then wait (up to timeout, default 10 s) for a new worker.
# True when new workers appeared.
sub reload {
    my ($s, %o) = @_;
    my %old = map { $_ => 1 } $s->worker_pids;
    kill 'HUP', $s->{pid};
    return Kx::Test::wait_until(
        sub { grep { !$old{$_} } $s->worker_pids },
        timeout => $o{timeout} // 10) ? 1 : 0;
}

# Offending lines of the error log (and stderr), allow_log patterns removed.
sub log_problems {
    my ($s) = @_;
    my @bad;
    for my $f ($s->{error_log}, $s->{stderr_log}) {
        for my $line (split /\n/, Kx::Test::_slurp($f)) {
            next unless grep { $line =~ $_ } @DEFAULT_BAD_LOG;
            next if grep { $line =~ $_ } @{ $s->{allow_log} };
            push @bad, $line;
        }
    }
    return @bad;
}

# stop(): QUIT (graceful), then TERM, then KILL; then the error-log check
# (a failing test when it has [alert]/[emerg]/[crit] or sanitizer reports);
# then the prefix is removed (kept with KX_KEEP).
sub stop {
    my ($s) = @_;
    if ($s->{pid}) {
        my @procs = $s->pids;
        Kx::Test::_terminate($s->{pid},
            [[QUIT => $s->{stop_timeout}], [TERM => 5]], [@procs[1 .. $#procs]]);
        delete $s->{pid};
    }
    Kx::Test::_unregister($s);
    return 1 unless $s->{prefix};
    if ($s->{check_log}) {
        my @bad = $s->log_problems;
        if (@bad) {
            local $Test::Builder::Level = $Test::Builder::Level + 1;
            Test::More::fail("nginx error log of $s->{prefix} is clean");
            Test::More::diag(join "\n", @bad[0 .. ($#bad < 30 ? $#bad : 29)]);
            $s->diag_cores;
            $s->{keep} = 1 if $ENV{KX_KEEP_ON_FAIL};
        }
    }
    Kx::Test::_cleanup_dir(delete $s->{prefix}) unless $s->{keep};
    return 1;
}

# diag_cores(): a backtrace of each core a crashed worker left (gdb needed)
sub diag_cores {
    my ($s) = @_;
    my @cores = glob("$s->{prefix}/cores/core*");
    return unless @cores;
    my $gdb = grep { -x "$_/gdb" } split /:/, $ENV{PATH} // '';
    for my $core (@cores[0 .. ($#cores < 2 ? $#cores : 2)]) {
        unless ($gdb) {
            Test::More::diag("core left: $core (no gdb for a backtrace)");
            next;
        }
        my (undef, $out, $err) = Kx::Test::_capture(
            ['gdb', '-batch', '-nx', '-ex', 'bt 30', $s->{bin}, $core],
            timeout => 60);
        my %seen;
        my @bt = grep { /^#\d/ && !$seen{$_}++ } split /\n/, $out;
        Test::More::diag("backtrace of $core:\n" . join("\n", @bt));
    }
}

# ===========================================================================

package Kx::Test::WS;

use strict;
use warnings;
use Carp qw(croak);
use Digest::SHA qw(sha1_base64);
use Encode ();
use IO::Select;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);
use Protocol::WebSocket::Frame;
use Time::HiRes qw(time);

my %OPCODE_TYPE = (0 => 'continuation', 1 => 'text', 2 => 'binary',
                   8 => 'close', 9 => 'ping', 10 => 'pong');

sub connect {
    my ($class, $url, %o) = @_;
    my ($secure, $host, $port, $path) =
        $url =~ m{^(wss?)://([^/:?#]+)(?::(\d+))?([^#]*)$}
        or croak "ws_connect: bad url $url";
    croak 'ws_connect: wss:// is not supported' if $secure eq 'wss';
    $port //= 80;
    $path = '/' unless length $path;
    $path = "/$path" if $path =~ /^\?/;
    my $timeout = $o{timeout} // 5;

    my $sock = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
                                     Proto => 'tcp', Timeout => $timeout)
        or croak "ws_connect: connect $host:$port: $!";
    binmode $sock;
    my $key = encode_base64(join('', map { chr int rand 256 } 1 .. 16), '');
    my $req = "GET $path HTTP/1.1\r\n"
            . "Host: $host:$port\r\n"
            . "Upgrade: websocket\r\n"
            . "Connection: Upgrade\r\n"
            . "Sec-WebSocket-Key: $key\r\n"
            . "Sec-WebSocket-Version: 13\r\n";
    $req .= "Sec-WebSocket-Protocol: $o{protocol}\r\n" if defined $o{protocol};
    $req .= "Origin: $o{origin}\r\n" if defined $o{origin};
    my $h = $o{headers} // {};
    for my $k (sort keys %$h) {
        for my $v (ref $h->{$k} ? @{ $h->{$k} } : $h->{$k}) {
            $req .= "$k: $v\r\n";
        }
    }
    $req .= "\r\n";
    local $SIG{PIPE} = 'IGNORE';
    Kx::Test::_write_all($sock, $req) or croak "ws_connect: write: $!";

    # Response head.
    my $buf = '';
    my $deadline = time + $timeout;
    my $sel = IO::Select->new($sock);
    while ($buf !~ /\r\n\r\n/) {
        my $left = $deadline - time;
        croak "ws_connect: no handshake response in $timeout s" if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread($sock, $buf, 16384, length $buf);
        croak 'ws_connect: connection closed during handshake'
            . (length $buf ? ": $buf" : '') unless $n;
    }
    my $end = index($buf, "\r\n\r\n");
    my $head = substr($buf, 0, $end);
    my $rest = substr($buf, $end + 4);
    my ($status) = $head =~ m{\AHTTP/1\.[01] (\d{3})}
        or croak "ws_connect: bad response: $head";
    my %hdr;
    for my $line (split /\r\n/, $head) {
        $hdr{lc $1} = $2 if $line =~ /^([^:]+):\s*(.*?)\s*$/;
    }

    my $self = bless {
        sock    => $sock,
        status  => $status + 0,
        headers => \%hdr,
        frames  => Protocol::WebSocket::Frame->new(
                       max_payload_size => 0, max_fragments_amount => 100000),
        pongs   => [],
        pings   => [],
        timeout => $timeout,
        auto_pong => $o{auto_pong} // 1,
    }, $class;

    if ($status != 101) {
        # Read what there is of the body, for the test to look at.
        my $len = $hdr{'content-length'};
        my $d2 = time + 1;
        while ((!defined $len || length($rest) < $len) && time < $d2) {
            last unless $sel->can_read($d2 - time);
            my $n = sysread($sock, $rest, 16384, length $rest);
            last unless $n;
        }
        $self->{body} = $rest;
        CORE::close($sock);
        delete $self->{sock};
        croak "ws_connect: handshake refused: HTTP $status\n$head\r\n\r\n$rest"
            unless $o{allow_fail};
        return $self;
    }
    my $want = sha1_base64($key . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11') . '=';
    croak "ws_connect: bad Sec-WebSocket-Accept in\n$head"
        unless ($hdr{'sec-websocket-accept'} // '') eq $want;
    croak "ws_connect: no 'Upgrade: websocket' in\n$head"
        unless ($hdr{upgrade} // '') =~ /^websocket$/i;
    $self->{frames}->append($rest) if length $rest;
    $self->{open} = 1;
    return $self;
}

sub status   { $_[0]{status} }
sub headers  { $_[0]{headers} }
sub header   { $_[0]{headers}{ lc $_[1] } }
sub body     { $_[0]{body} }
sub socket   { $_[0]{sock} }
sub is_open  { $_[0]{open} ? 1 : 0 }
sub close_code   { $_[0]{close_code} }
sub close_reason { $_[0]{close_reason} }
sub pongs    { $_[0]{pongs} }     # payloads of pongs received
sub pings    { $_[0]{pings} }     # payloads of pings received

sub _send_frame {
    my ($self, $type, $payload, %o) = @_;
    croak 'websocket: not connected' unless $self->{sock};
    my $f = Protocol::WebSocket::Frame->new(
        buffer => $payload // '', type => $type, masked => 1,
        max_payload_size => 0, (defined $o{fin} ? (fin => $o{fin}) : ()));
    local $SIG{PIPE} = 'IGNORE';
    return Kx::Test::_write_all($self->{sock}, $f->to_bytes);
}

sub send_text   { my ($s, $t) = @_; $s->_send_frame(text => Encode::encode('UTF-8', $t)) }
sub send_binary { my ($s, $b) = @_; $s->_send_frame(binary => $b) }
sub send_json   { my ($s, $d) = @_; $s->_send_frame(text => Kx::Test::json_encode($d)) }
sub send_ping   { my ($s, $p) = @_; $s->_send_frame(ping => $p // '') }
sub send_pong   { my ($s, $p) = @_; $s->_send_frame(pong => $p // '') }

# send_raw($bytes): anything, e.g. a malformed or unmasked frame.
sub send_raw {
    my ($s, $bytes) = @_;
    local $SIG{PIPE} = 'IGNORE';
    return Kx::Test::_write_all($s->{sock}, $bytes);
}

sub send_close {
    my ($s, $code, $reason) = @_;
    return 1 if $s->{close_sent};
    $s->{close_sent} = 1;
    my $payload = defined $code ? pack('n', $code) . Encode::encode('UTF-8', $reason // '') : '';
    return $s->_send_frame(close => $payload);
}

# recv_frame($timeout): the next frame as { type, opcode, payload } (text
# payloads decoded), undef on timeout or when the connection closed. No
# automatic handling, except that a close frame marks the socket closing.
sub recv_frame {
    my ($s, $timeout) = @_;
    my $deadline = time + ($timeout // $s->{timeout});
    while (1) {
        my $bytes = eval { $s->{frames}->next_bytes };
        croak "websocket: bad frame: $@" if $@;
        if (defined $bytes) {
            my $op = $s->{frames}->opcode;
            my $type = $OPCODE_TYPE{$op} // "opcode$op";
            my %f = (type => $type, opcode => $op, payload => $bytes,
                     masked => $s->{frames}->masked ? 1 : 0);
            $f{payload} = Encode::decode('UTF-8', $bytes) if $type eq 'text';
            if ($type eq 'close') {
                $s->{open} = 0;
                if (length($bytes) >= 2) {
                    $s->{close_code} = unpack('n', $bytes);
                    $s->{close_reason} = Encode::decode('UTF-8', substr($bytes, 2));
                } else {
                    $s->{close_code} = 1005;   # no status received
                    $s->{close_reason} = '';
                }
                @f{qw(code reason)} = @{$s}{qw(close_code close_reason)};
            }
            return \%f;
        }
        return undef unless $s->{sock};
        my $left = $deadline - time;
        return undef if $left <= 0;
        return undef unless IO::Select->new($s->{sock})->can_read($left);
        my $chunk = '';
        my $n = sysread($s->{sock}, $chunk, 65536);
        unless ($n) {
            $s->{open} = 0;
            $s->{eof} = 1;
            $s->{close_code} //= 1006;   # closed without a close frame
            CORE::close($s->{sock});
            delete $s->{sock};
            return undef;
        }
        $s->{frames}->append($chunk);
    }
}

# recv($timeout): the next text (decoded) or binary message. Pings are
# answered (unless auto_pong => 0) and recorded, pongs recorded; a close
# frame is answered and gives undef, as does the timeout.
sub recv {
    my ($s, $timeout) = @_;
    my $deadline = time + ($timeout // $s->{timeout});
    while (1) {
        my $left = $deadline - time;
        return undef if $left < 0;
        my $f = $s->recv_frame($left) or return undef;
        if ($f->{type} eq 'text' || $f->{type} eq 'binary') {
            $s->{last_type} = $f->{type};
            return $f->{payload};
        }
        if ($f->{type} eq 'ping') {
            push @{ $s->{pings} }, $f->{payload};
            $s->send_pong($f->{payload}) if $s->{auto_pong} && $s->{sock};
        }
        elsif ($f->{type} eq 'pong') {
            push @{ $s->{pongs} }, $f->{payload};
        }
        elsif ($f->{type} eq 'close') {
            $s->send_close($s->{close_code} == 1005 ? undef : $s->{close_code})
                if $s->{sock};
            return undef;
        }
    }
}

sub last_type { $_[0]{last_type} }

# recv_json($timeout): the next message decoded as JSON (undef on timeout).
sub recv_json {
    my ($s, $timeout) = @_;
    my $m = $s->recv($timeout);
    return undef unless defined $m;
    my $d = Kx::Test::json_decode(Encode::is_utf8($m) ? Encode::encode('UTF-8', $m) : $m);
    croak "websocket: not JSON: $m" unless defined $d;
    return $d;
}

# recv_json_until(sub { $_[0]{type} eq 'quote' }, $timeout): skips
# messages until one satisfies the predicate; undef on timeout.
sub recv_json_until {
    my ($s, $pred, $timeout) = @_;
    my $deadline = time + ($timeout // $s->{timeout});
    while ((my $left = $deadline - time) > 0) {
        my $d = $s->recv_json($left) // return undef;
        return $d if $pred->($d);
    }
    return undef;
}

# close($code, $reason, timeout => 2): close handshake; returns the code of
# the server's close frame (1006 when it just dropped the connection).
sub close {
    my ($s, $code, $reason, %o) = @_;
    return $s->{close_code} unless $s->{sock};
    $s->send_close($code // 1000, $reason // '');
    my $deadline = time + ($o{timeout} // 2);
    while ($s->{open} && (my $left = $deadline - time) > 0) {
        my $f = $s->recv_frame($left) or last;
    }
    if ($s->{sock}) { CORE::close($s->{sock}); delete $s->{sock} }
    $s->{open} = 0;
    return $s->{close_code};
}

sub DESTROY {
    my ($s) = @_;
    CORE::close($s->{sock}) if $s->{sock};
}

1;

__END__

=head1 NAME

Kx::Test - harness for Kianax integration tests (prove)

=head1 SYNOPSIS

    use lib 't/lib';
    use Test::More;
    use Kx::Test;

    my $pg    = start_pg();                  # migrated database "kx"
    my $redis = start_redis();
    my $ng    = start_nginx(<<'EOF', pg => $pg, redis => $redis);
    master_process on;
    worker_processes 1;
    events { worker_connections 256; }
    http {
        server {
            listen 127.0.0.1:%%PORT%%;
            location /health { kx_health; }
        }
    }
    EOF
    my $r = http(GET => $ng->url('/health'));
    is $r->{status}, 200;
    is $r->{json}{status}, 'ok';
    done_testing;

=head1 FUNCTIONS (exported)

=over

=item project_root(), nginx_bin() ($KX_NGINX or build/nginx/sbin/nginx)

=item free_port()

A free 127.0.0.1 port below the kernel's ephemeral range, never a default
port of the stack, locked (flock in $TMPDIR/kx-test-ports) for the life of
the process so parallel test files never share one.

=item start_pg(%opt) -> Kx::Test::Pg

Options: dbname (kx), migrate (1), template (1; also KX_PG_TEMPLATE=0),
settings => {guc => value}, port. The first run builds a migrated template
cluster in build/test-pgtemplate/<key> (key: PostgreSQL version, migrations,
kx-migrate); later runs copy it. Methods: host, port, user, dbname, conninfo
("hostaddr=127.0.0.1 port=N user=postgres dbname=kx"), url, env (PG* pairs),
psql($sql, allow_error, dbname, timeout) (stdout), psql_result($sql)
({out, err, rc}, never dies),
rows($sql) (list of arrayrefs, NULL = undef), value($sql), migrate,
pids, kill_stop, kill_cont, down, up, restart, stop, log, dir, data_dir.

=item start_redis(%opt) -> Kx::Test::Redis

Options: port, appendonly (0), unix (1: also a Unix socket, which addr
then names as unix:path), args => [...]. Methods: host, port, addr
("127.0.0.1:N", or unix:path), sock, url, cli(@args) (redis-cli output), command(@args) (decoded
reply), connect (a Kx::Test::RedisConn: command, send_command, read_reply),
pids, kill_stop, kill_cont, down, up, restart (data is lost without
appendonly), stop, log.

=item start_nginx($conf, %opt) -> Kx::Test::Nginx

Placeholders %%NAME%% in $conf: PORT (and any other name containing PORT,
each a free port), ROOT, PREFIX, PG_CONNINFO/PG_PORT/PG_HOST/PG_DBNAME/PG_USER
(with pg => $pg), REDIS_ADDR/REDIS_HOST/REDIS_PORT (with redis => $r), and
anything in vars => {...}. Missing "daemon off;", "pid", "error_log
logs/error.log info;" and the http temp paths are added. Runs nginx -t, then
nginx -p <prefix> -c conf/nginx.conf -e logs/error.log, waits for every
listen port. Other options: nginx (binary), env, files => {rel => text},
allow_log => [qr//], wait_ports, timeout, stop_timeout, check_log.
Methods: port, ports, url($path), ws_url($path), http($method, $path, %o),
error_log([$mark]), error_log_mark, wait_log(qr//, timeout, mark),
allow_log(qr//...), log_problems, reload, pids, worker_pids, kill_stop,
kill_cont, stop, prefix, conf.

On stop the error log and stderr are checked: a line with [alert], [emerg],
[crit], AddressSanitizer, LeakSanitizer or "runtime error:" (unless matched
by allow_log) makes a failing test (nothing is emitted when clean).

=item http($method, $url, headers => {}, body => $bytes | json => $data, timeout => 10, agent => http_agent())

Returns { status, reason, headers (lower-case names), body, json (decoded
when the response is application/json), success, error (status 599) }.

=item http_raw($port, $bytes | [$chunk, ...], timeout => 5, delay => $s, half_close => 1, until => qr//)

Raw bytes in, raw bytes out. parse_http_response($raw) parses them.

=item ws_connect($url, \%headers) or ws_connect($url, headers => {}, protocol => '', origin => '', timeout => 5, allow_fail => 0, auto_pong => 1)

Returns a Kx::Test::WS: send_text, send_binary, send_json, send_ping,
send_pong, send_close($code, $reason), send_raw, recv($timeout) (next text
or binary message, undef on timeout/close; pings answered), recv_json,
recv_json_until($pred, $timeout), recv_frame($timeout) ({type, opcode,
payload, masked}), close($code, $reason) (returns the server's close code),
status, header($name), body (when refused), is_open, close_code,
close_reason, pings, pongs.

=item wait_until(sub {...}, timeout => 10, interval => 0.05), json_encode, json_decode, stop_all

=back

=head1 ENVIRONMENT

KX_NGINX (nginx binary), KX_KEEP (keep temp dirs), KX_KEEP_ON_FAIL (keep an
nginx prefix whose log check failed), KX_TMPDIR, KX_PG_BINDIR,
KX_PG_TEMPLATE=0, KX_PG_TEMPLATE_DIR, KX_PG_OS_USER (postgres),
KX_REDIS_SERVER, KX_REDIS_CLI.

=cut
