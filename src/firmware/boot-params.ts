// struct boot_params, the Linux "zero page" (arch/x86/include/uapi/asm/bootparam.h; Documentation/arch/x86/
// zero-page.rst and boot.rst). Offsets are from the start of the 4 KiB page; the setup header (struct
// setup_header) sits at 0x1F1, where it also sits in a bzImage file.
import { encodeE820, E820_MAX_ENTRIES, type E820Entry } from './e820.js';

export const BOOT_PARAMS_SIZE = 0x1000;

/** Zero-page fields outside the setup header (bootparam.h, struct boot_params). */
export const BP = {
  acpi_rsdp_addr: 0x070, // u64
  ext_ramdisk_image: 0x0c0, // u32, bits 32..63 of ramdisk_image
  ext_ramdisk_size: 0x0c4, // u32
  ext_cmd_line_ptr: 0x0c8, // u32
  e820_entries: 0x1e8, // u8
  sentinel: 0x1ef, // u8: must stay 0 in a clean zero page
  hdr: 0x1f1, // struct setup_header
  e820_table: 0x2d0, // struct boot_e820_entry[128]
} as const;

/** Setup-header fields, at their zero-page (= bzImage file) offsets (boot.rst, "The Real-Mode Kernel Header"). */
export const HDR = {
  setup_sects: 0x1f1, // u8
  root_flags: 0x1f2, // u16
  syssize: 0x1f4, // u32, protected-mode code size in 16-byte paragraphs
  vid_mode: 0x1fa, // u16
  boot_flag: 0x1fe, // u16, 0xAA55
  jump: 0x200, // u16: a short jump whose displacement (byte 0x201) gives the header's end
  header: 0x202, // u32, "HdrS"
  version: 0x206, // u16
  type_of_loader: 0x210, // u8
  loadflags: 0x211, // u8
  code32_start: 0x214, // u32
  ramdisk_image: 0x218, // u32
  ramdisk_size: 0x21c, // u32
  heap_end_ptr: 0x224, // u16
  cmd_line_ptr: 0x228, // u32
  initrd_addr_max: 0x22c, // u32
  kernel_alignment: 0x230, // u32
  relocatable_kernel: 0x234, // u8
  min_alignment: 0x235, // u8
  xloadflags: 0x236, // u16
  cmdline_size: 0x238, // u32
  hardware_subarch: 0x23c, // u32
  payload_offset: 0x248, // u32
  payload_length: 0x24c, // u32
  setup_data: 0x250, // u64
  pref_address: 0x258, // u64
  init_size: 0x260, // u32
  handover_offset: 0x264, // u32
  kernel_info_offset: 0x268, // u32
} as const;
/** End of struct setup_header as this firmware knows it (protocol 2.15). */
export const HDR_END = 0x26c;
/** The zero page reserves up to here for the header (bootparam.h: _pad7 runs to 0x290). */
export const HDR_AREA_END = 0x290;

export const HDRS_MAGIC = 0x53726448; // "HdrS"
export const BOOT_FLAG = 0xaa55;
export const LOADED_HIGH = 0x01;
export const CAN_USE_HEAP = 0x80;
export const XLF_KERNEL_64 = 0x01;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;
/** type_of_loader: 0xFF = "undefined" loader, what boot.rst asks of a boot loader without an assigned id. */
export const LOADER_UNDEFINED = 0xff;
/** vid_mode: "normal" (boot.rst: 0xFFFF = NORMAL_VGA); the field is obligatory. */
export const VID_MODE_NORMAL = 0xffff;

export interface BootParamsInput {
  /** The kernel's setup header bytes, from file offset 0x1F1 (bzImage); absent for an ELF vmlinux. */
  setupHeader?: Uint8Array;
  /** Protocol version to report when synthesising a header for an ELF kernel. */
  version?: number;
  loadAddress: number;
  cmdlineGpa: number;
  initrd?: { gpa: number; size: number };
  e820: E820Entry[];
  rsdpGpa: number;
}

const lo32 = (n: number): number => n >>> 0;
const hi32 = (n: number): number => Math.floor(n / 2 ** 32) >>> 0;

/** A clean zero page: the kernel's header copied in, then the loader-owned fields filled. */
export function buildBootParams(p: BootParamsInput): Uint8Array {
  const page = new Uint8Array(BOOT_PARAMS_SIZE);
  const dv = new DataView(page.buffer);
  if (p.setupHeader !== undefined) {
    page.set(p.setupHeader.subarray(0, HDR_AREA_END - HDR.setup_sects), HDR.setup_sects);
  } else {
    // An ELF vmlinux carries no setup header; give its entry code the fields a bzImage would have had.
    dv.setUint16(HDR.boot_flag, BOOT_FLAG, true);
    dv.setUint32(HDR.header, HDRS_MAGIC, true);
    dv.setUint16(HDR.version, p.version ?? 0x020f, true);
    dv.setUint8(HDR.loadflags, LOADED_HIGH);
  }
  dv.setUint16(HDR.vid_mode, VID_MODE_NORMAL, true);
  dv.setUint8(HDR.type_of_loader, LOADER_UNDEFINED);
  // No real-mode setup code runs, so no heap for it.
  dv.setUint8(HDR.loadflags, dv.getUint8(HDR.loadflags) & ~CAN_USE_HEAP);
  dv.setUint32(HDR.code32_start, lo32(p.loadAddress), true);
  dv.setUint32(HDR.cmd_line_ptr, lo32(p.cmdlineGpa), true);
  dv.setUint32(BP.ext_cmd_line_ptr, hi32(p.cmdlineGpa), true);
  const rd = p.initrd ?? { gpa: 0, size: 0 };
  dv.setUint32(HDR.ramdisk_image, lo32(rd.gpa), true);
  dv.setUint32(BP.ext_ramdisk_image, hi32(rd.gpa), true);
  dv.setUint32(HDR.ramdisk_size, lo32(rd.size), true);
  dv.setUint32(BP.ext_ramdisk_size, hi32(rd.size), true);
  dv.setUint32(HDR.hardware_subarch, 0, true); // X86_SUBARCH_PC
  dv.setBigUint64(HDR.setup_data, 0n, true);
  dv.setBigUint64(BP.acpi_rsdp_addr, BigInt(p.rsdpGpa), true);
  if (p.e820.length > E820_MAX_ENTRIES) throw new RangeError(`e820 map of ${p.e820.length} entries`);
  dv.setUint8(BP.e820_entries, p.e820.length);
  page.set(encodeE820(p.e820), BP.e820_table);
  return page;
}
