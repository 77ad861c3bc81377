// The Linux guest's images: Debian's cloud kernel and a busybox initramfs with the Hyper-V drivers, fetched
// with apt and built here (ensureGuestImages); the initramfs/cpio writer and reader for variants and tests.
export { ensureGuestImages, BUSYBOX_PACKAGE, HYPERV_DAEMONS_PACKAGE, LIBC_PACKAGE, INITRD_FILE, KERNEL_FILE, MANIFEST_FILE } from './ensure-guest-images.js';
export type { EnsureGuestImagesOptions, GuestImages } from './ensure-guest-images.js';
export { defaultGuestCacheDir } from './cache-dir.js';
export { GuestImageError, type GuestImageErrorCode } from './errors.js';
export { buildInitramfs, readInitramfs, initramfsTree, orderEntries } from './initramfs.js';
export type { BuildInitramfsOptions, InitramfsFile } from './initramfs.js';
export { writeCpio, readCpio, cpioName, typeFromMode, NEWC_MAGIC, NEWC_HEADER_SIZE, CPIO_TRAILER } from './cpio-newc.js';
export type { CpioEntry, CpioEntryType, CpioMember, ReadCpioResult, WriteCpioOptions } from './cpio-newc.js';
export {
  moduleName, parseModulesDep, parseModulesBuiltin, indexFromModulesDep, loadModuleIndex, resolveModules,
} from './kernel-modules.js';
export type { ModuleIndex, ModuleResolution, ResolvedModule } from './kernel-modules.js';
export { readModInfo, modInfoDepends, type ModInfoField } from './elf-modinfo.js';
export { readModuleFile, plainModulePath } from './module-file.js';
export { readBzImageInfo, hasBzImageSignature, BZIMAGE_HEADER_MAGIC, BZIMAGE_HEADER_MAGIC_OFFSET, type BzImageInfo } from './bzimage.js';
export { HYPERV_MODULES, busyboxApplets, guestInitramfsFiles, guestEtcFiles, modulesListText, modulesDepText } from './guest-initramfs.js';
export { initScript, ROOT_STAGE_MARKER, READY_MARKER, INIT_LOG_PREFIX, MODULES_LIST_PATH, SYSLOG_PATH } from './init-script.js';
export { kvpDaemonFiles, KVP_DAEMON_PATH, KVP_DEVICE_PATH, KVP_POOL_DIR, KVP_SCRIPTS_DIR } from './kvp-daemon-files.js';
export { dynamicProgramFiles, resolveInTree, GUEST_LIBRARY_DIRS, type DynamicProgram, type DynamicProgramFiles } from './dynamic-program.js';
export { readElfDynamic, isElf, type ElfDynamicInfo } from './elf-dynamic.js';
export { readManifest, type GuestManifest, type ManifestFile, type ManifestPackage } from './manifest.js';
export { CLOUD_KERNEL_META, resolveCloudKernel, debFileName, aptDownload, aptCandidates, type AptContext } from './apt.js';
export { rootMountScript, ROOT_WAIT_DEFAULT_S, NEW_ROOT_DIR } from './root-mount-script.js';
export { rootfsFiles, ROOTFS_LABEL, ROOTFS_INIT_PATH, type RootfsInput } from './rootfs-files.js';
export { buildRootfsImage, findE2fsTool, type BuildRootfsOptions, type RootfsFormat, type RootfsImage } from './rootfs-image.js';
