"""qemu_vm.py - boots copies of the appliance image under qemu (TCG) for the
image tests: a seed file on the EFI partition, ports forwarded to 127.0.0.1
only, the serial console captured to a file, bounded waits, and clean-up of
the processes and files it created (by pid)."""
import os
import shutil
import signal
import socket
import subprocess
import time

OVMF = "/usr/share/ovmf/OVMF.fd"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VM:
    """One boot of a copy of the image. Use as a context manager."""

    def __init__(self, image, workdir, name, seed, firmware="bios", forwards=(22, 5269, 8443),
                 memory=1024, extra_netdev=None):
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.disk = os.path.join(self.dir, "disk.raw")
        self.serial = os.path.join(self.dir, "serial.log")
        self.ports = {p: free_port() for p in forwards}
        subprocess.run(["cp", "--sparse=always", image, self.disk], check=True)
        seed_path = os.path.join(self.dir, "xfed-seed.conf")
        with open(seed_path, "w") as f:
            f.write(seed)
        # The image's EFI system partition starts at 1 MiB (image/build-image.sh).
        subprocess.run(["mcopy", "-o", "-i", self.disk + "@@1M", seed_path, "::/xfed-seed.conf"],
                       check=True, env=dict(os.environ, MTOOLS_SKIP_CHECK="1"))
        fwd = ",".join(f"hostfwd=tcp:127.0.0.1:{h}-:{g}" for g, h in self.ports.items())
        cmd = ["qemu-system-x86_64", "-machine", "q35", "-m", str(memory), "-smp", "2",
               "-nographic", "-monitor", "none", "-serial", f"file:{self.serial}",
               "-drive", f"file={self.disk},format=raw,if=virtio",
               "-netdev", f"user,id=n0,{fwd}", "-device", "virtio-net-pci,netdev=n0"]
        if extra_netdev:  # (netdev spec, MAC address)
            cmd += ["-netdev", extra_netdev[0],
                    "-device", f"virtio-net-pci,netdev=n1,mac={extra_netdev[1]}"]
        if firmware == "uefi":
            cmd += ["-bios", OVMF]
        self.cmd = cmd
        self.proc = None
        self.started = None

    def __enter__(self):
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "qemu.err"), "w"),
                                     start_new_session=True)
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def elapsed(self):
        return time.monotonic() - self.started

    def console(self):
        try:
            with open(self.serial, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_console(self, text, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.console():
                return True
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: qemu exited {self.proc.returncode}")
            time.sleep(0.5)
        return False

    def ssh(self, key, command, timeout=60, check=True):
        r = subprocess.run(["ssh", "-q", "-i", key, "-p", str(self.ports[22]),
                            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                            "-o", "ConnectTimeout=10", "-o", "BatchMode=yes",
                            "root@127.0.0.1", command],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"{self.name}: ssh {command!r}: {r.returncode} {r.stderr}")
        return r.stdout

    def wait_ssh(self, key, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.ssh(key, "true", timeout=20)
                return True
            except (RuntimeError, subprocess.TimeoutExpired):
                time.sleep(2)
        return False

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)
