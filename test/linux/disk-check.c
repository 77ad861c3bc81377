/*
 * Run inside the Linux guest against storvsc disks (statically linked, built by the system cc).
 *   disk-check write DEV SEED OFFSET BYTES    write a pattern with O_DIRECT, fsync, print "wrote"
 *   disk-check verify DEV SEED OFFSET BYTES   read it back with O_DIRECT and compare, print "verify ok"
 *   disk-check discard DEV OFFSET BYTES        BLKDISCARD the range (reaches storvsp as UNMAP)
 *   disk-check bench DEV MIB                   sequential and 4 KiB random throughput with O_DIRECT (by the
 *                                              guest's clock; "phase" lines let the host time it by its own)
 *   disk-check sgwrite DEV LBA                 one WRITE(10) through SG_IO (past the block layer's read-only
 *                                              flag), printing the SCSI status and sense key/ASC/ASCQ
 * The pattern of word i (4 bytes, little-endian) at byte offset o is pattern32(seed, o / 4); the host test computes
 * the same function. Every line starts with "disk-check:", failures with "disk-check: FAIL".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <scsi/sg.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 20)

static uint32_t pattern32(uint32_t seed, uint64_t word) {
  uint32_t x = (uint32_t)word * 2654435761u + seed;
  x ^= (uint32_t)(word >> 32);
  x ^= x >> 15;
  x *= 0x2c1b3c6du;
  x ^= x >> 12;
  x *= 0x297a2d39u;
  x ^= x >> 15;
  return x;
}

static void fill(uint8_t *b, size_t n, uint32_t seed, uint64_t offset) {
  for (size_t i = 0; i < n; i += 4) {
    uint32_t v = pattern32(seed, (offset + i) / 4);
    b[i] = v; b[i + 1] = v >> 8; b[i + 2] = v >> 16; b[i + 3] = v >> 24;
  }
}

static void fail(const char *what) {
  printf("disk-check: FAIL %s: %s (errno %d)\n", what, strerror(errno), errno);
  exit(1);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static uint8_t *aligned(size_t n) {
  void *p;
  if (posix_memalign(&p, 4096, n) != 0) fail("posix_memalign");
  return p;
}

static int do_write(const char *dev, uint32_t seed, uint64_t off, uint64_t len) {
  int fd = open(dev, O_WRONLY | O_DIRECT);
  if (fd < 0) fail("open for writing");
  uint8_t *b = aligned(CHUNK);
  for (uint64_t done = 0; done < len;) {
    size_t n = len - done < CHUNK ? len - done : CHUNK;
    fill(b, n, seed, off + done);
    ssize_t w = pwrite(fd, b, n, off + done);
    if (w != (ssize_t)n) fail("pwrite");
    done += n;
  }
  if (fsync(fd) != 0) fail("fsync");
  close(fd);
  printf("disk-check: wrote %llu bytes at %llu with fsync\n", (unsigned long long)len, (unsigned long long)off);
  return 0;
}

static int do_verify(const char *dev, uint32_t seed, uint64_t off, uint64_t len) {
  int fd = open(dev, O_RDONLY | O_DIRECT);
  if (fd < 0) fail("open for reading");
  uint8_t *b = aligned(CHUNK), *want = aligned(CHUNK);
  for (uint64_t done = 0; done < len;) {
    size_t n = len - done < CHUNK ? len - done : CHUNK;
    ssize_t r = pread(fd, b, n, off + done);
    if (r != (ssize_t)n) fail("pread");
    fill(want, n, seed, off + done);
    for (size_t i = 0; i < n; i++) {
      if (b[i] != want[i]) {
        printf("disk-check: FAIL mismatch at byte %llu: 0x%02x, expected 0x%02x\n", (unsigned long long)(off + done + i), b[i], want[i]);
        return 1;
      }
    }
    done += n;
  }
  close(fd);
  printf("disk-check: verify ok, %llu bytes at %llu\n", (unsigned long long)len, (unsigned long long)off);
  return 0;
}

static int do_discard(const char *dev, uint64_t off, uint64_t len) {
  int fd = open(dev, O_WRONLY);
  if (fd < 0) fail("open for discard");
  uint64_t range[2] = { off, len };
  if (ioctl(fd, BLKDISCARD, range) != 0) fail("BLKDISCARD");
  close(fd);
  printf("disk-check: discarded %llu bytes at %llu\n", (unsigned long long)len, (unsigned long long)off);
  return 0;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static int do_bench(const char *dev, uint64_t mib) {
  int fd = open(dev, O_RDWR | O_DIRECT);
  if (fd < 0) fail("open for bench");
  uint64_t bytes = mib << 20;
  uint8_t *b = aligned(CHUNK);
  fill(b, CHUNK, 1, 0);
  /* Phase lines let the host time each phase by its own clock: the guest's clock runs slow while it is busy. */
  printf("disk-check: phase seq-write\n");
  double t = now();
  for (uint64_t o = 0; o < bytes; o += CHUNK) if (pwrite(fd, b, CHUNK, o) != CHUNK) fail("seq write");
  if (fsync(fd) != 0) fail("fsync");
  double sw = now() - t;
  printf("disk-check: phase seq-read\n");
  t = now();
  for (uint64_t o = 0; o < bytes; o += CHUNK) if (pread(fd, b, CHUNK, o) != CHUNK) fail("seq read");
  double sr = now() - t;
  uint64_t blocks = bytes / 4096, ops = blocks < 2048 ? blocks : 2048;
  printf("disk-check: phase rand-write\n");
  t = now();
  for (uint64_t i = 0; i < ops; i++) if (pwrite(fd, b, 4096, (next() % blocks) * 4096) != 4096) fail("random write");
  if (fsync(fd) != 0) fail("fsync");
  double rw = now() - t;
  printf("disk-check: phase rand-read\n");
  t = now();
  for (uint64_t i = 0; i < ops; i++) if (pread(fd, b, 4096, (next() % blocks) * 4096) != 4096) fail("random read");
  double rr = now() - t;
  printf("disk-check: phase end\n");
  close(fd);
  printf("disk-check: bench seq-write %.1f MiB/s seq-read %.1f MiB/s rand-write-4k %.0f IOPS rand-read-4k %.0f IOPS (%llu MiB, 1 MiB requests; %llu random ops)\n",
         mib / sw, mib / sr, ops / rw, ops / rr, (unsigned long long)mib, (unsigned long long)ops);
  return 0;
}

static int do_sgwrite(const char *dev, uint32_t lba) {
  int fd = open(dev, O_RDONLY);
  if (fd < 0) fail("open for SG_IO");
  uint8_t cdb[10] = { 0x2a, 0, lba >> 24, lba >> 16, lba >> 8, lba, 0, 0, 1, 0 };
  uint8_t sense[32] = { 0 };
  uint8_t *b = aligned(4096);
  memset(b, 0x5a, 4096);
  struct sg_io_hdr h;
  memset(&h, 0, sizeof h);
  h.interface_id = 'S';
  h.dxfer_direction = SG_DXFER_TO_DEV;
  h.cmd_len = sizeof cdb;
  h.cmdp = cdb;
  h.dxfer_len = 512;
  h.dxferp = b;
  h.mx_sb_len = sizeof sense;
  h.sbp = sense;
  h.timeout = 30000;
  if (ioctl(fd, SG_IO, &h) != 0) fail("SG_IO");
  close(fd);
  printf("disk-check: sg write status 0x%02x host 0x%x sense %x/%02x/%02x\n", h.status, h.host_status,
         h.sb_len_wr > 13 ? sense[2] & 0xf : 0xff, h.sb_len_wr > 13 ? sense[12] : 0xff, h.sb_len_wr > 13 ? sense[13] : 0xff);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc == 6 && strcmp(argv[1], "write") == 0) return do_write(argv[2], strtoul(argv[3], 0, 0), strtoull(argv[4], 0, 0), strtoull(argv[5], 0, 0));
  if (argc == 6 && strcmp(argv[1], "verify") == 0) return do_verify(argv[2], strtoul(argv[3], 0, 0), strtoull(argv[4], 0, 0), strtoull(argv[5], 0, 0));
  if (argc == 5 && strcmp(argv[1], "discard") == 0) return do_discard(argv[2], strtoull(argv[3], 0, 0), strtoull(argv[4], 0, 0));
  if (argc == 4 && strcmp(argv[1], "bench") == 0) return do_bench(argv[2], strtoull(argv[3], 0, 0));
  if (argc == 4 && strcmp(argv[1], "sgwrite") == 0) return do_sgwrite(argv[2], strtoul(argv[3], 0, 0));
  printf("disk-check: FAIL usage\n");
  return 2;
}
