/*
 * Differential-test runner: executes instruction snippets on the host processor and reports the final state.
 * Built and driven by test/support/diff/diff.ts (see the protocol there); not part of the product.
 *
 * Memory layout, identical to the BareMachine the interpreter runs on (identity-mapped RAM):
 *   CODE_BASE (0x100000): the snippets, each at the offset the driver chose, followed here by an absolute jump
 *                         back to hv_exit (the interpreter gets a HLT there instead).
 *   DATA_BASE (0x200000): the data buffer; the first `window` bytes are loaded before and dumped after each case.
 * Both are mapped with MAP_FIXED_NOREPLACE so absolute and register-based addresses mean the same in both worlds.
 *
 * Compatibility mode (magic 'HVC1' instead of 'HVD1', same protocol otherwise): each snippet runs in the 32-bit
 * user code segment Linux gives every process (selector 0x23, L=0 D=1) with DS = ES = the user data segment
 * 0x2b. The entry far-jumps there through an m16:32 pointer; the snippet is followed by a direct far JMP
 * (ptr16:32) back to the 64-bit CS, to a trampoline in the code area that jumps to hv_exit. Faults are caught
 * the same way (the kernel delivers 64-bit signals to this 64-bit process whatever code segment faulted; the
 * saved RIP is the 32-bit EIP). The first data page is also mapped at LOW_ALIAS (0xc000), where 16-bit addresses
 * reach.
 *
 * Protocol (all little-endian):
 *   in:  u32 magic 'HVD1', u32 window, u32 nSnippets, { u32 offset, u32 len, u8 bytes[len] } * nSnippets,
 *        u32 nCases, { u32 snippet, u32 pad, u64 gpr[16], u64 rflags, u8 data[window] } * nCases
 *   out: per case { i32 vector (-1: none), i32 error code, u64 rip offset from CODE_BASE (fault only),
 *        u64 gpr[16], u64 rflags, u32 nRuns, { u32 offset, u32 len, u8 bytes[len], zero padding to 4 } * nRuns }
 *        where the runs are the bytes of the data window that differ from the case's input (most cases change a
 *        few bytes of a window of several KiB, so this keeps the pipe traffic small).
 * GPR order is the architectural one (rax rcx rdx rbx rsp rbp rsi rdi r8..r15). A fault (SIGFPE, SIGSEGV, SIGILL,
 * SIGBUS, SIGTRAP) is caught on an alternate stack; the vector is the hardware trap number the kernel saved, and
 * the registers are those of the interrupted context (so precise-fault state can be compared too).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define CODE_BASE 0x100000UL
#define CODE_SIZE 0x100000UL
#define DATA_BASE 0x200000UL
#define DATA_SIZE 0x10000UL
#define MAGIC 0x31445648u        /* 'HVD1' */
#define MAGIC_COMPAT 0x31435648u /* 'HVC1' */
#define USER32_CS 0x23           /* Linux's 32-bit user code segment (GDT_ENTRY_DEFAULT_USER32_CS) */
#define LOW_ALIAS 0xc000UL       /* compatibility mode: the first data page again, for 16-bit addressing */

struct ctx {
  uint64_t gpr[16];
  uint64_t rflags;
};

/* Used by the assembly below (RIP-relative). */
struct ctx hv_in, hv_out;
uint64_t hv_host_rsp;
uint64_t hv_entry;
/* m16:32 far pointer for hv_enter32 (offset, selector). */
struct __attribute__((packed)) {
  uint32_t off;
  uint16_t sel;
} hv_far;

void hv_enter(void);
void hv_enter32(void);
void hv_exit(void);

/*
 * hv_enter: save the callee-saved registers and the host stack pointer, load RFLAGS then all 16 GPRs (RSP too,
 * RDI last is not needed: every load is RIP-relative) and jump to the snippet. The snippet ends with a jump to
 * hv_exit, which stores all 16 GPRs before touching anything, switches back to the host stack, and only then
 * reads RFLAGS (PUSHF on the guest's stack would write into the data buffer).
 */
#define HV_LOAD_STATE                                          \
  "  mov %rsp, hv_host_rsp(%rip)\n"                             \
  "  pushq hv_in+128(%rip)\n"                                   \
  "  popfq\n"                                                   \
  "  mov hv_in+0(%rip), %rax\n"                                 \
  "  mov hv_in+8(%rip), %rcx\n"                                 \
  "  mov hv_in+16(%rip), %rdx\n"                                \
  "  mov hv_in+24(%rip), %rbx\n"                                \
  "  mov hv_in+40(%rip), %rbp\n"                                \
  "  mov hv_in+48(%rip), %rsi\n"                                \
  "  mov hv_in+56(%rip), %rdi\n"                                \
  "  mov hv_in+64(%rip), %r8\n"                                 \
  "  mov hv_in+72(%rip), %r9\n"                                 \
  "  mov hv_in+80(%rip), %r10\n"                                \
  "  mov hv_in+88(%rip), %r11\n"                                \
  "  mov hv_in+96(%rip), %r12\n"                                \
  "  mov hv_in+104(%rip), %r13\n"                               \
  "  mov hv_in+112(%rip), %r14\n"                               \
  "  mov hv_in+120(%rip), %r15\n"                               \
  "  mov hv_in+32(%rip), %rsp\n"
__asm__(
    ".text\n"
    ".globl hv_enter\n"
    "hv_enter:\n"
    "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
    HV_LOAD_STATE
    "  jmp *hv_entry(%rip)\n"
    /* Compatibility mode: DS/ES must hold a usable selector there (64-bit processes run with null ones). */
    ".globl hv_enter32\n"
    "hv_enter32:\n"
    "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
    "  mov %ss, %eax\n  mov %eax, %ds\n  mov %eax, %es\n"
    HV_LOAD_STATE
    "  ljmp *hv_far(%rip)\n"
    ".globl hv_exit\n"
    "hv_exit:\n"
    "  mov %rax, hv_out+0(%rip)\n"
    "  mov %rcx, hv_out+8(%rip)\n"
    "  mov %rdx, hv_out+16(%rip)\n"
    "  mov %rbx, hv_out+24(%rip)\n"
    "  mov %rsp, hv_out+32(%rip)\n"
    "  mov %rbp, hv_out+40(%rip)\n"
    "  mov %rsi, hv_out+48(%rip)\n"
    "  mov %rdi, hv_out+56(%rip)\n"
    "  mov %r8, hv_out+64(%rip)\n"
    "  mov %r9, hv_out+72(%rip)\n"
    "  mov %r10, hv_out+80(%rip)\n"
    "  mov %r11, hv_out+88(%rip)\n"
    "  mov %r12, hv_out+96(%rip)\n"
    "  mov %r13, hv_out+104(%rip)\n"
    "  mov %r14, hv_out+112(%rip)\n"
    "  mov %r15, hv_out+120(%rip)\n"
    "  mov hv_host_rsp(%rip), %rsp\n"
    "  pushfq\n"
    "  popq hv_out+128(%rip)\n"
    "  cld\n"
    "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbp\n  pop %rbx\n"
    "  ret\n");

static sigjmp_buf jb;
static volatile int fault_vector;
static volatile int fault_error;
static volatile uint64_t fault_rip;

static const int greg_index[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                   REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

static void on_fault(int sig, siginfo_t *si, void *uc_) {
  (void)si;
  ucontext_t *uc = (ucontext_t *)uc_;
  greg_t *g = uc->uc_mcontext.gregs;
  for (int k = 0; k < 16; k++) hv_out.gpr[k] = (uint64_t)g[greg_index[k]];
  hv_out.rflags = (uint64_t)g[REG_EFL];
  fault_vector = (int)g[REG_TRAPNO];
  if (sig == SIGILL && fault_vector == 0) fault_vector = 6;
  fault_error = (int)g[REG_ERR];
  fault_rip = (uint64_t)g[REG_RIP];
  siglongjmp(jb, 1);
}

static void die(const char *msg) {
  fprintf(stderr, "native-runner: %s\n", msg);
  exit(2);
}

/* A fixed mapping that failed: say why and what occupies the address space (a CI run once lost a runner early
   without a word; this is the first thing to look at if it happens again). */
static void die_map(const char *msg, void *got) {
  fprintf(stderr, "native-runner: %s (mmap returned %p, errno %d); /proc/self/maps:\n", msg, got, errno);
  FILE *m = fopen("/proc/self/maps", "r");
  if (m != NULL) {
    char line[512];
    while (fgets(line, sizeof line, m) != NULL) fputs(line, stderr);
    fclose(m);
  }
  exit(2);
}

static void read_all(void *p, size_t n) {
  if (n != 0 && fread(p, 1, n, stdin) != n) die("short read on stdin");
}

static uint32_t read_u32(void) {
  uint32_t v;
  read_all(&v, 4);
  return v;
}

int main(void) {
  static char altstack[1 << 16];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) die("sigaltstack");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  int sigs[] = {SIGFPE, SIGSEGV, SIGILL, SIGBUS, SIGTRAP};
  for (unsigned k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
    if (sigaction(sigs[k], &sa, NULL) != 0) die("sigaction");

  uint8_t *code = mmap((void *)CODE_BASE, CODE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (code != (uint8_t *)CODE_BASE) die_map("cannot map the code area at 0x100000", code);
  uint32_t magic = read_u32();
  if (magic != MAGIC && magic != MAGIC_COMPAT) die("bad magic");
  int compat = magic == MAGIC_COMPAT;
  uint8_t *data;
  if (!compat) {
    data = mmap((void *)DATA_BASE, DATA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  } else {
    /* Shared memory, so the first data page can also appear at LOW_ALIAS (below 64 KiB, where 16-bit
       addressing reaches with flat segments). */
    int fd = memfd_create("hypatia-diff-data", 0);
    if (fd < 0 || ftruncate(fd, DATA_SIZE) != 0) die("memfd");
    data = mmap((void *)DATA_BASE, DATA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
    uint8_t *low = mmap((void *)LOW_ALIAS, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
    if (low != (uint8_t *)LOW_ALIAS) die_map("cannot map the low alias of the data page at 0xc000", low);
  }
  if (data != (uint8_t *)DATA_BASE) die_map("cannot map the data area at 0x200000", data);
  uint16_t cs64;
  __asm__("mov %%cs, %0" : "=r"(cs64));
  uint32_t window = read_u32();
  if (window > DATA_SIZE) die("window too large");
  uint32_t nsnip = read_u32();
  uint32_t *snip_off = calloc(nsnip ? nsnip : 1, sizeof(uint32_t));
  uint32_t *snip_len = calloc(nsnip ? nsnip : 1, sizeof(uint32_t));
  if (snip_off == NULL || snip_len == NULL) die("out of memory");
  memset(code, 0xcc, CODE_SIZE);
  uint64_t target = (uint64_t)(uintptr_t)&hv_exit;
  uint32_t end = 0;
  for (uint32_t k = 0; k < nsnip; k++) {
    uint32_t off = read_u32(), len = read_u32();
    if ((uint64_t)off + len + 16 > CODE_SIZE) die("snippet outside the code area");
    read_all(code + off, len);
    uint8_t *p = code + off + len;
    if (!compat) {
      /* jmp qword [rip+0]; .quad hv_exit */
      p[0] = 0xff; p[1] = 0x25; p[2] = 0; p[3] = 0; p[4] = 0; p[5] = 0;
      memcpy(p + 6, &target, 8);
    }
    snip_off[k] = off;
    snip_len[k] = len;
    if (off + len + 16 > end) end = off + len + 16;
  }
  if (compat) {
    /* A 64-bit trampoline after the last snippet: jmp qword [rip+0]; .quad hv_exit. Each snippet ends with
       jmp far cs64:trampoline (EA ptr16:32), assembled here because its operands are only known now. */
    uint32_t tramp = (end + 15) & ~15u;
    if ((uint64_t)tramp + 16 > CODE_SIZE) die("no room for the compatibility-mode trampoline");
    uint8_t *t = code + tramp;
    t[0] = 0xff; t[1] = 0x25; t[2] = 0; t[3] = 0; t[4] = 0; t[5] = 0;
    memcpy(t + 6, &target, 8);
    uint32_t t32 = (uint32_t)(CODE_BASE + tramp);
    for (uint32_t k = 0; k < nsnip; k++) {
      uint8_t *p = code + snip_off[k] + snip_len[k];
      p[0] = 0xea;
      memcpy(p + 1, &t32, 4);
      memcpy(p + 5, &cs64, 2);
    }
    hv_far.sel = USER32_CS;
  }
  if (mprotect(code, CODE_SIZE, PROT_READ | PROT_EXEC) != 0) die("mprotect");

  uint32_t ncases = read_u32();
  size_t out_max = 4 + 4 + 8 + 16 * 8 + 8 + 4 + (size_t)window * 3 + 16;
  uint8_t *out = malloc(out_max);
  uint8_t *before = malloc(window ? window : 1);
  if (out == NULL || before == NULL) die("out of memory");
  for (uint32_t c = 0; c < ncases; c++) {
    uint32_t sn = read_u32();
    (void)read_u32();
    read_all(hv_in.gpr, sizeof hv_in.gpr);
    read_all(&hv_in.rflags, 8);
    read_all(data, window);
    memcpy(before, data, window);
    if (sn >= nsnip) die("bad snippet index");
    /* Only the arithmetic flags and DF come from the case; bit 1 is always set, TF/AC never. */
    hv_in.rflags = (hv_in.rflags & 0xcd5) | 2;
    hv_entry = CODE_BASE + snip_off[sn];
    hv_far.off = (uint32_t)hv_entry;
    fault_vector = -1;
    fault_error = 0;
    fault_rip = 0;
    if (sigsetjmp(jb, 1) == 0) {
      if (compat) hv_enter32();
      else hv_enter();
    }
    int32_t vec = fault_vector, err = fault_error;
    uint64_t rip = vec >= 0 ? fault_rip - CODE_BASE : 0;
    memcpy(out, &vec, 4);
    memcpy(out + 4, &err, 4);
    memcpy(out + 8, &rip, 8);
    memcpy(out + 16, hv_out.gpr, 16 * 8);
    memcpy(out + 16 + 128, &hv_out.rflags, 8);
    size_t n = 16 + 136 + 4;
    uint32_t runs = 0;
    for (uint32_t k = 0; k < window;) {
      if (data[k] == before[k]) { k++; continue; }
      uint32_t e = k + 1;
      while (e < window && data[e] != before[e]) e++;
      uint32_t len = e - k;
      memcpy(out + n, &k, 4);
      memcpy(out + n + 4, &len, 4);
      memcpy(out + n + 8, data + k, len);
      n += 8 + len;
      while (n & 3) out[n++] = 0;
      runs++;
      k = e;
    }
    memcpy(out + 16 + 136, &runs, 4);
    if (fwrite(out, 1, n, stdout) != n) die("short write");
  }
  fflush(stdout);
  return 0;
}
