/*
 * A statically linked program run both natively and inside the Linux guest; the integration test requires the
 * two outputs to be identical. It exercises what glibc and the kernel ask of the processor: 64-bit integer
 * arithmetic, double and long double (x87) math and formatting, SSE2 string functions, fork/pipe/wait, signals,
 * mmap/mprotect, and threads.
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void integers(void) {
  uint64_t acc = 1;
  int64_t s = -7;
  for (int i = 1; i < 2000; i++) {
    acc = mix(acc + (uint64_t)i);
    s = s * 31 + (int64_t)(acc % 1000003) - (int64_t)(acc / 0x123456789ull);
    s ^= (int64_t)__builtin_popcountll(acc) << (i % 40);
  }
  unsigned __int128 wide = (unsigned __int128)acc * (uint64_t)s;
  printf("int: %016llx %lld %016llx%016llx %d\n", (unsigned long long)acc, (long long)s,
         (unsigned long long)(wide >> 64), (unsigned long long)wide, __builtin_clzll(acc | 1));
}

static void floats(void) {
  double d = 0;
  for (int i = 1; i <= 1000; i++) d += sin(i * 0.001) * exp(-i * 0.002) / sqrt((double)i);
  long double l = 1.0L / 3.0L;
  long double e = expl(1.0L), p = powl(2.0L, 0.5L);
  printf("double: %.17g %.6e %a\n", d, log(d * 1e6), atan2(d, 0.25));
  printf("long double: %.21Lg %.21Lg %.21Lg %La\n", l, e, p, l * 3.0L - 1.0L);
  printf("strtod: %.17g %.21Lg\n", strtod("3.14159265358979323846", NULL), strtold("2.71828182845904523536028747135", NULL));
}

static void strings(void) {
  char a[300], b[300];
  for (int i = 0; i < 299; i++) a[i] = (char)('a' + (i * 7) % 26);
  a[299] = 0;
  memcpy(b, a, sizeof a);
  b[150] = 'Z';
  char *hit = strchr(a, 'q');
  printf("str: %zu %d %d %td %s\n", strlen(a), memcmp(a, b, 300) < 0, strcmp(a, b) > 0,
         hit ? hit - a : -1, strstr(a, "hov") ? "found" : "none");
}

static void processes(void) {
  int fd[2];
  if (pipe(fd) != 0) { perror("pipe"); exit(1); }
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    const char msg[] = "child says hello";
    if (write(fd[1], msg, sizeof msg) != (ssize_t)sizeof msg) _exit(3);
    _exit(42);
  }
  close(fd[1]);
  char buf[64] = {0};
  ssize_t n = read(fd[0], buf, sizeof buf);
  int status = 0;
  waitpid(pid, &status, 0);
  printf("fork: %zd '%s' exit=%d\n", n, buf, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static volatile sig_atomic_t got;
static void on_signal(int sig) { got = sig; }

static void signals(void) {
  signal(SIGUSR1, on_signal);
  raise(SIGUSR1);
  printf("signal: %d\n", (int)got);
}

static void memory(void) {
  size_t len = 1 << 20;
  unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) { perror("mmap"); exit(1); }
  uint64_t sum = 0;
  for (size_t i = 0; i < len; i += 4096) m[i] = (unsigned char)(i >> 12);
  for (size_t i = 0; i < len; i += 4096) sum += m[i];
  int rc = mprotect(m, len, PROT_READ);
  munmap(m, len);
  printf("mmap: %llu %d\n", (unsigned long long)sum, rc);
}

#define THREADS 4
static uint64_t partial[THREADS];
static void *worker(void *arg) {
  long k = (long)arg;
  uint64_t acc = 0;
  for (uint64_t i = 0; i < 100000; i++) acc += mix(i * THREADS + (uint64_t)k);
  partial[k] = acc;
  return NULL;
}

static void threads(void) {
  pthread_t t[THREADS];
  for (long k = 0; k < THREADS; k++) pthread_create(&t[k], NULL, worker, (void *)k);
  uint64_t total = 0;
  for (long k = 0; k < THREADS; k++) { pthread_join(t[k], NULL); total += partial[k]; }
  printf("threads: %016llx\n", (unsigned long long)total);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  integers();
  floats();
  strings();
  processes();
  signals();
  memory();
  threads();
  printf("userland-check: done\n");
  return 0;
}
