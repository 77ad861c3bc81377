/* A freestanding guest for `hypatia run`: prints through COM1 (polling LSR.THRE) and powers off through the
 * isa-debug-exit port 0xF4. Built by the test with the system C compiler, never committed as a binary. */

static inline void outb(unsigned short port, unsigned char v) {
  __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline unsigned char inb(unsigned short port) {
  unsigned char v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

static void serial_putc(char c) {
  while ((inb(0x3f8 + 5) & 0x20) == 0) {
  }
  outb(0x3f8, (unsigned char)c);
}

static void serial_puts(const char *s) {
  for (; *s != 0; s++) serial_putc(*s);
}

static const char message[] = "Hello from a Hypatia child partition!\n";
static volatile unsigned long counter;

void _start(void) {
  /* 8N1 at 115200 baud, as a real driver would program it: divisor latch, then line control. */
  outb(0x3f8 + 3, 0x80);
  outb(0x3f8 + 0, 1);
  outb(0x3f8 + 1, 0);
  outb(0x3f8 + 3, 0x03);
  serial_puts(message);
  for (int i = 0; i < 1000; i++) counter += (unsigned long)i;
  if (counter == 499500) serial_puts("sum ok\n");
#if defined(HELLO_TRIPLE_FAULT)
  __asm__ volatile("ud2"); /* no IDT: #UD escalates to a triple fault */
#elif !defined(HELLO_HALT)
  outb(0xf4, 0x10); /* exit status (0x10 << 1) | 1 = 33 */
#endif
  for (;;) __asm__ volatile("cli; hlt");
}
