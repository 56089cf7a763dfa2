#!/usr/bin/env python3
"""Minimal QMP driver (python3 stdlib only) used as the baseline for bench/exporter/run.sh.

usage:
  bare_backup.py full  SOCKET TARGET     blockdev-backup sync=full of node d-fmt into TARGET (qcow2,
                                         created here with the source's virtual size); prints seconds
  bare_backup.py write SOCKET MIB        HMP qemu-io writes of 4 MiB (pattern 0x5a) at offsets spread
                                         over the disk until MIB are written; prints seconds
The 'full' timing covers blockdev-add .. blockdev-del (qemu-img create excluded, it is timed apart).
"""
import json, os, socket, subprocess, sys, time

NODE = "d-fmt"
QOM = "/machine/peripheral/virtio0/virtio-backend"


class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.f = self.s.makefile("rwb", buffering=0)
        self.events = []
        self.n = 0
        greeting = self._read()
        if "QMP" not in greeting:
            raise SystemExit("no QMP greeting: %r" % greeting)
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.f.readline()
        if not line:
            raise SystemExit("QMP socket closed")
        return json.loads(line)

    def cmd(self, name, **args):
        self.n += 1
        rid = "b%d" % self.n
        msg = {"execute": name, "id": rid}
        if args:
            msg["arguments"] = args
        self.f.write((json.dumps(msg) + "\n").encode())
        while True:
            m = self._read()
            if "event" in m:
                self.events.append(m)
                continue
            if m.get("id") != rid:
                continue
            if "error" in m:
                raise SystemExit("%s failed: %s" % (name, m["error"].get("desc")))
            return m.get("return")

    def wait_event(self, pred, timeout=3600):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if pred(e):
                    return self.events.pop(i)
            if time.monotonic() > deadline:
                raise SystemExit("timeout waiting for event")
            m = self._read()
            if "event" in m:
                self.events.append(m)


def virtual_size(q):
    for n in q.cmd("query-named-block-nodes", **{"flat": True}):
        if n.get("node-name") == NODE:
            return n["image"]["virtual-size"]
    raise SystemExit("node %s not found" % NODE)


def full(q, target):
    size = virtual_size(q)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", target, str(size)], check=True)
    t0 = time.monotonic()
    q.cmd("blockdev-add", **{"driver": "qcow2", "node-name": "bare-tgt",
                             "file": {"driver": "file", "filename": target}})
    q.cmd("blockdev-backup", **{"device": NODE, "target": "bare-tgt", "sync": "full",
                                "job-id": "bare", "auto-dismiss": False})
    q.wait_event(lambda e: e["event"] == "JOB_STATUS_CHANGE"
                 and e["data"].get("id") == "bare" and e["data"].get("status") == "concluded")
    err = None
    for j in q.cmd("query-jobs"):
        if j.get("id") == "bare":
            err = j.get("error")
    for e in q.events:  # BLOCK_JOB_COMPLETED with data.error is a failure too
        if e["event"] == "BLOCK_JOB_COMPLETED" and e["data"].get("device") == "bare" and e["data"].get("error"):
            err = err or e["data"]["error"]
    q.cmd("job-dismiss", id="bare")
    q.cmd("blockdev-del", **{"node-name": "bare-tgt"})
    secs = time.monotonic() - t0
    if err:
        raise SystemExit("bare backup failed: %s" % err)
    print("%.3f" % secs)


def write(q, mib):
    size = virtual_size(q)
    chunk = 4 << 20
    count = max(1, int(mib) // 4)
    stride = (size // count) // chunk * chunk
    if stride < chunk:
        raise SystemExit("disk too small for %s MiB of spread writes" % mib)
    t0 = time.monotonic()
    for i in range(count):
        off = i * stride
        out = q.cmd("human-monitor-command",
                    **{"command-line": 'qemu-io -d %s "write -P 0x5a %d 4M"' % (QOM, off)})
        if out and ("error" in out.lower() or "failed" in out.lower()):
            raise SystemExit("qemu-io: %s" % out.strip())
    print("%.3f" % (time.monotonic() - t0))


def main(argv):
    if len(argv) != 4 or argv[1] not in ("full", "write"):
        raise SystemExit(__doc__)
    q = Qmp(argv[2])
    if argv[1] == "full":
        full(q, argv[3])
    else:
        write(q, argv[3])


if __name__ == "__main__":
    main(sys.argv)
