package Kx::Stack;

# Starts the shipped instance configs of nginx.conf.d/ (gateway.conf,
# trading.conf, ..., all-in-one.conf) under the test harness, so the tests
# exercise the very configs operators run: snippets are inlined, the
# default ports are replaced by free ones, and PostgreSQL and Redis are the
# test's own.

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);

use Kx::Test;

our @EXPORT = qw(stack_ports start_instance instance_conf stack_token
                 machine_ticks machine_share machine_text shipped_workers
                 $STACK_SECRET);

# The HS256 secret every instance of a test stack shares (KX_JWT_SECRET).
our $STACK_SECRET = 'kx-test-stack-secret-0123456789abcdef';

# The stack's default ports, by the name tests use for them.
my %DEFAULT_PORT = (
    gateway   => 8080,
    quotes    => 8081,
    trading   => 3002,
    agent     => 3003,
    market    => 3004,
    notify    => 3005,
    scheduler => 3006,
    retrieval => 3007,
);

# One free port per instance of a test's stack.
sub stack_ports {
    my %p = map { $_ => free_port() } keys %DEFAULT_PORT;
    $p{'all-in-one'} = $p{gateway};
    return \%p;
}

sub _read {
    my ($path) = @_;
    open my $fh, '<', $path or croak "$path: $!";
    local $/;
    return scalar <$fh>;
}

# The text of nginx.conf.d/<name>.conf with its snippets inlined and the
# addresses replaced; what the harness sets itself (pid, error_log, temp
# paths) is left out.
sub instance_conf {
    my ($name, %o) = @_;
    my $dir = project_root() . '/nginx.conf.d';
    my $ports = $o{ports} or croak 'instance_conf: ports => required';

    my $text = _read("$dir/$name.conf");
    my $depth = 0;
    while ($text =~ /^\s*include\s+(snippets\/[\w.-]+)\s*;/m) {
        croak 'instance_conf: include loop' if ++$depth > 50;
        $text =~ s{^(\s*)include\s+(snippets/[\w.-]+)\s*;[^\n]*$}{
            my ($indent, $f) = ($1, $2);
            join "\n", map { "$indent$_" } split /\n/, _read("$dir/$f")
        }me;
    }

    for my $svc (keys %DEFAULT_PORT) {
        my ($from, $to) = ($DEFAULT_PORT{$svc}, $ports->{$svc});
        $text =~ s/\b127\.0\.0\.1:$from\b/127.0.0.1:$to/g;
    }

    if ($o{pg}) {
        my $ci = $o{pg}->conninfo;
        $text =~ s/^(\s*kx_pg_conninfo\s+)"[^"]*"/$1"$ci application_name=kx_$name"/m;
    }
    if ($o{redis}) {
        my $addr = $o{redis}->addr;
        $text =~ s/^(\s*kx_redis_addr\s+)\S+;/$1$addr;/mg;
    }

    # files named relative to nginx.conf.d/ (the conf moves to the prefix)
    $text =~ s{(\bkx_json_file\s+)(?!/)(\S+);}{$1$dir/$2;}g;

    $text =~ s/^\s*(?:pid|error_log|\w+_temp_path)\s[^\n]*\n//mg;
    $text =~ s/^\s*worker_processes\s[^\n]*\n//mg;
    my $workers = $o{workers} // 1;
    $text = "worker_processes $workers;\n$text";

    return $text;
}

# start_instance($name, ports => stack_ports(), pg => $pg, redis => $redis,
#                workers => 1, edit => sub { text -> text },
#                %start_nginx_options)
sub start_instance {
    my ($name, %o) = @_;
    my %conf_opt = map { $_ => delete $o{$_} }
                   grep { exists $o{$_} } qw(ports pg redis workers);
    my $edit = delete $o{edit};
    my $text = instance_conf($name, %conf_opt);
    $text = $edit->($text) if $edit;
    my $port = $conf_opt{ports}{$name}
        or croak "start_instance: no port for $name";
    $o{vars} = { PORT => $port, %{ $o{vars} // {} } };
    $o{env} = { KX_JWT_SECRET => $STACK_SECRET, %{ $o{env} // {} } };
    my $ng = start_nginx($text, %o);
    $ng->{kx_name} = $name;
    return $ng;
}

# An HS256 token for $sub signed with the stack's secret.
sub stack_token {
    my ($sub, %claims) = @_;
    require Digest::SHA;
    require MIME::Base64;
    my $b64 = sub { MIME::Base64::encode_base64url($_[0]) };
    my $h = $b64->(json_encode({ alg => 'HS256', typ => 'JWT' }));
    my $p = $b64->(json_encode({ sub => $sub, iat => time,
                                 exp => time + 3600, %claims }));
    return "$h.$p." . $b64->(Digest::SHA::hmac_sha256("$h.$p", $STACK_SECRET));
}

# The machine's CPU time so far (/proc/stat's first line), for benchmarks:
# machine_share(before, after) says what share of the interval the CPUs
# were idle and what share the hypervisor gave to other guests (steal),
# and how many ticks they were busy (steal included); machine_text()
# prints shares.  On a shared VM a run with steal is a slow window, not a
# regression.
sub machine_ticks {
    open my $fh, '<', '/proc/stat' or return [];
    my $l = <$fh>;
    return [ (split ' ', $l)[1 .. 8] ];
}

sub machine_share {
    my ($a, $b) = @_;
    # user nice system idle iowait irq softirq steal
    my @d = map { ($b->[$_] // 0) - ($a->[$_] // 0) } 0 .. 7;
    my $all = 0;
    $all += $_ for @d;
    my $busy = $all - $d[3] - $d[4];
    return { idle => 0, steal => 0, busy => 0 } unless $all > 0;
    return { idle => 100 * ($d[3] + $d[4]) / $all,
             steal => 100 * $d[7] / $all, busy => $busy };
}

sub machine_text {
    return join(', ', map { sprintf 'idle %.1f%% steal %.1f%%',
                                    $_->{idle}, $_->{steal} } @_)
           . ' (steal: the hypervisor ran other guests; a slow window, '
           . 'not a regression)';
}

# worker_processes of a shipped instance config (auto: one per CPU)
sub shipped_workers {
    my ($instance) = @_;
    my ($n) = _read(project_root() . "/nginx.conf.d/$instance.conf")
              =~ /^worker_processes\s+(\w+);/m;
    return $n if defined $n && $n =~ /^\d+$/;
    my $cpus = `nproc 2>/dev/null` // '';
    return $cpus =~ /^(\d+)/ ? $1 : 1;
}

1;
