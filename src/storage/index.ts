// Public face of the disk-format library: one Disk interface over raw, VHD and VHDX images, opening and creating
// any of them, whole-image operations, and typed errors.
export { AsyncDisk, BaseDisk, chainMayHaveData, readFromParent } from './disk.js';
export type { Disk, DiskFormat, DiskInfo, DiskType, LayerRun, LayerState } from './disk.js';
export { CorruptImageError, DiskRequestError, LogReplayRequiredError, StorageError, UnsupportedImageError } from './errors.js';
export { createDisk, detectFormat, openDisk, MAX_CHAIN_DEPTH } from './open.js';
export type { CreateOptions, OpenOptions } from './open.js';
export { RawDisk } from './raw.js';
export { VhdDisk } from './vhd.js';
export { VhdxDisk } from './vhdx.js';
export { convertImage, mergeIntoParent } from './copy.js';
export type { ConvertOptions, MergeOptions, Progress } from './copy.js';
export { checkImage } from './check.js';
export type { CheckResult } from './check.js';
export { formatSize, parseSize } from './size.js';
export { crc32c } from './crc32c.js';
