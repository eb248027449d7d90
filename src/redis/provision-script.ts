/**
 * The script that installs and configures Redis on the host, run as root through SSH. It is
 * part of the bundle; nothing but the distribution's packages is downloaded.
 *
 * Input, on stdin, read completely before anything else can consume it — one line per item,
 * values base64-encoded so no byte of them is ever parsed by the shell:
 *
 *   file redis.conf <base64>      the rendered redis.conf (required)
 *   file auth.conf <base64>       the default user's credentials (only with a password)
 *   secret password <base64>      for redis-cli's PING via REDISCLI_AUTH; kept in a private
 *                                 directory under /run (tmpfs) and removed on exit
 *   end
 *
 * Output: progress on stderr; on stdout exactly one line, the last, either
 *   OPENEMR_REDIS_RESULT key=value …   or   OPENEMR_REDIS_ERROR step=<step> <message>
 *
 * Idempotent: a file is replaced only when its bytes differ, Redis restarts only when one of
 * its files changed, and runtime tuning is written only when the value differs.
 *
 * Written without "${…}" so it can live in String.raw: every variable is set before use.
 */
export const PROVISION_SCRIPT = String.raw`set -eu
umask 077
export LC_ALL=C DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

step=start
changed=false
restart=false
restarted=false
installed=false
sysctl_state=unchanged
thp_state=unknown
file_changed=false
stage=""
got_end=false

failed_reported=false

log() { printf 'openemr-redis: %s\n' "$*" >&2; }
fail() {
  failed_reported=true
  printf 'OPENEMR_REDIS_ERROR step=%s %s\n' "$step" "$*"
  exit 1
}
on_exit() {
  rc=$?
  if [ -n "$stage" ]; then rm -rf "$stage"; fi
  if [ "$rc" -ne 0 ] && [ "$failed_reported" = false ]; then
    printf 'OPENEMR_REDIS_ERROR step=%s exit status %s\n' "$step" "$rc"
  fi
}
trap on_exit EXIT
trap 'exit 129' HUP
trap 'exit 143' TERM

# --- input --------------------------------------------------------------------------------
step=input
[ "$(id -u)" -eq 0 ] || fail "must run as root"
stage=$(mktemp -d /run/openemr-redis.XXXXXX)
while IFS=' ' read -r kind name data; do
  case "$kind" in
    end) got_end=true; break ;;
    file | secret) ;;
    *) fail "unexpected input line" ;;
  esac
  case "$kind:$name" in
    file:redis.conf | file:auth.conf | secret:password) ;;
    *) fail "unexpected input item $kind $name" ;;
  esac
  printf '%s' "$data" | base64 -d >"$stage/$name" || fail "input item $name is not base64"
done
[ "$got_end" = true ] || fail "input ended before its end line"
[ -s "$stage/redis.conf" ] || fail "no redis.conf in the input"
exec </dev/null

os=unknown
if [ -r /etc/os-release ]; then
  os=$(. /etc/os-release && printf '%s-%s' "$ID" "$VERSION_ID") || os=unknown
fi
log "host $(uname -n) runs $os"

# --- wait for boot -----------------------------------------------------------------------
step=cloud-init
if command -v cloud-init >/dev/null 2>&1; then
  log "waiting for cloud-init to finish"
  if ! timeout 900 cloud-init status --wait >/dev/null 2>&1; then
    log "cloud-init reports a problem; continuing: $(cloud-init status 2>&1 | tail -n 1)"
  fi
fi

# apt takes fcntl locks; /proc/locks lists every held lock with its file's inode.
apt_busy() {
  for lock in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock; do
    [ -e "$lock" ] || continue
    inode=$(stat -c %i "$lock")
    if awk -v inode="$inode" '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9a-f]+:[0-9a-f]+:[0-9]+$/) { split($i, p, ":"); if (p[3] == inode) found = 1 } } END { exit !found }' /proc/locks; then
      return 0
    fi
  done
  return 1
}
wait_for_apt() {
  waited=0
  while apt_busy; do
    if [ "$waited" -eq 0 ]; then log "waiting for another apt/dpkg run (unattended-upgrades?) to finish"; fi
    waited=$((waited + 1))
    [ "$waited" -lt 600 ] || { log "apt lock still held after 300 s; trying anyway"; return 0; }
    sleep 0.5
  done
}
apt_get() {
  tries=0
  while :; do
    wait_for_apt
    if apt-get -q -o DPkg::Lock::Timeout=300 -o Acquire::Retries=3 "$@" >&2; then return 0; fi
    tries=$((tries + 1))
    [ "$tries" -lt 3 ] || return 1
    log "apt-get $1 failed; retrying in 5 s"
    sleep 5
  done
}

# --- install -----------------------------------------------------------------------------
step=install
if dpkg -s redis-server 2>/dev/null | grep -q '^Status: install ok installed'; then
  log "redis-server is already installed"
else
  # A fresh image may have empty package lists.
  log "apt-get update"
  apt_get update || fail "apt-get update failed (see the output above)"
  log "apt-get install redis-server"
  apt_get install -y --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold redis-server ||
    fail "apt-get install redis-server failed (see the output above)"
  installed=true
  changed=true
fi
version=$(redis-server --version | sed -n 's/.*v=\([0-9][0-9.]*\).*/\1/p')
[ -n "$version" ] || fail "cannot read the version of redis-server"

# --- configuration -----------------------------------------------------------------------
step=config
conf="$stage/redis.conf"
if grep -q '@OPENEMR_REDIS_MAXMEMORY_AUTO@' "$conf"; then
  mem_kb=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
  [ -n "$mem_kb" ] || fail "cannot read MemTotal from /proc/meminfo"
  maxmemory=$((mem_kb * 768)) # 75 % of MemTotal in bytes: kB * 1024 * 3 / 4
  sed -i "s/@OPENEMR_REDIS_MAXMEMORY_AUTO@/$maxmemory/" "$conf"
else
  maxmemory=$(awk '$1 == "maxmemory" { print $2 }' "$conf")
fi
port=$(awk '$1 == "port" { print $2 }' "$conf")
[ -n "$port" ] || fail "redis.conf has no port"

# install_file SOURCE DEST MODE OWNER GROUP: replaces DEST only when the bytes differ; sets
# file_changed. Called plainly, never in a condition, so set -e still guards every step.
install_file() {
  file_changed=false
  if [ -f "$2" ] && cmp -s "$1" "$2"; then
    if [ "$(stat -c '%a %U %G' "$2")" != "$3 $4 $5" ]; then
      chown "$4:$5" "$2"
      chmod "$3" "$2"
      log "fixed owner/mode of $2"
      changed=true
    fi
    return 0
  fi
  install -d -m 0755 "$(dirname "$2")"
  cp "$1" "$2.openemr-new"
  chown "$4:$5" "$2.openemr-new"
  chmod "$3" "$2.openemr-new"
  mv -f "$2.openemr-new" "$2"
  log "wrote $2"
  file_changed=true
  changed=true
}

# The Debian/Ubuntu package keeps redis.conf as redis:redis 0640 (dpkg-statoverride); the
# credentials file follows it so a package upgrade and this script never fight.
install_file "$conf" /etc/redis/redis.conf 640 redis redis
if [ "$file_changed" = true ]; then restart=true; fi
if [ -f "$stage/auth.conf" ]; then
  install_file "$stage/auth.conf" /etc/redis/openemr-redis-auth.conf 640 redis redis
  if [ "$file_changed" = true ]; then restart=true; fi
elif [ -e /etc/redis/openemr-redis-auth.conf ]; then
  rm -f /etc/redis/openemr-redis-auth.conf
  log "removed /etc/redis/openemr-redis-auth.conf (no password any more)"
  changed=true
  restart=true
fi

# Redis binds the private address, which exists only once the network is configured; the
# package's unit orders itself only after network.target.
cat >"$stage/unit.conf" <<'UNIT'
# Written by openemr-redis-action: bind the private address only once it exists.
[Unit]
Wants=network-online.target
After=network-online.target
UNIT
install_file "$stage/unit.conf" /etc/systemd/system/redis-server.service.d/openemr-redis.conf 644 root root
if [ "$file_changed" = true ]; then
  systemctl daemon-reload
  restart=true
fi

# --- operating system tuning -------------------------------------------------------------
step=tuning
# Background saves fork; without overcommit a busy host refuses the fork and snapshots fail.
# somaxconn must not be below tcp-backlog (511): raise old kernels' 128, never lower 4096.
somaxconn_now=$(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo 0)
{
  echo '# Written by openemr-redis-action: kernel settings Redis asks for.'
  echo 'vm.overcommit_memory = 1'
  if [ "$somaxconn_now" -lt 1024 ] || grep -q '^net.core.somaxconn' /etc/sysctl.d/60-openemr-redis.conf 2>/dev/null; then
    echo 'net.core.somaxconn = 1024'
  fi
} >"$stage/sysctl.conf"
install_file "$stage/sysctl.conf" /etc/sysctl.d/60-openemr-redis.conf 644 root root

# set_sysctl KEY VALUE at_least|exact: writes /proc/sys only when needed; a container's
# read-only /proc/sys is reported, not fatal (the file above applies at the next boot).
set_sysctl() {
  path=/proc/sys/$(printf '%s' "$1" | tr . /)
  now=$(cat "$path" 2>/dev/null || echo "")
  if [ "$now" = "$2" ]; then return 0; fi
  if [ "$3" = at_least ] && [ -n "$now" ] && [ "$now" -ge "$2" ]; then return 0; fi
  if (printf '%s\n' "$2" >"$path") 2>/dev/null; then
    log "set $1 = $2"
    if [ "$sysctl_state" != read-only ]; then sysctl_state=applied; fi
    changed=true
  else
    log "cannot set $1 = $2 now (read-only /proc/sys, as in a container); it applies at boot"
    sysctl_state=read-only
  fi
}
set_sysctl vm.overcommit_memory 1 exact
if grep -q '^net.core.somaxconn' "$stage/sysctl.conf"; then set_sysctl net.core.somaxconn 1024 at_least; fi

# Transparent huge pages "always" make Redis's fork copy 2 MB pages: latency spikes and memory
# growth. tmpfiles applies "never" at every boot; this applies it now.
cat >"$stage/thp.conf" <<'THP'
# Written by openemr-redis-action: transparent huge pages off for Redis.
w /sys/kernel/mm/transparent_hugepage/enabled - - - - never
THP
install_file "$stage/thp.conf" /etc/tmpfiles.d/openemr-redis-thp.conf 644 root root
thp=/sys/kernel/mm/transparent_hugepage/enabled
if [ ! -r "$thp" ]; then
  thp_state=absent
else
  case "$(cat "$thp")" in
    *'[never]'*) thp_state=never ;;
    *)
      if (echo never >"$thp") 2>/dev/null; then
        thp_state=set-never
        changed=true
        log "transparent huge pages set to never"
      else
        thp_state=read-only
        log "cannot change transparent huge pages now (read-only /sys, as in a container)"
      fi
      ;;
  esac
fi

# --- service -----------------------------------------------------------------------------
step=service
if ! systemctl is-enabled --quiet redis-server.service 2>/dev/null; then
  systemctl enable --quiet redis-server.service
  changed=true
fi
if [ "$restart" = true ]; then
  log "restarting redis-server"
  systemctl restart redis-server.service || fail "redis-server did not start with the new configuration"
  restarted=true
elif ! systemctl is-active --quiet redis-server.service; then
  log "starting redis-server"
  systemctl start redis-server.service || fail "redis-server did not start"
  restarted=true
  changed=true
fi

step=ping
if [ -f "$stage/password" ]; then
  # redis-cli reads the password from the environment, never from its arguments.
  REDISCLI_AUTH=$(cat "$stage/password")
  export REDISCLI_AUTH
fi
tries=0
answer=""
while :; do
  answer=$(redis-cli -h 127.0.0.1 -p "$port" ping 2>&1 || true)
  if [ "$answer" = PONG ]; then break; fi
  tries=$((tries + 1))
  [ "$tries" -lt 150 ] || fail "Redis did not answer PING on 127.0.0.1:$port within 30 s (last answer: $answer)"
  sleep 0.2
done
unset REDISCLI_AUTH

listen=unknown
if command -v ss >/dev/null 2>&1; then
  listen=$(ss -Hltn "sport = :$port" | awk '{ print $4 }' | sort -u | paste -sd, -)
fi
pid=$(systemctl show -p MainPID --value redis-server.service)

step=report
printf 'OPENEMR_REDIS_RESULT changed=%s restarted=%s installed=%s version=%s port=%s maxmemory=%s sysctl=%s thp=%s pid=%s listen=%s os=%s\n' \
  "$changed" "$restarted" "$installed" "$version" "$port" "$maxmemory" "$sysctl_state" "$thp_state" "$pid" "$listen" "$os"
`
