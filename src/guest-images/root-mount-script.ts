// The part of the initramfs /init that hands the machine to a root filesystem on a disk, as the kernel's
// own root= handling would without an initramfs (Documentation/admin-guide/kernel-parameters.txt): root=
// (/dev/sdX..., UUID=..., LABEL=... through busybox findfs), rootfstype= (a comma list, tried in turn),
// rootflags=, ro/rw, init= (default /sbin/init), rootwait / rootwait=SECONDS and rootdelay=SECONDS.
// hv_storvsc finds its disks asynchronously after it is loaded, so without rootwait the wait is bounded
// (ROOT_WAIT_DEFAULT_S) rather than the kernel's "look once". There is no fsck, so the root is mounted
// read-write unless `ro` is given (the kernel mounts read-only by default only so that fsck can run first).
// On success it moves /dev, /proc and /sys into the new root and execs switch_root, which empties the
// initramfs and execs the disk's init as PID 1. Every failure is logged and returns, and /init carries on
// as without root= (its own shell): PID 1 must never exit, so nothing here may end the shell.

/** Seconds /init waits for the root device when the command line has no rootwait. */
export const ROOT_WAIT_DEFAULT_S = 30;
/** Where the root filesystem is mounted in the initramfs before switch_root. */
export const NEW_ROOT_DIR = '/newroot';

/**
 * Shell text (busybox sh) defining root_from_cmdline: it parses /proc/cmdline and, if it names root=,
 * mounts it and switch_roots (not returning); otherwise, or on any failure, it returns. Uses `log`. The block
 * device test and the final exec are functions (root_is_block, root_exec_init), and the mount point is
 * $newroot when set, so a host test can stand in for a device and a switch.
 */
export function rootMountScript(): string {
  return `root_is_block() { [ -b "$1" ]; }
root_exec_init() { exec switch_root "$newroot" "$1"; }
# switch_root empties the initramfs before it execs the init: after that a failure can only end PID 1, so
# what can be checked (present, executable, a script's interpreter present) is checked first.
root_init_runnable() {
  f="$newroot$1"
  n=0
  while [ -L "$f" ] && [ "$n" -lt 8 ]; do # an absolute link means the new root's path, not the initramfs's
    t=$(readlink "$f")
    case "$t" in /*) f="$newroot$t" ;; *) f="\${f%/*}/$t" ;; esac
    n=$((n + 1))
  done
  if [ ! -f "$f" ] || [ ! -x "$f" ]; then
    log "root: $dev has no executable $1 (init=)"
    return 1
  fi
  if [ "$(head -c 2 "$f")" = '#!' ]; then
    interp=$(head -n 1 "$f" | sed 's/^#! *//; s/[[:space:]].*//')
    if [ ! -x "$newroot$interp" ] && [ ! -L "$newroot$interp" ]; then
      log "root: $1 on $dev is a script for $interp, which $dev does not have"
      return 1
    fi
  fi
}
root_from_cmdline() {
  newroot=\${newroot:-${NEW_ROOT_DIR}}
  root= rootfstype= rootflags= rootmode=rw rootinit=/sbin/init rootwait= rootdelay=
  for arg in $(cat /proc/cmdline); do
    case "$arg" in
      root=*) root="\${arg#root=}" ;;
      rootfstype=*) rootfstype="\${arg#rootfstype=}" ;;
      rootflags=*) rootflags="\${arg#rootflags=}" ;;
      ro) rootmode=ro ;;
      rw) rootmode=rw ;;
      init=*) rootinit="\${arg#init=}" ;;
      rootwait) rootwait=0 ;;
      rootwait=*) rootwait="\${arg#rootwait=}" ;;
      rootdelay=*) rootdelay="\${arg#rootdelay=}" ;;
    esac
  done
  [ -n "$root" ] || return 0
  case "$rootwait" in ''|*[!0-9]*) [ -z "$rootwait" ] || { log "root: rootwait=$rootwait is not a number of seconds, ignored"; rootwait=; } ;; esac
  case "$rootdelay" in *[!0-9]*) log "root: rootdelay=$rootdelay is not a number of seconds, ignored"; rootdelay= ;; esac
  if [ -n "$rootdelay" ] && [ "$rootdelay" -gt 0 ]; then
    log "root: rootdelay=$rootdelay: waiting $rootdelay s"
    sleep "$rootdelay"
  fi
  # rootwait alone waits for ever (logging every 10 s); rootwait=N or no rootwait at all waits at most N s.
  limit=\${rootwait:-${ROOT_WAIT_DEFAULT_S}}
  case "$root" in
    /dev/*|UUID=*|LABEL=*) ;;
    *) log "root: root=$root is not supported (use /dev/NAME, UUID=... or LABEL=...)"; return 1 ;;
  esac
  log "root: waiting for $root ($([ "$limit" -gt 0 ] && echo "at most $limit s" || echo "rootwait: no limit"))"
  ticks=0
  while :; do
    case "$root" in
      /dev/*) dev="$root" ;;
      *) dev=$(findfs "$root" 2>/dev/null) ;;
    esac
    [ -n "$dev" ] && root_is_block "$dev" && break
    if [ "$limit" -gt 0 ] && [ "$ticks" -ge $((limit * 4)) ]; then
      log "root: $root did not appear within $limit s (block devices: $(ls /sys/class/block 2>/dev/null | tr '\\n' ' '))"
      return 1
    fi
    [ "$ticks" -gt 0 ] && [ $((ticks % 40)) -eq 0 ] && log "root: still waiting for $root ($((ticks / 4)) s)"
    sleep 0.25
    ticks=$((ticks + 1))
  done
  log "root: $root is $dev (after $((ticks / 4)).$((ticks % 4 * 25)) s)"
  mkdir -p $newroot
  opts=$rootmode\${rootflags:+,$rootflags}
  mounted=
  for t in $(echo "\${rootfstype:-auto}" | tr , ' '); do
    if [ "$t" = auto ]; then out=$(mount -o "$opts" "$dev" $newroot 2>&1); else out=$(mount -t "$t" -o "$opts" "$dev" $newroot 2>&1); fi
    if [ $? -eq 0 ]; then mounted=1; break; fi
    log "root: mount $dev ($t, $opts) failed: $out"
  done
  [ -n "$mounted" ] || return 1
  log "root: mounted $(grep " $newroot " /proc/mounts | cut -d' ' -f1,3,4)"
  if ! root_init_runnable "$rootinit"; then
    umount "$newroot"
    return 1
  fi
  for m in /dev /proc /sys; do
    if [ ! -d "$newroot$m" ]; then
      log "root: $dev has no $m directory to move $m to"
      umount $newroot
      return 1
    fi
  done
  moved=
  for m in /dev /proc /sys; do
    if ! out=$(mount -o move $m "$newroot$m" 2>&1); then
      log "root: cannot move $m into the new root: $out"
      for b in $moved; do mount -o move "$newroot$b" "$b"; done
      umount $newroot
      return 1
    fi
    moved="$m $moved"
  done
  log "root: switching to $dev, running $rootinit"
  root_exec_init "$rootinit"
}
`;
}
