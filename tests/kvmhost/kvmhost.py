#!/usr/bin/env python3
"""A throwaway KVM host: Debian's stock kernel under QEMU's emulator (TCG, -cpu max,
which implements AMD SVM with nested paging) loads kvm-amd and offers a real /dev/kvm.
The VM mounts this machine's root over 9p and runs commands in it, chrooted, at the same
paths, so the build here is the build there.

  kvmhost.py run [--timeout S] [--] CMD ARG...   boot a VM, run CMD, power off
  kvmhost.py exec [--] CMD ARG...                run CMD in a VM of the pool in
                                                  $DETVM_KVMHOST_POOL (booted on demand)
  kvmhost.py stop                                 power the pool's VMs off
  kvmhost.py prepare                              fetch the kernel, build the initramfs
  kvmhost.py status                               what is cached, what is running

Options of run, exec and prepare: --timeout S (run, exec); --kvm stock|tsc-exit (also
$DETVM_KVMHOST_KVM): which KVM modules the VM loads, Debian's own (the default) or
Debian's built with detvm's change (scripts/kvm-detvm: RDTSC exits to user space), built
once against the kernel's linux-headers package and cached beside it. A pool's VMs all
load the same kind: exec keeps a pool per kind (POOL, POOL-tsc-exit).

The command's exit status is returned; 125 means the VM failed (it would not boot, it
died, or it stopped answering): then its console (with the kernel's log) is printed.
What it needs is cached under ${DETVM_CACHE:-~/.cache/detvm}/kvmhost, keyed by the
kernel package's version and this directory's init script.

Environment: DETVM_KVMHOST_POOL (exec, stop: the pool directory), DETVM_KVMHOST_VMS
(VMs in a pool, default: the number of CPUs), DETVM_KVMHOST_MEM (MiB per VM, default
3072), DETVM_KVMHOST_HANG (seconds without a heartbeat before a VM counts as hung,
default 90), DETVM_KVMHOST_IDLE (seconds without a job before a pool VM powers itself
off, default 900), DETVM_KVMHOST_QEMU_ARGS (more QEMU arguments, split as a shell
would: e.g. a -netdev socket and its virtio-net-pci for two VMs joined by a wire).
"""
import fcntl
import gzip
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VM_FAILED = 125
# What the VM loads, dependencies first (resolved from modules.dep at prepare time):
# virtio-pci and 9p for the root, KVM, TAP, veth for namespaces, Soft-RoCE for RDMA
# (rxe needs the crc32 shash, which no module depends on by symbol), virtio-net for a
# NIC given with DETVM_KVMHOST_QEMU_ARGS (tests/bench/ft_two_vms.sh).
MODULES = ["virtio_pci", "9pnet_virtio", "9p", "kvm-amd", "tun", "veth",
           "crc32_generic", "rdma_rxe", "ib_uverbs", "rdma_ucm", "virtio_net"]
INIT_FILES = ["init.sh"]
KVM_KINDS = ("stock", "tsc-exit")
KVM_DETVM = os.path.join(HERE, "..", "..", "scripts", "kvm-detvm")


def log(msg):
    print(f"kvmhost: {msg}", file=sys.stderr, flush=True)


def die(msg, code=VM_FAILED):
    log(msg)
    sys.exit(code)


def cache_root():
    base = os.environ.get("DETVM_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "detvm")
    return os.path.join(base, "kvmhost")


def sh(*args, **kw):
    return subprocess.run(args, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, **kw).stdout


def kernel_package():
    """(package, version) of the kernel linux-image-amd64 depends on, or None."""
    try:
        deps = sh("apt-cache", "depends", "linux-image-amd64")
        pkg = next(line.split(":", 1)[1].strip() for line in deps.splitlines()
                   if line.strip().startswith("Depends: linux-image-"))
        show = sh("apt-cache", "show", "--no-all-versions", pkg)
        ver = next(line.split(":", 1)[1].strip() for line in show.splitlines()
                   if line.startswith("Version:"))
        return pkg, ver
    except (subprocess.CalledProcessError, StopIteration, FileNotFoundError):
        return None


def init_digest():
    """What the initramfs is made of besides the kernel package: the init, the modules."""
    h = hashlib.sha256()
    for f in INIT_FILES:
        with open(os.path.join(HERE, f), "rb") as fh:
            h.update(fh.read())
    h.update(" ".join(MODULES).encode())
    return h.hexdigest()[:12]


def module_order(moddir, wanted):
    """Module names in load order (dependencies first) from moddir/modules.dep."""
    deps, path = {}, {}
    with open(os.path.join(moddir, "modules.dep")) as fh:
        for line in fh:
            mod, _, rest = line.partition(":")
            name = os.path.basename(mod).split(".ko")[0].replace("-", "_")
            path[name] = mod
            deps[name] = [os.path.basename(d).split(".ko")[0].replace("-", "_")
                          for d in rest.split()]
    order = []

    def visit(name):
        if name in order:
            return
        if name not in deps:
            raise SystemExit(f"kvmhost: module {name} is not in the kernel package")
        for d in deps[name]:
            visit(d)
        order.append(name)
    for w in wanted:
        visit(w.replace("-", "_"))
    return order, path


def pack_initrd(tree, dest):
    """tree as a gzipped newc cpio at dest."""
    files = sh("sh", "-c", "find . | sort", cwd=tree)
    cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=tree,
                          input=files.encode(), check=True, stdout=subprocess.PIPE).stdout
    with gzip.open(dest, "wb", compresslevel=1) as fh:
        fh.write(cpio)


def build_entry(dest, pkg, ver):
    """Downloads pkg=ver and writes dest/{vmlinuz,initrd.gz,version}; dest must not exist."""
    work = tempfile.mkdtemp(prefix="kvmhost.", dir=os.path.dirname(dest))
    try:
        log(f"fetching {pkg} {ver} (once; cached in {os.path.dirname(dest)})")
        subprocess.run(["apt-get", "download", "-q", f"{pkg}={ver}"], cwd=work,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deb = next(f for f in os.listdir(work) if f.endswith(".deb"))
        root = os.path.join(work, "x")
        sh("dpkg-deb", "-x", os.path.join(work, deb), root)
        kver = os.listdir(os.path.join(root, "lib", "modules"))[0]
        sh("depmod", "-b", root, kver)
        moddir = os.path.join(root, "lib", "modules", kver)
        order, path = module_order(moddir, MODULES)
        initrd = os.path.join(work, "initrd")
        os.makedirs(os.path.join(initrd, "mods"))
        for d in ("bin", "dev", "proc", "sys"):
            os.makedirs(os.path.join(initrd, d), exist_ok=True)
        for name in order:
            src = os.path.join(moddir, path[name])
            if src.endswith(".ko.xz") or src.endswith(".ko.zst"):
                tool = "xz" if src.endswith(".xz") else "zstd"
                data = subprocess.run([tool, "-dc", src], check=True,
                                      stdout=subprocess.PIPE).stdout
                with open(os.path.join(initrd, "mods", name + ".ko"), "wb") as fh:
                    fh.write(data)
            else:
                shutil.copy(src, os.path.join(initrd, "mods", name + ".ko"))
        with open(os.path.join(initrd, "mods", "order"), "w") as fh:
            fh.write("\n".join(order) + "\n")
        shutil.copy("/bin/busybox", os.path.join(initrd, "bin", "busybox"))
        shutil.copy(os.path.join(HERE, "init.sh"), os.path.join(initrd, "init"))
        os.chmod(os.path.join(initrd, "init"), 0o755)
        out = os.path.join(work, "entry")
        os.makedirs(out)
        pack_initrd(initrd, os.path.join(out, "initrd.gz"))
        shutil.copy(os.path.join(root, "boot", f"vmlinuz-{kver}"),
                    os.path.join(out, "vmlinuz"))
        with open(os.path.join(out, "version"), "w") as fh:
            fh.write(f"{pkg} {ver} {kver} modules: {' '.join(order)}\n")
        os.rename(out, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def tsc_exit_digest():
    """What the patched modules are made of: the patch and the script that builds them."""
    h = hashlib.sha256()
    for f in ("tsc-exit.patch", "build.sh"):
        with open(os.path.join(KVM_DETVM, f), "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:12]


def initrd_name(kvm):
    return "initrd.gz" if kvm == "stock" else f"initrd-tsc-exit-{tsc_exit_digest()}.gz"


def build_tsc_exit(entry):
    """entry/initrd-tsc-exit-*.gz: the entry's initramfs with detvm's kvm and kvm-amd."""
    dest = os.path.join(entry, initrd_name("tsc-exit"))
    if os.path.exists(dest):
        return
    with open(os.path.join(entry, "version")) as fh:
        kver = fh.read().split()[2]
    work = tempfile.mkdtemp(prefix="kvmhost-tsc.", dir=os.path.dirname(entry))
    try:
        log(f"building detvm's KVM modules for {kver} (once; cached in {entry})")
        mods = os.path.join(work, "mods")
        r = subprocess.run([os.path.join(KVM_DETVM, "build.sh"), "--kver", kver, "--out", mods],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode:
            die(f"cannot build detvm's KVM modules: {r.stderr.strip()}")
        tree = os.path.join(work, "tree")
        os.makedirs(tree)
        with gzip.open(os.path.join(entry, "initrd.gz"), "rb") as fh:
            subprocess.run(["cpio", "-idm", "--quiet"], cwd=tree, input=fh.read(), check=True)
        for m in ("kvm", "kvm-amd"):
            shutil.copy(os.path.join(mods, m + ".ko"),
                        os.path.join(tree, "mods", m.replace("-", "_") + ".ko"))
        pack_initrd(tree, os.path.join(work, "initrd.gz"))
        os.rename(os.path.join(work, "initrd.gz"), dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def prepare(kvm="stock"):
    """Path of a ready cache entry (vmlinuz, initrd.gz), built if needed; with
    kvm="tsc-exit", also the initramfs that loads detvm's KVM modules."""
    entry = prepare_stock()
    if kvm == "tsc-exit":
        with open(os.path.join(cache_root(), "lock"), "w") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX)
            build_tsc_exit(entry)
    return entry


def prepare_stock():
    root = cache_root()
    os.makedirs(root, exist_ok=True)
    digest = init_digest()
    with open(os.path.join(root, "lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        found = kernel_package()
        if found is None and os.geteuid() == 0:
            # a machine whose packages are all there may never have fetched the index
            subprocess.run(["apt-get", "update", "-qq"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            found = kernel_package()
        if found is None:
            # no package index to ask: any entry built from this init will do
            ready = sorted((e for e in os.listdir(root) if e.endswith("-" + digest)),
                           key=lambda e: os.path.getmtime(os.path.join(root, e)))
            if not ready:
                die("cannot ask apt which kernel linux-image-amd64 depends on "
                    "(run apt-get update, or scripts/install-deps.sh) and nothing is cached")
            return os.path.join(root, ready[-1])
        pkg, ver = found
        dest = os.path.join(root, f"{pkg}_{ver}-{digest}")
        if not os.path.isdir(dest):
            try:
                build_entry(dest, pkg, ver)
            except (subprocess.CalledProcessError, OSError, StopIteration) as e:
                err = getattr(e, "stderr", b"") or b""
                if isinstance(err, bytes):
                    err = err.decode(errors="replace")
                die(f"cannot build the KVM host from {pkg} {ver}: {e} {err.strip()}")
        return dest


def qemu_argv(entry, spool, mem, kvm="stock"):
    agent = os.path.join(HERE, "agent.sh")
    # nokaslr: the kernel's addresses are the same every boot, so the first boot's
    # /proc/kallsyms (saved in the cache) names the functions a hung VM sits in.
    # tsc=reliable: a two-vCPU VM (multi-threaded TCG) under load wedged with both vCPUs
    # in read_hpet, interrupts off (RCU stalls, soft lockups, 1 run in 3 of the VMM
    # benchmark): the HPET had become the clocksource, and every clock read was a device
    # access both vCPUs contended for. The emulated TSC is one clock for all vCPUs;
    # trusted, it stays the clocksource and the HPET is never read.
    # loglevel=5: warnings (a clocksource called unstable) reach the console.
    append = (f"console=ttyS0 loglevel=5 panic=-1 mitigations=off nokaslr tsc=reliable "
              f"detvm_agent={agent} detvm_spool={spool} "
              f"detvm_kallsyms={os.path.join(entry, 'kallsyms')}")
    model = "passthrough" if os.geteuid() == 0 else "none"
    # One vCPU, single-threaded TCG: with -smp 2 and MTTCG the VM's own kernel wedged in
    # RCU stalls and soft lockups under load; a pool of one-vCPU VMs uses the cores instead.
    smp = int(os.environ.get("DETVM_KVMHOST_SMP", "1"))
    accel = "tcg,thread=multi" if smp > 1 else "tcg"
    return ["qemu-system-x86_64", "-accel", accel, "-cpu", "max", "-smp", str(smp),
            "-m", str(mem), "-nodefaults", "-no-user-config", "-display", "none",
            "-no-reboot", "-serial", f"file:{spool}/console.log",
            "-monitor", f"unix:{spool}/monitor,server,nowait",
            "-kernel", os.path.join(entry, "vmlinuz"),
            "-initrd", os.path.join(entry, initrd_name(kvm)), "-append", append,
            "-virtfs", f"local,path=/,mount_tag=hostroot,security_model={model},"
            "id=hostroot,multidevs=remap",
            "-pidfile", f"{spool}/qemu.pid"] + shlex.split(os.environ.get("DETVM_KVMHOST_QEMU_ARGS", ""))


def qemu_alive(spool):
    try:
        with open(os.path.join(spool, "qemu.pid")) as fh:
            pid = int(fh.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            if b"qemu-system" not in fh.read():
                return None
        return pid
    except (OSError, ValueError):
        return None


def console_tail(spool, lines=80):
    try:
        with open(os.path.join(spool, "console.log"), errors="replace") as fh:
            text = fh.read().splitlines()
    except OSError:
        return "(no console log)"
    return "\n".join(text[-lines:])


def monitor(spool, command, wait=2.0):
    """What QEMU's monitor answers to command ('' if it cannot be reached)."""
    import socket
    out = b""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(wait)
            s.connect(os.path.join(spool, "monitor"))
            s.sendall(command.encode() + b"\n")
            end = time.monotonic() + wait
            while time.monotonic() < end:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                out += chunk
    except OSError:
        return ""
    return out.decode(errors="replace")


def kernel_symbol(addr):
    """function+offset of a host VM kernel address, from the cached /proc/kallsyms."""
    try:
        with open(os.path.join(spool_entry[0], "kallsyms")) as fh:
            best = None
            for line in fh:
                a, _, name = line.split()[:3]
                a = int(a, 16)
                if a <= addr and (best is None or a > best[0]):
                    best = (a, name)
        return f"{best[1]}+0x{addr - best[0]:x}" if best else "?"
    except (OSError, ValueError, IndexError):
        return "?"


spool_entry = [""]


def fail_vm(spool, why):
    log(f"{why}; the host VM's console (kernel log included), last lines:")
    print(console_tail(spool), file=sys.stderr, flush=True)
    if qemu_alive(spool):
        # where each vCPU of the VM is: a wedged kernel shows its loop here
        regs = monitor(spool, "info registers -a")
        keep = []
        for l in regs.splitlines():
            if l.startswith(("CPU#", "RIP")):
                keep.append(l)
            if l.startswith("RIP="):
                keep.append("    in " + kernel_symbol(int(l.split()[0][4:], 16)))
        if keep:
            log("the host VM's vCPUs:")
            print("\n".join(keep), file=sys.stderr, flush=True)
    kill_vm(spool)
    sys.exit(VM_FAILED)


def kill_vm(spool):
    pid = qemu_alive(spool)
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for f in ("qemu.pid", "ready"):
        try:
            os.unlink(os.path.join(spool, f))
        except OSError:
            pass


def boot_vm(spool, entry, kvm):
    kill_vm(spool)
    for f in os.listdir(spool):
        if f not in ("lock",):
            p = os.path.join(spool, f)
            if os.path.isfile(p):
                os.unlink(p)
    with open(os.path.join(spool, "idle_limit"), "w") as fh:
        fh.write(os.environ.get("DETVM_KVMHOST_IDLE", "900"))
    mem = int(os.environ.get("DETVM_KVMHOST_MEM", "3072"))
    t0 = time.monotonic()
    proc = subprocess.Popen(qemu_argv(entry, spool, mem, kvm), stdin=subprocess.DEVNULL,
                            stdout=open(os.path.join(spool, "qemu.log"), "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    while not os.path.exists(os.path.join(spool, "ready")):
        if proc.poll() is not None:
            with open(os.path.join(spool, "qemu.log")) as fh:
                qlog = fh.read().strip()
            fail_vm(spool, f"the host VM exited during boot (status {proc.returncode}"
                    + (f": {qlog}" if qlog else "") + ")")
        if time.monotonic() - t0 > 180:
            fail_vm(spool, "the host VM did not boot within 180 s")
        time.sleep(0.1)
    if os.environ.get("DETVM_KVMHOST_VERBOSE"):
        log(f"{os.path.basename(spool)} booted in {time.monotonic() - t0:.1f} s")


def job_script(argv):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PWD", "OLDPWD", "SHLVL", "_", "TMPDIR") and k.isidentifier()}
    q = lambda s: "'" + s.replace("'", "'\\''") + "'"
    lines = ["#!/bin/bash"]
    lines += [f"export {k}={q(v)}" for k, v in sorted(env.items())]
    lines.append(f"cd {q(os.getcwd())} || exit 125")
    lines.append("exec " + " ".join(q(a) for a in argv))
    return "\n".join(lines) + "\n"


class Pump:
    """Copies what a file gains to one of our streams."""

    def __init__(self, path, out):
        self.path, self.out, self.off = path, out, 0

    def pump(self):
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.off)
                data = fh.read()
        except OSError:
            return
        if data:
            self.off += len(data)
            self.out.buffer.write(data)
            self.out.flush()


def run_job(spool, argv, deadline):
    """Runs argv in the VM whose spool this is; returns its exit status."""
    hang = float(os.environ.get("DETVM_KVMHOST_HANG", "90"))
    for f in ("job.rc", "job.out", "job.err", "cancel"):
        try:
            os.unlink(os.path.join(spool, f))
        except OSError:
            pass
    with open(os.path.join(spool, "job.tmp"), "w") as fh:
        fh.write(job_script(argv))
    os.rename(os.path.join(spool, "job.tmp"), os.path.join(spool, "job.sh"))
    pumps = [Pump(os.path.join(spool, "job.out"), sys.stdout),
             Pump(os.path.join(spool, "job.err"), sys.stderr)]
    cancelled = []

    def on_signal(sig, frame):
        cancelled.append(sig)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    rc_path = os.path.join(spool, "job.rc")
    while not os.path.exists(rc_path):
        for p in pumps:
            p.pump()
        if not qemu_alive(spool):
            fail_vm(spool, "the host VM died while running the command")
        try:
            quiet = time.time() - os.path.getmtime(os.path.join(spool, "heartbeat"))
        except OSError:
            quiet = 0
        if quiet > hang:
            fail_vm(spool, f"the host VM stopped answering (no heartbeat for {quiet:.0f} s)")
        if cancelled or (deadline and time.monotonic() > deadline):
            why = "interrupted" if cancelled else "timed out"
            open(os.path.join(spool, "cancel"), "w").close()
            t = time.monotonic()
            while not os.path.exists(rc_path) and time.monotonic() - t < 10:
                time.sleep(0.1)
            for p in pumps:
                p.pump()
            if not os.path.exists(rc_path):
                fail_vm(spool, f"{why}, and the job would not stop")
            log(f"{why}: the command in the host VM was killed")
            return 124 if not cancelled else 128 + cancelled[0]
        time.sleep(0.1)
    for p in pumps:
        p.pump()
    with open(rc_path) as fh:
        return int(fh.read().strip() or VM_FAILED)


def clear_stale_job(spool):
    """A client killed mid-job (ctest's timeout) leaves its job running: stop it."""
    if not os.path.exists(os.path.join(spool, "job.running")) or not qemu_alive(spool):
        return
    open(os.path.join(spool, "cancel"), "w").close()
    t = time.monotonic()
    while os.path.exists(os.path.join(spool, "job.running")):
        if time.monotonic() - t > 15:
            kill_vm(spool)
            return
        time.sleep(0.1)


def pool_size():
    return max(1, int(os.environ.get("DETVM_KVMHOST_VMS") or os.cpu_count() or 1))


def take_vm(pool):
    """Locks a free VM slot of the pool; returns (spool, lock file)."""
    n = pool_size()
    while True:
        for i in range(n):
            spool = os.path.join(pool, f"vm{i}")
            os.makedirs(spool, exist_ok=True)
            lk = open(os.path.join(spool, "lock"), "w")
            try:
                fcntl.flock(lk, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return spool, lk
            except BlockingIOError:
                lk.close()
        time.sleep(0.2)


def pool_entry(pool, kvm):
    """prepare(kvm), asked once per pool: the answer is kept in the pool (keyed by what
    the initramfs is made of), since asking apt costs seconds under a busy suite."""
    os.makedirs(pool, exist_ok=True)
    memo = os.path.join(pool, "entry")
    key = init_digest() + (" " + tsc_exit_digest() if kvm != "stock" else "")
    try:
        with open(memo) as fh:
            got_key, entry = fh.read().split("\n", 1)[0].rsplit(" ", 1)
        if got_key == key and os.path.exists(os.path.join(entry, initrd_name(kvm))):
            return entry
    except (OSError, ValueError):
        pass
    entry = prepare(kvm)
    with open(memo + ".tmp", "w") as fh:
        fh.write(f"{key} {entry}\n")
    os.rename(memo + ".tmp", memo)
    return entry


def cmd_exec(argv, pool, timeout=None, keep=True, kvm="stock"):
    entry = pool_entry(pool, kvm)
    spool_entry[0] = entry
    spool, lk = take_vm(pool)
    clear_stale_job(spool)
    if not (qemu_alive(spool) and os.path.exists(os.path.join(spool, "ready"))):
        boot_vm(spool, entry, kvm)
    deadline = time.monotonic() + timeout if timeout else None
    rc = run_job(spool, argv, deadline)
    if not keep:
        stop_vm(spool)
    lk.close()
    return rc


def stop_vm(spool):
    if not qemu_alive(spool):
        return
    open(os.path.join(spool, "stop"), "w").close()
    t = time.monotonic()
    while qemu_alive(spool) and time.monotonic() - t < 20:
        time.sleep(0.1)
    kill_vm(spool)


def cmd_stop(pool):
    if not os.path.isdir(pool):
        return 0
    for d in sorted(os.listdir(pool)):
        spool = os.path.join(pool, d)
        if os.path.isdir(spool) and d.startswith("vm"):
            with open(os.path.join(spool, "lock"), "w") as lk:
                clear_stale_job(spool)
                fcntl.flock(lk, fcntl.LOCK_EX)
                stop_vm(spool)
    return 0


def usage(code):
    print(__doc__.strip(), file=sys.stderr if code else sys.stdout)
    sys.exit(code)


def main(args):
    if not args or args[0] in ("-h", "--help", "help"):
        usage(0 if args else 2)
    verb, rest = args[0], args[1:]
    timeout = None
    kvm = os.environ.get("DETVM_KVMHOST_KVM") or "stock"
    while rest and rest[0].startswith("-"):
        opt = rest.pop(0)
        if opt == "--":
            break
        if opt == "--timeout" and rest:
            timeout = float(rest.pop(0))
        elif opt == "--kvm" and rest:
            kvm = rest.pop(0)
        else:
            die(f"unknown option {opt} (see --help)", 2)
    if kvm not in KVM_KINDS:
        die(f"--kvm {kvm}: the kinds are {', '.join(KVM_KINDS)}", 2)
    if verb == "prepare":
        print(prepare(kvm))
        return 0
    if verb == "status":
        root = cache_root()
        print("cache:", root)
        for e in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            v = os.path.join(root, e, "version")
            if os.path.exists(v):
                print(" ", e, "-", open(v).read().strip())
        pool = os.environ.get("DETVM_KVMHOST_POOL")
        if pool and os.path.isdir(pool):
            for d in sorted(os.listdir(pool)):
                print(f"pool {pool}/{d}:", "running" if qemu_alive(os.path.join(pool, d))
                      else "stopped")
        return 0
    if verb in ("exec", "stop"):
        pool = os.environ.get("DETVM_KVMHOST_POOL")
        if not pool:
            die("DETVM_KVMHOST_POOL names no pool directory", 2)
        if verb == "stop":
            for kind in KVM_KINDS[1:]:
                cmd_stop(f"{pool}-{kind}")
            return cmd_stop(pool)
    if verb in ("exec", "run"):
        if not rest:
            die(f"{verb}: no command given", 2)
        if shutil.which("qemu-system-x86_64") is None:
            die("qemu-system-x86_64 is missing (Debian package qemu-system-x86; "
                "scripts/install-deps.sh installs it)", 2)
        if verb == "exec":
            return cmd_exec(rest, pool if kvm == "stock" else f"{pool}-{kvm}", timeout, kvm=kvm)
        pool = tempfile.mkdtemp(prefix="kvmhost-run.")
        try:
            return cmd_exec(rest, pool, timeout, keep=False, kvm=kvm)
        finally:
            shutil.rmtree(pool, ignore_errors=True)
    usage(2)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
