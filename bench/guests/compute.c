/*
 * Compute workload for the processor benchmark: integer mixing, 64-bit multiply/divide, sorting, string loops,
 * calls through function pointers and a switch-table interpreter. The same source is built twice: as a hosted
 * native program (HOSTED defined) and as a freestanding guest that prints over COM1 and powers off through the
 * debug-exit port. Both print the same checksum, so the benchmark also checks that the guest computed right.
 */
typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;
typedef unsigned char u8;

#define N_SORT 4096
#define ROUNDS 50

static u64 rng_state = 0x9e3779b97f4a7c15ul;
static u64 xorshift(void) {
  u64 x = rng_state;
  x ^= x << 13; x ^= x >> 7; x ^= x << 17;
  return rng_state = x;
}

static u64 mix64(u64 z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ul;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebul;
  return z ^ (z >> 31);
}

static u64 arr[N_SORT];
static u8 text[8192];
static u8 copy[8192];

static void quicksort(u64 *a, i64 lo, i64 hi) {
  while (lo < hi) {
    u64 p = a[(lo + hi) / 2];
    i64 i = lo, j = hi;
    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) { u64 t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (j - lo < hi - i) { quicksort(a, lo, j); lo = i; } else { quicksort(a, i, hi); hi = j; }
  }
}

static u64 my_strlen(const u8 *s) { u64 n = 0; while (s[n]) n++; return n; }
static void my_memcpy(u8 *d, const u8 *s, u64 n) { for (u64 i = 0; i < n; i++) d[i] = s[i]; }
static int my_memcmp(const u8 *a, const u8 *b, u64 n) {
  for (u64 i = 0; i < n; i++) if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

static u64 op_add(u64 a, u64 b) { return a + b; }
static u64 op_xor(u64 a, u64 b) { return a ^ (b << 1); }
static u64 op_mul(u64 a, u64 b) { return a * (b | 1); }
static u64 op_rot(u64 a, u64 b) { u32 r = b & 63; return r ? (a << r) | (a >> (64 - r)) : a; }
static u64 (*const ops[4])(u64, u64) = { op_add, op_xor, op_mul, op_rot };

/* A tiny stack machine interpreted with a switch: the compiler emits a jump table. */
static u64 interpret(const u8 *code, u64 n, u64 seed) {
  u64 st[16]; int sp = 0; u64 acc = seed;
  for (u64 pc = 0; pc < n; pc++) {
    switch (code[pc] & 15) {
      case 0: st[sp++ & 15] = acc; break;
      case 1: acc = st[--sp & 15] + acc; break;
      case 2: acc ^= acc >> 11; break;
      case 3: acc *= 2862933555777941757ul; break;
      case 4: acc += 3037000493ul; break;
      case 5: acc = acc / ((code[pc] >> 4) + 1); break;
      case 6: acc = acc % 1000003; break;
      case 7: acc = ~acc; break;
      case 8: acc <<= 3; break;
      case 9: acc >>= 2; break;
      case 10: acc -= st[sp & 15]; break;
      case 11: acc |= 1; break;
      case 12: acc = (i64)acc / -7; break;
      case 13: acc &= 0xffffffffffful; break;
      case 14: acc += pc; break;
      default: acc ^= 0x5555; break;
    }
  }
  return acc;
}

u64 workload(void) {
  u64 sum = 0;
  for (int round = 0; round < ROUNDS; round++) {
    /* integer mixing */
    for (u64 i = 0; i < 100000; i++) sum += mix64(i + sum);
    /* 64-bit divide */
    for (u64 i = 1; i < 30000; i++) { u64 x = xorshift(); sum += x / (i | 1) + x % (i + 7); }
    /* sorting */
    for (int i = 0; i < N_SORT; i++) arr[i] = xorshift();
    quicksort(arr, 0, N_SORT - 1);
    for (int i = 1; i < N_SORT; i++) if (arr[i - 1] > arr[i]) return 0xbad;
    sum += arr[N_SORT / 2];
    /* string loops */
    for (int i = 0; i < 8191; i++) text[i] = (u8)('a' + (xorshift() % 26));
    text[8191] = 0;
    for (int k = 0; k < 8; k++) {
      u64 len = my_strlen(text);
      my_memcpy(copy, text, len + 1);
      sum += len + (u64)my_memcmp(copy, text, len);
      copy[k * 97] ^= 1;
      sum += (u64)(my_memcmp(copy, text, len) + 2);
    }
    /* calls through pointers */
    u64 a = sum;
    for (u64 i = 0; i < 100000; i++) a = ops[(a >> 7) & 3](a, i);
    sum ^= a;
    /* switch table */
    sum += interpret(text, 8191, sum);
  }
  return sum;
}

#ifdef HOSTED
#include <stdio.h>
#include <time.h>
int main(void) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  u64 r = workload();
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("checksum %016lx\n", r);
  fprintf(stderr, "nanoseconds %ld\n", (long)(t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec));
  return 0;
}
#else
static inline void outb(unsigned short port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(unsigned short port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static void putc_serial(char c) { while (!(inb(0x3fd) & 0x20)) { } outb(0x3f8, (u8)c); }
static void puts_serial(const char *s) { while (*s) putc_serial(*s++); }
static void puthex(u64 v) { for (int i = 60; i >= 0; i -= 4) putc_serial("0123456789abcdef"[(v >> i) & 15]); }
void _start(void) {
  u64 r = workload();
  puts_serial("checksum "); puthex(r); putc_serial('\n');
  outb(0xf4, 0);
  for (;;) __asm__ volatile("hlt");
}
#endif
