// Fixed numbers and identifiers of the VHDX format (MS-VHDX).
import { guid } from './guid.js';

export const KiB = 1024;
export const MiB = 1024 * 1024;

export const FILE_ID_SIGNATURE = 'vhdxfile';
export const HEADER_OFFSETS = [64 * KiB, 128 * KiB] as const;
export const HEADER_SIZE = 4 * KiB;
export const REGION_TABLE_OFFSETS = [192 * KiB, 256 * KiB] as const;
export const REGION_TABLE_SIZE = 64 * KiB;
/** Everything below this offset is the header section (file identifier, headers, region tables). */
export const HEADER_SECTION_SIZE = MiB;
/** The log may not rewrite the file identifier or the headers. */
export const LOG_PROTECTED_END = 192 * KiB;

export const SIG_HEAD = 0x64616568; // "head"
export const SIG_REGI = 0x69676572; // "regi"
export const SIG_LOGE = 0x65676f6c; // "loge"
export const SIG_ZERO = 0x6f72657a; // "zero"
export const SIG_DESC = 0x63736564; // "desc"
export const SIG_DATA = 0x61746164; // "data"
export const METADATA_SIGNATURE = 'metadata';

export const BAT_REGION_GUID = guid('2DC27766-F623-4200-9D64-115E9BFD4A08');
export const METADATA_REGION_GUID = guid('8B7CA206-4790-4B9A-B8FE-575F050F886E');

export const META_FILE_PARAMETERS = guid('CAA16737-FA36-4D43-B3B6-33F0AA44E76B');
export const META_VIRTUAL_DISK_SIZE = guid('2FA54224-CD1B-4876-B211-5DBED83BF4B8');
export const META_PAGE83 = guid('BECA12AB-B2E6-4523-93EF-C309E000C746');
export const META_LOGICAL_SECTOR_SIZE = guid('8141BF1D-A96F-4709-BA47-F233A8FAAB5F');
export const META_PHYSICAL_SECTOR_SIZE = guid('CDA348C7-445D-4471-9CC9-E9885251C556');
export const META_PARENT_LOCATOR = guid('A8D35F2D-B30B-454D-ABF7-D3D84834AB0C');
export const PARENT_LOCATOR_TYPE_VHDX = guid('B04AEFB7-D19E-4A81-B789-25B8E9445913');

export const META_FLAG_IS_USER = 1;
export const META_FLAG_IS_VIRTUAL_DISK = 2;
export const META_FLAG_IS_REQUIRED = 4;

// BAT entry states (low three bits of an entry).
export const PAYLOAD_BLOCK_NOT_PRESENT = 0;
export const PAYLOAD_BLOCK_UNDEFINED = 1;
export const PAYLOAD_BLOCK_ZERO = 2;
export const PAYLOAD_BLOCK_UNMAPPED = 3;
export const PAYLOAD_BLOCK_FULLY_PRESENT = 6;
export const PAYLOAD_BLOCK_PARTIALLY_PRESENT = 7;
export const SB_BLOCK_NOT_PRESENT = 0;
export const SB_BLOCK_PRESENT = 6;

export const MIN_BLOCK_SIZE = MiB;
export const MAX_BLOCK_SIZE = 256 * MiB;
export const MAX_VIRTUAL_SIZE = 64 * 1024 * 1024 * MiB; // 64 TiB
/** Sectors described by one sector bitmap block (1 MiB of bits). */
export const SECTORS_PER_CHUNK = 8 * MiB;
export const SECTOR_BITMAP_BLOCK_SIZE = MiB;
/** Files larger than this are refused as absurd (offsets in BAT entries and logs are checked against it). */
export const MAX_FILE_SIZE = 2 ** 47;
export const LOG_SECTOR = 4 * KiB;
