# Guest image pipeline, sourced by ./panel (`./panel images [busybox|debian-12|all]`).
#
# An image is a root filesystem folder plus manifest.json: name, version, size, and a sha256
# over a canonical tar of the tree (sorted, zeroed times and owners), so two builds of the same
# content have the same checksum. One image feeds every driver; the ext4 and qcow2 forms for
# the kernel-based drivers are added by the engine's second part.

IMAGE_VERSION_busybox=2
IMAGE_VERSION_debian12=1

image_manifest() { # name dir version
  local name="$1" dir="$2" version="$3" size sum
  size="$(du -sb "$dir/rootfs" | cut -f1)"
  sum="$(tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - -C "$dir/rootfs" . | sha256sum | cut -d' ' -f1)"
  cat >"$dir/manifest.json" <<EOF
{
  "name": "$name",
  "version": "$version",
  "createdAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "sizeBytes": $size,
  "sha256": "$sum",
  "formats": ["rootfs"]
}
EOF
}

image_fresh() { # name version -> 0 when that version is built
  local m="$STATE_DIR/images/$1/manifest.json"
  [ -f "$m" ] && grep -q "\"version\": \"$2\"" "$m"
}

# Moves a finished build into place atomically-ish: the old image goes only once the new one is complete.
image_install() { # tmpdir final
  local tmp="$1" final="$2"
  if [ -d "$final" ]; then mv "$final" "$final.old.$$"; fi
  mv "$tmp" "$final"
  rm -rf "$final.old.$$"
}

build_busybox() {
  local final="$STATE_DIR/images/busybox"
  image_fresh busybox "$IMAGE_VERSION_busybox" && { echo "image busybox: up to date"; return 0; }
  rm -rf "$STATE_DIR"/images/.busybox.*  # leftovers of an interrupted build
  local tmp; tmp="$(mktemp -d "$STATE_DIR/images/.busybox.XXXXXX")"
  local r="$tmp/rootfs" a
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,proc,sys,dev,tmp,root,run,var/log,home}
  chmod 1777 "$r/tmp"; chmod 700 "$r/root"
  cp /bin/busybox "$r/bin/busybox"
  for a in $(/bin/busybox --list-full); do [ -e "$r/$a" ] || ln -s /bin/busybox "$r/$a"; done
  cat >"$r/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
::respawn:/sbin/getty -L 0 console vt100
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
EOF
  cat >"$r/etc/init.d/rcS" <<'EOF'
#!/bin/sh
# VpsPanel busybox image: mount what the runtime did not, name the host.
# Never mount over a /proc a container runtime prepared: it carries lxcfs's masked files.
[ -e /proc/self ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=755 tmpfs /run 2>/dev/null
[ -f /etc/hostname ] && hostname -F /etc/hostname
[ -x /etc/init.d/network ] && /etc/init.d/network
exit 0
EOF
  chmod 755 "$r/etc/init.d/rcS"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
  echo 'root:*:19000:0:99999:7:::' >"$r/etc/shadow"; chmod 600 "$r/etc/shadow"
  echo 'root:x:0:' >"$r/etc/group"
  echo 'busybox' >"$r/etc/hostname"
  printf '127.0.0.1 localhost\n' >"$r/etc/hosts"
  printf 'console\n' >"$r/etc/securetty"
  image_manifest busybox "$tmp" "$IMAGE_VERSION_busybox"
  image_install "$tmp" "$final"
  echo "image busybox: built ($(du -sh "$final/rootfs" | cut -f1))"
}

build_debian12() {
  local final="$STATE_DIR/images/debian-12"
  image_fresh debian-12 "$IMAGE_VERSION_debian12" && { echo "image debian-12: up to date"; return 0; }
  rm -rf "$STATE_DIR"/images/.debian-12.*  # leftovers of an interrupted build
  local tmp; tmp="$(mktemp -d "$STATE_DIR/images/.debian-12.XXXXXX")"
  say "debootstrap bookworm (minbase + sysvinit + openssh-server), about 30 s"
  if ! debootstrap --variant=minbase \
        --include=sysvinit-core,openssh-server,iproute2,ifupdown,procps,netbase,iputils-ping \
        bookworm "$tmp/rootfs" http://deb.debian.org/debian >"$DATA/debootstrap.log" 2>&1; then
    tail -20 "$DATA/debootstrap.log" >&2
    die "debootstrap failed (log: $DATA/debootstrap.log)"
  fi
  local r="$tmp/rootfs"
  chroot "$r" apt-get clean
  rm -rf "$r"/var/lib/apt/lists/* "$r"/etc/ssh/ssh_host_*_key*
  # SSH host keys are made on each guest's first boot, so no two VPSes share them.
  cat >"$r/etc/init.d/vpspanel-firstboot" <<'EOF'
#!/bin/sh
### BEGIN INIT INFO
# Provides:          vpspanel-firstboot
# Required-Start:    $local_fs
# Required-Stop:
# X-Start-Before:    ssh
# Default-Start:     2 3 4 5
# Default-Stop:
# Short-Description: Generate SSH host keys on first boot
### END INIT INFO
[ "$1" = start ] || exit 0
ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1 || ssh-keygen -A
EOF
  chmod 755 "$r/etc/init.d/vpspanel-firstboot"
  chroot "$r" update-rc.d vpspanel-firstboot defaults >/dev/null 2>&1 || true
  sed -i 's/^#\?PermitRootLogin.*/PermitRootLogin prohibit-password/' "$r/etc/ssh/sshd_config"
  # One login on the console (for the web console), none on virtual terminals.
  sed -i 's|^1:2345:respawn:.*|1:2345:respawn:/sbin/getty --noclear 38400 console|; s|^\([2-6]:23:respawn\)|#\1|' "$r/etc/inittab"
  echo 'debian' >"$r/etc/hostname"
  image_manifest debian-12 "$tmp" "$IMAGE_VERSION_debian12"
  image_install "$tmp" "$final"
  echo "image debian-12: built ($(du -sh "$final/rootfs" | cut -f1))"
}

cmd_images() {
  is_root || die "building images needs root (device nodes, chroot)"
  mkdir -p "$DATA" "$STATE_DIR/images"
  ensure_packages "${PKGS_ENGINE[@]}"
  case "${1:-all}" in
    busybox) build_busybox ;;
    debian-12) build_debian12 ;;
    all) build_busybox; build_debian12 ;;
    *) die "unknown image '$1' (busybox, debian-12, all)" ;;
  esac
}
