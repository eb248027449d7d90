#!/bin/bash
# Builds (once per machine) the Debian 12 root filesystem that the integration tests boot with
# systemd-nspawn as a stand-in for the EC2 Ubuntu instance. Safe to run concurrently: a flock
# serialises builders, and the finished tree is renamed into place only when complete, so a
# reader never sees half a rootfs. A stamp file records everything that shapes the tree; when
# the stamp differs, the tree is rebuilt.
#
# Usage: build-rootfs.sh [cache-dir]   (default /var/cache/openemr-redis-action)
# The mirror is the one this machine's apt uses for bookworm (OPENEMR_REDIS_TEST_HOST_MIRROR
# overrides it, e.g. on a machine whose apt points at another distribution).
# Prints the path of the ready rootfs on the last line of stdout.
set -euo pipefail

cache_dir=${1:-${OPENEMR_REDIS_TEST_HOST_CACHE:-/var/cache/openemr-redis-action}}
suite=bookworm
variant=minbase
packages=(systemd systemd-sysv dbus openssh-server sudo nftables iproute2 ca-certificates procps)
rootfs="$cache_dir/rootfs-$suite"
stamp="$rootfs.stamp"
lock="$rootfs.lock"

log() { echo "build-rootfs: $*" >&2; }

# Entries of this machine's apt sources for $suite (deb822 *.sources and one-line *.list),
# printed as "uri suite component..." lines. Only http: the test host reaches the mirror
# through a plain HTTP forward proxy that refuses CONNECT.
machine_sources() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    awk -v want="$suite" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled !~ /^no$/) {
          n = split(uris, u, " "); m = split(suites, s, " ")
          for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
            if (u[i] ~ /^http:/ && (s[j] == want || index(s[j], want "-") == 1))
              print u[i], s[j], comps
        }
        types = uris = suites = comps = enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[A-Za-z-]+:/ {
        key = tolower(substr($0, 1, index($0, ":") - 1)); val = substr($0, index($0, ":") + 1)
        gsub(/^[ \t]+|[ \t]+$/, "", val)
        if (key == "types") types = val; else if (key == "uris") uris = val
        else if (key == "suites") suites = val; else if (key == "components") comps = val
        else if (key == "enabled") enabled = tolower(val)
      }
      END { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] || continue
    awk -v want="$suite" '
      $1 != "deb" { next }
      { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } }
      $i ~ /^http:/ && ($(i + 1) == want || index($(i + 1), want "-") == 1) {
        line = $i " " $(i + 1); for (k = i + 2; k <= NF; k++) line = line " " $k; print line
      }' "$f"
  done
}

if [ -n "${OPENEMR_REDIS_TEST_HOST_MIRROR:-}" ]; then
  m=${OPENEMR_REDIS_TEST_HOST_MIRROR%/}
  sources=("$m $suite main" "$m $suite-updates main")
else
  mapfile -t sources < <(machine_sources | sort -u)
fi
if [ ${#sources[@]} -eq 0 ]; then
  log "no http apt source for $suite in /etc/apt; set OPENEMR_REDIS_TEST_HOST_MIRROR to a Debian mirror URL"
  exit 1
fi
# The main archive (suite exactly $suite) is what debootstrap needs.
mirror=""
for s in "${sources[@]}"; do
  read -r uri su _ <<<"$s"
  if [ "$su" = "$suite" ]; then mirror=$uri; break; fi
done
[ -n "$mirror" ] || { log "no apt source for the $suite suite itself"; exit 1; }

# A snapshot mirror serves Release files whose Valid-Until has passed; the test host must
# accept them exactly as this machine's apt does.
apt_checks=$(apt-config dump 2>/dev/null | grep -E '^Acquire::Check-(Valid-Until|Date) ' || true)

want_stamp=$(printf 'format 2\nsuite %s\nvariant %s\npackages %s\n' "$suite" "$variant" "${packages[*]}"
  printf 'source %s\n' "${sources[@]}"
  printf '%s\n' "$apt_checks")

ready() { [ -d "$rootfs" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ]; }

mkdir -p "$cache_dir"
if ready; then echo "$rootfs"; exit 0; fi

exec 9>"$lock"
flock 9
if ready; then echo "$rootfs"; exit 0; fi

started=$(date +%s)
tmp=$(mktemp -d "$cache_dir/.build-$suite.XXXXXX")
cleanup() { rm -rf --one-file-system "$tmp"; }
trap cleanup EXIT

include=$(IFS=,; echo "${packages[*]}")
log "debootstrap $suite ($variant) from $mirror"
debootstrap --variant="$variant" --include="$include" "$suite" "$tmp/root" "$mirror" >&2

root="$tmp/root"
# Same sources as this machine (main archive, updates, security), in deb822 form.
rm -f "$root/etc/apt/sources.list"
{
  for s in "${sources[@]}"; do
    read -r uri su comps <<<"$s"
    printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\n' "$uri" "$su" "${comps:-main}"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n'
  done
} >"$root/etc/apt/sources.list.d/debian.sources"
if [ -n "$apt_checks" ]; then
  printf '%s\n' "$apt_checks" >"$root/etc/apt/apt.conf.d/50mirror-checks"
fi

# Every host gets its own identity at start: host keys from user-data (or fresh ones), a
# transient machine id, its own hostname.
rm -f "$root"/etc/ssh/ssh_host_*
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
rm -f "$root/etc/hostname"
# debootstrap copied this machine's resolver; the host has no DNS (apt goes through the proxy).
printf '# no resolver: apt reaches the mirror through the test harness proxy\n' >"$root/etc/resolv.conf"
chmod 644 "$root/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

# Quiet, fast boots: no console login prompt, no apt timers racing a test's apt-get for the lock.
for unit in console-getty.service getty@.service apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer e2scrub_reap.service fstrim.timer; do
  ln -sfn /dev/null "$root/etc/systemd/system/$unit"
done

chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old

rm -rf --one-file-system "$rootfs" "$stamp"
mv "$root" "$rootfs"
printf '%s\n' "$want_stamp" >"$stamp"
log "built $rootfs in $(($(date +%s) - started)) s"
echo "$rootfs"
