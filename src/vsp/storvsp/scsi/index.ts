// A SCSI target over disks: CDB decoding, data in and out, sense (SPC-4, SBC-3). Transport-free: storvsp
// carries it over VMBus, tests drive it with arrays.
export { ArrayDataBuffer, CommandResult, Outcome } from './command.js';
export type { DataBuffer } from './command.js';
export { Asc, FIXED_SENSE_LENGTH, Op, SAI_READ_CAPACITY_16, ScsiStatus, SenseKey } from './constants.js';
export { ScsiController, MAX_LUNS } from './controller.js';
export type { ControllerDisk } from './controller.js';
export { DiskLun, cdbGroupLength } from './disk-lun.js';
export type { DiskLunOptions, DiskLunStats } from './disk-lun.js';
export { PRODUCT, REVISION, STANDARD_INQUIRY_LENGTH, VENDOR, VPD_PAGES } from './inquiry.js';
export { writeFixedSense } from './sense.js';
