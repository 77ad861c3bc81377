/*
 * A freestanding guest that powers its VM off (or resets it) the way an ACPI OS does, finding everything from
 * the boot_params page the firmware passes in RSI: RSDP (boot_params.acpi_rsdp_addr, 0x070) -> XSDT -> FADT
 * (X_PM1a_CNT_BLK, RESET_REG, RESET_VALUE, X_DSDT) -> the DSDT's \_S5 package (SLP_TYP). Every checksum is
 * verified on the way. The command line (boot_params.hdr.cmd_line_ptr, 0x228) says what to do: "poweroff" or
 * "reset". Progress goes to COM1; a failure exits through isa-debug-exit (port 0xF4) with a code.
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void putc_(char c) {
	while (!(inb(0x3f8 + 5) & 0x20)) {}
	outb(0x3f8, (u8)c);
}
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void puthex(u64 v) {
	puts_("0x");
	for (int i = 60; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 0xf]);
}
static void fail(const char *why, u8 code) {
	puts_("FAIL "); puts_(why); putc_('\n');
	outb(0xf4, code);
	for (;;) __asm__ volatile("cli; hlt");
}

static u8 sum(const u8 *p, u32 n) { u8 s = 0; while (n--) s += *p++; return s; }
static int same(const u8 *p, const char *s, u32 n) { for (u32 i = 0; i < n; i++) if (p[i] != (u8)s[i]) return 0; return 1; }
static u32 rd32(const u8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24; }
static u64 rd64(const u8 *p) { return rd32(p) | (u64)rd32(p + 4) << 32; }

static const u8 *table(u64 addr, const char *sig) {
	const u8 *t = (const u8 *)addr;
	if (!same(t, sig, 4)) fail("table signature", 3);
	if (sum(t, rd32(t + 4)) != 0) fail("table checksum", 5);
	puts_(sig); puts_(" ok\n");
	return t;
}

/* SLP_TYP for PM1a from Name(_S5_, Package(){a, b, ...}): NameOp "_S5_" PackageOp PkgLength NumElements a ... */
static u16 s5_slp_typ(const u8 *dsdt) {
	u32 len = rd32(dsdt + 4);
	for (u32 i = 36; i + 8 < len; i++) {
		if (dsdt[i] != 0x08 || !same(dsdt + i + 1, "_S5_", 4) || dsdt[i + 5] != 0x12) continue;
		const u8 *p = dsdt + i + 6;
		p += 1 + (*p >> 6); /* PkgLength: 1 + the count in bits 6-7 */
		p += 1;             /* NumElements */
		if (*p == 0x00) return 0;
		if (*p == 0x01) return 1;
		if (*p == 0x0a) return p[1];
		fail("_S5 element encoding", 7);
	}
	fail("no _S5 in the DSDT", 9);
	return 0;
}

void guest_main(const u8 *bp) {
	const char *cmd = (const char *)(u64)rd32(bp + 0x228);
	puts_("cmdline: "); puts_(cmd); putc_('\n');
	const u8 *rsdp = (const u8 *)rd64(bp + 0x070);
	if (!same(rsdp, "RSD PTR ", 8)) fail("RSDP signature", 11);
	if (sum(rsdp, 20) != 0 || sum(rsdp, rd32(rsdp + 20)) != 0) fail("RSDP checksums", 13);
	puts_("RSDP ok\n");
	const u8 *xsdt = table(rd64(rsdp + 24), "XSDT");
	const u8 *fadt = 0;
	for (u32 off = 36; off < rd32(xsdt + 4); off += 8) {
		const u8 *t = (const u8 *)rd64(xsdt + off);
		if (same(t, "FACP", 4)) fadt = table((u64)t, "FACP");
	}
	if (!fadt) fail("no FADT in the XSDT", 15);
	if (rd32(fadt + 112) & (1u << 20)) fail("hardware-reduced FADT", 17);
	const u8 *dsdt = table(rd64(fadt + 140), "DSDT");
	const u8 *facs = (const u8 *)rd64(fadt + 132); /* the FACS has no checksum; signature and length */
	if (!same(facs, "FACS", 4) || rd32(facs + 4) < 64) fail("FACS", 23);
	puts_("FACS ok\n");
	u16 pm1a_cnt = (u16)rd64(fadt + 172 + 4);
	u16 reset = (u16)rd64(fadt + 116 + 4);
	u8 reset_value = fadt[128];
	u16 slp_typ = s5_slp_typ(dsdt);
	puts_("PM1a_CNT "); puthex(pm1a_cnt); puts_(" SLP_TYP(S5) "); puthex(slp_typ);
	puts_(" RESET_REG "); puthex(reset); puts_(" value "); puthex(reset_value); putc_('\n');
	if (same((const u8 *)cmd, "reset", 6)) {
		if (!(rd32(fadt + 112) & (1u << 10))) fail("RESET_REG_SUP clear", 19);
		outb(reset, reset_value);
	} else {
		outw(pm1a_cnt, (u16)(slp_typ << 10));            /* SLP_TYP first, as ACPICA does */
		outw(pm1a_cnt, (u16)(slp_typ << 10 | 1 << 13)); /* then SLP_EN */
	}
	fail("still running after the request", 21);
}

__asm__(
	".globl _start\n"
	"_start:\n"
	"	cli\n"
	"	lea stack_top(%rip), %rsp\n"
	"	mov %rsi, %rdi\n" /* boot_params */
	"	call guest_main\n"
	"1:	hlt\n"
	"	jmp 1b\n"
	".bss\n"
	".align 16\n"
	"	.skip 16384\n"
	"stack_top:\n"
	".text\n");
