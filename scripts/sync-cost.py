#!/usr/bin/env python3
"""What one small durable write costs on this disk, by where it lands.

Writes N records of SIZE bytes one after the other into a file in DIR (default: the
current directory, so run it on the disk the data lives on), each followed by
sync_file_range (as sled's flush does) and fdatasync (as the store does after it), and
prints the p50 and p99 per write for three files:

  append  the file grows with every write (as sled's data file does)
  zeros   the blocks were written with zeros first (as PostgreSQL's WAL segments are)
  falloc  the blocks were allocated with fallocate first, never written

Usage: scripts/sync-cost.py [DIR] [--size 600] [--count 3000] [--rounds 2]
See docs/performance.md, "Syncing a file that grows".
"""
import argparse
import ctypes
import os
import time

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
SYNC_FILE_RANGE_ALL = 1 | 2 | 4  # WAIT_BEFORE | WRITE | WAIT_AFTER


def run(directory, kind, size, count):
    path = os.path.join(directory, f".sync-cost-{kind}-{os.getpid()}")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
    try:
        total = size * count + 8192
        if kind == "zeros":
            os.write(fd, b"\0" * total)
            os.fsync(fd)
        elif kind == "falloc":
            if libc.fallocate(fd, 0, 0, total) != 0:
                return f"{kind:7} fallocate failed (errno {ctypes.get_errno()})"
            os.fsync(fd)
        record = b"x" * size
        times = []
        offset = 0
        for _ in range(count):
            start = time.perf_counter()
            os.pwrite(fd, record, offset)
            libc.sync_file_range(fd, offset, size, SYNC_FILE_RANGE_ALL)
            os.fdatasync(fd)
            times.append(time.perf_counter() - start)
            offset += size
        times.sort()
        p50 = times[count // 2] * 1e3
        p99 = times[int(count * 0.99)] * 1e3
        return f"{kind:7} {size:6} B  p50 {p50:.3f} ms  p99 {p99:.3f} ms"
    finally:
        os.close(fd)
        os.unlink(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", default=".")
    parser.add_argument("--size", type=int, default=600)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for _ in range(args.rounds):
        for kind in ("append", "zeros", "falloc"):
            print(run(args.dir, kind, args.size, args.count), flush=True)


if __name__ == "__main__":
    main()
