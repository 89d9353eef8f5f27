# Shared by image/image-aot-cache and devmode/measure-worker: runs a `docker save` image tarball (Jib's
# buildTar) without an engine, as root, in a chroot of its unpacked layers.

# unpack_image <image.tar> <dir>: layers into <dir>/rootfs (with /proc and the cgroup file system
# mounted, as a container runtime provides them), and the image's Entrypoint, Env and User into the
# arrays ENTRY and ENVS and the variable USERSPEC.
unpack_image() {
  local image=$1 dir=$2 config layer
  mkdir -p "$dir/tar" "$dir/rootfs"
  tar --warning=no-unknown-keyword -xf "$image" -C "$dir/tar"
  config=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["Config"])' "$dir/tar/manifest.json")
  for layer in $(python3 -c 'import json,sys; [print(l) for l in json.load(open(sys.argv[1]))[0]["Layers"]]' "$dir/tar/manifest.json"); do
    tar --warning=no-unknown-keyword -xf "$dir/tar/$layer" -C "$dir/rootfs"
  done
  mapfile -t ENTRY < <(python3 -c 'import json,sys; [print(a) for a in json.load(open(sys.argv[1]))["config"]["Entrypoint"]]' "$dir/tar/$config")
  mapfile -t ENVS < <(python3 -c 'import json,sys; [print(e) for e in json.load(open(sys.argv[1]))["config"].get("Env", [])]' "$dir/tar/$config")
  USERSPEC=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"].get("User") or "0:0")' "$dir/tar/$config")
  # What a container runtime provides: the host's name, and /dev's null and random devices
  # (without /dev/urandom, the JDK seeds SecureRandom from thread timing: 8 s at start).
  cp /etc/hosts /etc/resolv.conf "$dir/rootfs/etc/" 2>/dev/null || true
  mkdir -p "$dir/rootfs/dev"
  mknod -m 666 "$dir/rootfs/dev/null" c 1 3
  mknod -m 666 "$dir/rootfs/dev/random" c 1 8
  mknod -m 666 "$dir/rootfs/dev/urandom" c 1 9
  mkdir -p "$dir/rootfs/proc"
  mount -t proc proc "$dir/rootfs/proc"
  # And the cgroup file system, where the JVM reads its container's memory limit (without it, the
  # JVM in the chroot sizes its heap from the host's memory).
  if [ -d /sys/fs/cgroup ]; then
    mkdir -p "$dir/rootfs/sys/fs/cgroup"
    mount --rbind /sys/fs/cgroup "$dir/rootfs/sys/fs/cgroup"
    mount --make-rslave "$dir/rootfs/sys/fs/cgroup"
  fi
}

# release_image <dir>: unmounts what unpack_image mounted.
release_image() {
  umount -R "$1/rootfs/sys/fs/cgroup" 2>/dev/null || true
  umount "$1/rootfs/proc" 2>/dev/null || true
}

# free_port: a free TCP port on this machine.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])'
}

# write_kubeconfig <file>: a kubeconfig for a worker that only starts. Any will do: the worker
# builds its client at start and calls the API only for work.
write_kubeconfig() {
  printf '%s\n' 'apiVersion: v1' 'kind: Config' \
    'clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]' \
    'users: [{name: u, user: {token: unused}}]' \
    'contexts: [{name: x, context: {cluster: c, user: u, namespace: opschain}}]' \
    'current-context: x' >"$1"
  chmod 644 "$1"
}

# wait_for <pattern> <log> <pid>: until the log has the pattern (60 s at most); fails if pid ends.
wait_for() {
  for _ in $(seq 1 3000); do
    grep -qs "$1" "$2" && return 0
    kill -0 "$3" 2>/dev/null || { cat "$2"; echo "process $3 ended before \"$1\"" >&2; return 1; }
    sleep 0.02
  done
  cat "$2"
  echo "no \"$1\" within 60 s" >&2
  return 1
}
