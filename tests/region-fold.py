#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Read a region through its node the way an unmodified program would.

usage: region-fold.py PATH LEN [WANT_SIZE]

Maps the first LEN bytes of PATH (e.g. /dev/xmem.d/NAME) shared, prints
the XOR of its little-endian 64-bit words in decimal, then the file's size
(lseek SEEK_END).  With WANT_SIZE it first waits up to 30 s for the size
to become WANT_SIZE (a resize by another client is followed
asynchronously) and exits 1 if it does not.
"""
import mmap
import os
import sys
import time


def main():
    path, length = sys.argv[1], int(sys.argv[2])
    want = int(sys.argv[3]) if len(sys.argv) > 3 else None
    with open(path, 'r+b') as f:
        m = mmap.mmap(f.fileno(), length)
        fold = 0
        for i in range(0, length, 8):
            fold ^= int.from_bytes(m[i:i + 8], 'little')
        m.close()
        print(fold)
        size = os.lseek(f.fileno(), 0, os.SEEK_END)
        deadline = time.monotonic() + 30
        while want is not None and size != want:
            if time.monotonic() > deadline:
                print(size)
                return 1
            time.sleep(0.1)
            size = os.lseek(f.fileno(), 0, os.SEEK_END)
        print(size)
    return 0


if __name__ == '__main__':
    sys.exit(main())
