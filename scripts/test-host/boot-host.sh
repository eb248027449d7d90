#!/bin/bash
# Boots one disposable test host. Run it under `unshare --mount --propagation private`: every
# mount made here (the overlay root, the tmpfs over /run/systemd) lives only in this private
# mount namespace and vanishes with the last process in it, so a crash leaves no mount behind
# and the cached rootfs is never written to. Ends by exec'ing systemd-nspawn, so the caller's
# child pid is nspawn's (SIGTERM to it = orderly poweroff of the host).
#
# Environment:
#   TEST_HOST_ROOTFS    the cached rootfs (overlay lower layer, read-only)
#   TEST_HOST_DIR       per-host dir with upper/ work/ merged/ seed/
#   TEST_HOST_MACHINE   machine name        TEST_HOST_HOSTNAME  hostname
#   TEST_HOST_NETNS     /run/netns/<name>   TEST_HOST_ADDRESS   the host's IPv4 address
#   TEST_HOST_USER      login user (created like the default user of an Ubuntu cloud image)
# seed/ holds: authorized_keys, ssh/ (host key files; empty = generate fresh ones, as
# cloud-init does without ssh_keys), apt-proxy.conf.
set -euo pipefail

rootfs=${TEST_HOST_ROOTFS:?} dir=${TEST_HOST_DIR:?} machine=${TEST_HOST_MACHINE:?}
hostname=${TEST_HOST_HOSTNAME:?} netns=${TEST_HOST_NETNS:?} address=${TEST_HOST_ADDRESS:?}
user=${TEST_HOST_USER:?}
m="$dir/merged" seed="$dir/seed"

# nspawn keeps runtime state under /run/systemd; give it a private one so nothing lands on
# the machine.
mount -t tmpfs -o mode=0755,size=4m tmpfs /run/systemd
mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$dir/upper,workdir=$dir/work" "$m"

echo "$hostname" >"$m/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n' \
  "$address" "$hostname" >"$m/etc/hosts"

# The default user of an Ubuntu cloud image: locked password, passwordless sudo.
if ! chroot "$m" getent passwd "$user" >/dev/null; then
  chroot "$m" useradd --create-home --shell /bin/bash --groups adm,sudo "$user"
fi
home=$(chroot "$m" getent passwd "$user" | cut -d: -f6)
if [ "$user" != root ]; then
  printf '# Created by the test host harness (as cloud-init does)\n%s ALL=(ALL) NOPASSWD:ALL\n' \
    "$user" >"$m/etc/sudoers.d/90-cloud-init-users"
  chmod 0440 "$m/etc/sudoers.d/90-cloud-init-users"
fi

# cloud-init's ssh_authorized_keys.
install -d -m 0700 "$m$home/.ssh"
install -m 0600 "$seed/authorized_keys" "$m$home/.ssh/authorized_keys"
chroot "$m" chown -R "$user:" "$home/.ssh"

# cloud-init's ssh_keys: delete every host key, then write the delivered ones.
rm -f "$m"/etc/ssh/ssh_host_*
if compgen -G "$seed/ssh/ssh_host_*" >/dev/null; then
  for f in "$seed"/ssh/ssh_host_*; do
    case "$f" in
    *.pub | *-cert.pub) install -m 0644 "$f" "$m/etc/ssh/" ;;
    *) install -m 0600 "$f" "$m/etc/ssh/" ;;
    esac
  done
else
  chroot "$m" ssh-keygen -A >/dev/null
fi

install -m 0644 "$seed/apt-proxy.conf" "$m/etc/apt/apt.conf.d/90test-host-proxy"

exec systemd-nspawn --quiet --boot --register=no --keep-unit --settings=no \
  --directory="$m" --machine="$machine" \
  --network-namespace-path="$netns" --capability=CAP_NET_ADMIN \
  --console=read-only --link-journal=no --resolv-conf=off --timezone=off
