# Guest image pipeline, sourced by ./panel (`./panel images [busybox|debian-12|all]`).
#
# An image is a root filesystem folder plus manifest.json: name, version, size, and a sha256
# over a canonical tar of the tree (sorted, zeroed times and owners), so two builds of the same
# content have the same checksum. One image feeds every driver: containers use the folder, the
# kernel-based drivers use forms made from it (disk.ext4 here; more forms are added by
# image_forms), listed in the manifest's "formats".

IMAGE_VERSION_busybox=3
IMAGE_VERSION_debian12=3

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

# The guest side of kernel-based drivers (scripts/guest): the config disk applied at boot, and the
# exec agent (a console line only the host can open). Both do nothing inside a container.
image_guest_tools() { # rootfs
  local r="$1" f
  for f in vpspanel-config vpspanel-boot-config vpspanel-exec; do
    install -m 755 "$ROOT/scripts/guest/$f" "$r/sbin/$f"
  done
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
::once:/sbin/vpspanel-exec
::respawn:/sbin/getty -L 0 console vt100
::ctrlaltdel:/sbin/poweroff
::shutdown:/bin/umount -a -r
EOF
  cat >"$r/etc/init.d/rcS" <<'EOF'
#!/bin/sh
# VpsPanel busybox image: mount what the runtime did not, name the host.
# Never mount over a /proc a container runtime prepared: it carries lxcfs's masked files.
[ -e /proc/self ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=755 tmpfs /run 2>/dev/null
[ -x /sbin/vpspanel-boot-config ] && /sbin/vpspanel-boot-config
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
  image_guest_tools "$r"
  image_manifest busybox "$tmp" "$IMAGE_VERSION_busybox"
  image_install "$tmp" "$final"
  echo "image busybox: built ($(du -sh "$final/rootfs" | cut -f1))"
}

build_debian12() {
  local final="$STATE_DIR/images/debian-12"
  image_fresh debian-12 "$IMAGE_VERSION_debian12" && { echo "image debian-12: up to date"; return 0; }
  rm -rf "$STATE_DIR"/images/.debian-12.*  # leftovers of an interrupted build
  local tmp; tmp="$(mktemp -d "$STATE_DIR/images/.debian-12.XXXXXX")"
  say "debootstrap bookworm (minbase + sysvinit + openssh-server + busybox-static), about 30 s"
  # busybox-static: its httpd serves the static sites of hosting containers (which run this image).
  if ! debootstrap --variant=minbase \
        --include=sysvinit-core,openssh-server,iproute2,ifupdown,procps,netbase,iputils-ping,busybox-static \
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
  # Kernel-based guests: the config disk before the host name and network, the exec agent once the
  # runlevel is up, and Ctrl-Alt-Del (the engine's graceful stop) powers off.
  image_guest_tools "$r"
  cat >"$r/etc/init.d/vpspanel-config" <<'EOF'
#!/bin/sh
### BEGIN INIT INFO
# Provides:          vpspanel-config
# Required-Start:    mountkernfs
# Required-Stop:
# X-Start-Before:    hostname networking ssh
# Default-Start:     S
# Default-Stop:
# Short-Description: Apply the panel's config disk (host name, address, root access)
### END INIT INFO
[ "$1" = start ] || exit 0
exec /sbin/vpspanel-boot-config
EOF
  chmod 755 "$r/etc/init.d/vpspanel-config"
  chroot "$r" update-rc.d vpspanel-config defaults >/dev/null 2>&1 || true
  sed -i 's|^ca:.*ctrlaltdel.*|ca:12345:ctrlaltdel:/sbin/shutdown -t1 -h -P now|' "$r/etc/inittab"
  echo 'ex:2345:once:/sbin/vpspanel-exec' >>"$r/etc/inittab"
  # One login on the console (for the web console), none on virtual terminals.
  sed -i 's|^1:2345:respawn:.*|1:2345:respawn:/sbin/getty --noclear 38400 console|; s|^\([2-6]:23:respawn\)|#\1|' "$r/etc/inittab"
  echo 'debian' >"$r/etc/hostname"
  image_manifest debian-12 "$tmp" "$IMAGE_VERSION_debian12"
  image_install "$tmp" "$final"
  echo "image debian-12: built ($(du -sh "$final/rootfs" | cut -f1))"
}

# The ext4 form: the root filesystem as an ext4 disk image (mkfs.ext4 -d, no mount needed), sized
# to the tree plus a third and 64 MiB of room, no reserved blocks. Kernel-based guests boot it (UML
# as the base of a copy-on-write disk; QEMU through a qcow2 base made from it).
image_ext4() { # dir
  local dir="$1" mib
  [ -f "$dir/disk.ext4" ] && return 0  # a rebuilt image is a new folder, so a present form is current
  mib=$(( $(du -sm "$dir/rootfs" | cut -f1) * 4 / 3 + 64 ))
  rm -f "$dir/.disk.ext4.tmp"
  truncate -s "${mib}M" "$dir/.disk.ext4.tmp"
  mkfs.ext4 -q -F -m 0 -L vpsroot -d "$dir/rootfs" "$dir/.disk.ext4.tmp" \
    || { rm -f "$dir/.disk.ext4.tmp"; die "mkfs.ext4 -d $dir/rootfs failed"; }
  mv "$dir/.disk.ext4.tmp" "$dir/disk.ext4"
}

# Records the forms present in the manifest's "formats" line.
image_formats() { # dir
  local dir="$1" forms='"rootfs"' f
  for f in ext4 qcow2; do [ -f "$dir/disk.$f" ] && forms="$forms, \"$f\""; done
  sed -i "s/^  \"formats\": .*/  \"formats\": [$forms]/" "$dir/manifest.json"
}

# The qcow2 form: the base of every QEMU guest's copy-on-write overlay (made from the ext4 form).
image_qcow2() { # dir
  local dir="$1"
  [ -f "$dir/disk.qcow2" ] && return 0
  rm -f "$dir/.disk.qcow2.tmp"
  qemu-img convert -q -O qcow2 "$dir/disk.ext4" "$dir/.disk.qcow2.tmp" \
    || { rm -f "$dir/.disk.qcow2.tmp"; die "qemu-img convert of $dir/disk.ext4 failed"; }
  mv "$dir/.disk.qcow2.tmp" "$dir/disk.qcow2"
}

# Every form of an image beside its folder; each step is skipped when its output is current.
image_forms() { # name
  local dir="$STATE_DIR/images/$1"
  image_ext4 "$dir"
  image_qcow2 "$dir"
  image_formats "$dir"
}

# ---------------------------------------------------------------- QEMU guest kernel
# Debian's own kernel (linux-image-amd64's current version), fetched with `apt-get download` and
# unpacked with `dpkg-deb -x` - never installed on the host. Debian's package has no initrd: the
# installed system makes one (initramfs-tools, for that machine's disks). So beside Debian's
# vmlinuz we build our own small initramfs: busybox, the virtio and ext4 modules (with their
# dependencies from modules.dep), resize2fs, vpspanel-config and an /init (scripts/guest/qemu-init)
# that mounts the root disk, grows its filesystem to the disk, applies the config disk, starts the
# engine's exec shell on a virtio console and hands over to the guest's init. Result in
# images/kernels/qemu: vmlinuz, vmlinux, initrd.img, release, version (rebuilt when the package, this
# recipe, the init or the config script changes).
QEMU_KERNEL_RECIPE=2
QEMU_INITRD_MODULES="virtio_pci virtio_blk virtio_net virtio_console ext4 crc32c_generic"

build_qemu_kernel() {
  local kernels="$STATE_DIR/images/kernels" out pkg want tmp kver m line f
  out="$kernels/qemu"
  pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')"
  [ -n "$pkg" ] || die "apt knows no linux-image-amd64 (run apt-get update)"
  want="$pkg recipe=$QEMU_KERNEL_RECIPE init=$(cat "$ROOT/scripts/guest/qemu-init" "$ROOT/scripts/guest/vpspanel-config" | sha256sum | cut -c1-16)"
  if [ -f "$out/version" ] && [ "$(cat "$out/version")" = "$want" ]; then echo "kernel qemu: up to date ($pkg)"; return 0; fi
  mkdir -p "$kernels"
  rm -rf "$kernels"/.qemu.*  # leftovers of an interrupted build
  tmp="$(mktemp -d "$kernels/.qemu.XXXXXX")"
  (cd "$tmp" && apt-get download -q "$pkg" >"$tmp/download.log" 2>&1) || { cat "$tmp/download.log" >&2; die "apt-get download $pkg failed"; }
  dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/pkg"
  kver="$(basename "$(ls -d "$tmp"/pkg/lib/modules/*/ | head -1)")"
  busybox depmod -b "$tmp/pkg" "$kver"

  local s="$tmp/initrd" md="lib/modules/$kver"
  mkdir -p "$s"/{bin,dev,proc,sys,root,cfg,run,"$md"}
  cp /bin/busybox "$s/bin/busybox"
  for m in $(/bin/busybox --list); do [ -e "$s/bin/$m" ] || ln -s busybox "$s/bin/$m"; done
  ln -s bin "$s/sbin"
  # modules.dep lists each module's whole dependency closure.
  for m in $QEMU_INITRD_MODULES; do
    line="$(grep -E "/$m\.ko(\.[a-z]+)?:" "$tmp/pkg/$md/modules.dep")" || die "$pkg has no module $m"
    for f in ${line%%:*} ${line#*:}; do mkdir -p "$s/$md/$(dirname "$f")"; cp "$tmp/pkg/$md/$f" "$s/$md/$f"; done
  done
  busybox depmod -b "$s" "$kver"
  # resize2fs (online growth of the root filesystem to the disk) with the libraries it needs.
  for f in /sbin/resize2fs $(ldd /sbin/resize2fs | grep -o '/[^ ]*'); do cp -L --parents "$f" "$s"; done
  install -m 755 "$ROOT/scripts/guest/vpspanel-config" "$s/bin/vpspanel-config"
  install -m 755 "$ROOT/scripts/guest/qemu-init" "$s/init"
  mknod -m 600 "$s/dev/console" c 5 1; mknod -m 666 "$s/dev/null" c 1 3
  mkdir -p "$tmp/out"
  (cd "$s" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -6) >"$tmp/out/initrd.img"
  cp "$tmp/pkg/boot/vmlinuz-$kver" "$tmp/out/vmlinuz"
  # The same kernel unpacked (an ELF with a PVH entry point, which QEMU boots directly): under TCG
  # the guest's own xz decompression of vmlinuz costs about 2 s of every boot.
  local off
  off="$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$tmp/out/vmlinuz" | head -1 | cut -d: -f1)"
  [ -n "$off" ] || die "$pkg: vmlinuz holds no xz stream"
  tail -c +"$((off + 1))" "$tmp/out/vmlinuz" | xz -dcq >"$tmp/out/vmlinux" 2>/dev/null || true  # data after the stream makes xz fail
  [ "$(head -c 4 "$tmp/out/vmlinux" | od -An -c | tr -d ' ')" = 177ELF ] || die "$pkg: unpacking vmlinuz gave no ELF kernel"
  echo "$kver" >"$tmp/out/release"
  echo "$want" >"$tmp/out/version"
  if [ -d "$out" ]; then mv "$out" "$out.old.$$"; fi
  mv "$tmp/out" "$out"
  rm -rf "$out.old.$$" "$tmp"
  echo "kernel qemu: built $kver (initrd $(du -h "$out/initrd.img" | cut -f1))"
}

cmd_images() {
  is_root || die "building images needs root (device nodes, chroot)"
  mkdir -p "$DATA" "$STATE_DIR/images"
  ensure_packages "${PKGS_ENGINE[@]}"
  case "${1:-all}" in
    busybox) build_busybox; image_forms busybox ;;
    debian-12) build_debian12; image_forms debian-12 ;;
    kernels) build_qemu_kernel ;;
    all) build_busybox; build_debian12; image_forms busybox; image_forms debian-12; build_qemu_kernel ;;
    *) die "unknown image '$1' (busybox, debian-12, kernels, all)" ;;
  esac
}
