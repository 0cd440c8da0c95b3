// Turns the Makefile's .bin/.hex output into the committed image set: copies them, writes each
// .dfu with the harness's own DfuSe writer, and writes images/manifest.json. It also refuses an
// image set that would mislead the specs (an A and B with the same version, a "broken" image
// that is valid code, a block that names the wrong core).
//
//   npx tsx firmware-images/tools/package-images.ts <build dir> <images dir> A=<id> B=<id> broken=<id> cm4=<id> \
//     [mutant.<name>=<id> ...] [example=<id> ...]
//
// (`make -C firmware-images images` runs it with the Makefile's ids.)
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import {
  imageDigest, imageStart, imageToBin, imageVectorProblem, loadBin, readHex, readImageVersionBlock, writeDfu,
} from '../../harness/image/index.js';

/** What each image is for in the specs. */
export type ImageRole = 'A' | 'B' | 'broken' | 'cm4';
export const IMAGE_ROLES: readonly ImageRole[] = ['A', 'B', 'broken', 'cm4'];

/** One committed file of an image. */
export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
}

/** One image of the set, as images/manifest.json lists it. */
export interface ManifestImage {
  id: string;
  role: ImageRole;
  name: string;
  version: string;
  core: 4 | 7;
  /** Where the .bin goes, as 0x-prefixed 8-digit hex (the .hex and .dfu carry it too). */
  loadAddress: string;
  /** Size, SHA-256 and CRC-32 of the image bytes (the .bin). */
  size: number;
  sha256: string;
  crc32: string;
  /** Whether the vector table is valid code (docs/image-version-block.md); the broken image's is not. */
  validCode: boolean;
  /** Why not, when validCode is false. */
  vectorProblem?: string;
  /** First line of `arm-none-eabi-gcc --version` for the build. */
  toolchain: string;
  files: { bin: ManifestFile; hex: ManifestFile; dfu: ManifestFile };
}

/** How a mutant's entry bug shows, for the specs that must catch it. */
export interface MutantInfo {
  /** The Makefile's name for it (its build flag is in the Makefile's MUTANTS). */
  name: string;
  /** The bug, in a sentence. */
  bug: string;
  /** The console entry that goes through the broken code. */
  entry: 'console-jump' | 'console-direct';
}

/** A mutant: the application with one deliberate bootloader-entry bug. */
export type ManifestMutant = Omit<ManifestImage, 'role'> & { role: 'mutant'; mutant: MutantInfo };

/** An example of a team's own application (docs/own-firmware.md): a CM7 image that is not the test application. */
export type ManifestExample = Omit<ManifestImage, 'role'> & { role: 'example' };

export interface Manifest {
  format: 1;
  images: ManifestImage[];
  /** Mutants of the application (executed mode must catch each); absent in older manifests. */
  mutants?: ManifestMutant[];
  /** Applications that are not the test application, for the own-firmware guide; absent in older manifests. */
  examples?: ManifestExample[];
}

/** The mutants the Makefile builds, by name: what each breaks and which entry shows it. */
export const MUTANTS: Readonly<Record<string, Omit<MutantInfo, 'name'>>> = {
  'wrong-branch': { bug: 'reads the bootloader\'s stack pointer and entry from 0x1FFF0000 (the STM32F4 system memory) instead of 0x1FF09800', entry: 'console-jump' },
  'msp-not-loaded': { bug: 'branches to the bootloader entry without loading MSP from 0x1FF09800', entry: 'console-jump' },
  'magic-inverted': { bug: 'takes the early jump when the magic word is absent and boots normally when `dfu jump` set it', entry: 'console-jump' },
  'irq-pending': { bug: 'leaves USART3\'s interrupt enabled and pending in the NVIC when it re-enables interrupts before the jump', entry: 'console-direct' },
  'systick-running': { bug: 'leaves SysTick counting with its interrupt enabled when it jumps', entry: 'console-direct' },
};

/** The load address of each role (BOOT_CM7_ADD0 = 0x0800, BOOT_CM4_ADD0 = 0x0810 at the factory). */
const EXPECTED: Readonly<Record<ImageRole, { core: 4 | 7; address: number; validCode: boolean }>> = {
  A: { core: 7, address: 0x08000000, validCode: true },
  B: { core: 7, address: 0x08000000, validCode: true },
  broken: { core: 7, address: 0x08000000, validCode: false },
  cm4: { core: 4, address: 0x08100000, validCode: true },
};

/** The DfuSe target name written into each .dfu (alt setting 0, the ROM's "Internal Flash"). */
export const DFU_TARGET_NAME = 'Internal Flash';

const hex32 = (v: number): string => `0x${(v >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** First line of `arm-none-eabi-gcc --version`. */
export async function toolchainVersion(gcc = 'arm-none-eabi-gcc'): Promise<string> {
  const { stdout } = await execa(gcc, ['--version']);
  return stdout.split('\n')[0]!.trim();
}

function fail(id: string, problem: string): never {
  throw new Error(`firmware image ${id}: ${problem}`);
}

/** Builds one image's files in `outDir` and returns its manifest entry. */
async function packageOne(buildDir: string, outDir: string, role: ImageRole, id: string, toolchain: string): Promise<ManifestImage> {
  const binPath = join(buildDir, `${id}.bin`);
  const hexPath = join(buildDir, `${id}.hex`);
  const bin = new Uint8Array(await readFile(binPath));
  const fromHex = readHex(await readFile(hexPath), hexPath);
  const address = imageStart(fromHex);
  if (fromHex.segments.length !== 1 || !Buffer.from(imageToBin(fromHex)).equals(Buffer.from(bin))) {
    fail(id, `${hexPath} does not hold exactly the bytes of ${binPath}`);
  }
  const expected = EXPECTED[role];
  if (address !== expected.address) fail(id, `loads at ${hex32(address)}; a ${role} image belongs at ${hex32(expected.address)}`);
  const block = readImageVersionBlock(bin, binPath);
  if (!block) fail(id, 'has no version block at offset 0x400');
  if (block.core !== expected.core) fail(id, `its version block says core ${block.core}; a ${role} image is for core ${expected.core}`);
  const vectorProblem = imageVectorProblem(bin, address);
  if ((vectorProblem === undefined) !== expected.validCode) {
    fail(id, expected.validCode ? `is not valid code: ${vectorProblem}` : 'is valid code, but the broken image must not be');
  }

  const image = loadBin(bin, address, binPath);
  const dfu = writeDfu(image, { targetName: DFU_TARGET_NAME });
  const hexBytes = new Uint8Array(await readFile(hexPath));
  // Written, not copied, so the committed files do not inherit objcopy's executable mode.
  await writeFile(join(outDir, `${id}.bin`), bin);
  await writeFile(join(outDir, `${id}.hex`), hexBytes);
  await writeFile(join(outDir, `${id}.dfu`), dfu);
  const file = (ext: string, bytes: Uint8Array): ManifestFile => ({ path: `${id}.${ext}`, size: bytes.length, sha256: sha256(bytes) });
  const digest = imageDigest(image);
  return {
    id,
    role,
    name: block.name,
    version: block.version,
    core: block.core,
    loadAddress: hex32(address),
    size: digest.size,
    sha256: digest.sha256,
    crc32: digest.crc32,
    validCode: vectorProblem === undefined,
    ...(vectorProblem !== undefined ? { vectorProblem } : {}),
    toolchain,
    files: { bin: file('bin', bin), hex: file('hex', hexBytes), dfu: file('dfu', dfu) },
  };
}

/** Packages the images named per role from `buildDir` into `outDir`, writing manifest.json; returns the manifest. */
export async function packageImages(
  buildDir: string,
  outDir: string,
  ids: Readonly<Record<ImageRole, string>>,
  options: { toolchain?: string; mutants?: Readonly<Record<string, string>>; examples?: readonly string[] } = {},
): Promise<Manifest> {
  const toolchain = options.toolchain ?? await toolchainVersion();
  await mkdir(outDir, { recursive: true });
  const images: ManifestImage[] = [];
  for (const role of IMAGE_ROLES) images.push(await packageOne(buildDir, outDir, role, ids[role], toolchain));
  const [a, b, broken] = images;
  if (a!.name !== b!.name || a!.version === b!.version) {
    throw new Error(`images A (${a!.name} ${a!.version}) and B (${b!.name} ${b!.version}) must share a name and differ in version, or a flash cannot be told to have taken effect`);
  }
  if (broken!.name !== a!.name) throw new Error(`the broken image is named ${broken!.name}; it should carry the application's name ${a!.name}`);
  const mutants: ManifestMutant[] = [];
  for (const [name, id] of Object.entries(options.mutants ?? {})) {
    const info = MUTANTS[name];
    if (!info) throw new Error(`mutant "${name}" is not one of ${Object.keys(MUTANTS).join(', ')}`);
    // A mutant is the application (same load address, valid vector table) with a different version.
    const image = await packageOne(buildDir, outDir, 'A', id, toolchain);
    if (image.name !== a!.name || image.version === a!.version) fail(id, `a mutant must carry the application's name ${a!.name} and a version of its own`);
    mutants.push({ ...image, role: 'mutant', mutant: { name, ...info } });
  }
  const examples: ManifestExample[] = [];
  for (const id of options.examples ?? []) {
    // A CM7 application in bank 1 with a valid vector table, like A; but someone else's.
    const image = await packageOne(buildDir, outDir, 'A', id, toolchain);
    if (image.name === a!.name) fail(id, `an example must not carry the test application's name ${a!.name}`);
    examples.push({ ...image, role: 'example' });
  }
  const manifest: Manifest = { format: 1, images, ...(mutants.length > 0 ? { mutants } : {}), ...(examples.length > 0 ? { examples } : {}) };
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Parses `role=id`, `mutant.<name>=id` and `example=id` arguments. */
export function parseRoleArguments(args: readonly string[]): { ids: Record<ImageRole, string>; mutants: Record<string, string>; examples: string[] } {
  const ids: Partial<Record<ImageRole, string>> = {};
  const mutants: Record<string, string> = {};
  const examples: string[] = [];
  for (const arg of args) {
    const mutant = /^mutant\.([\w-]+)=([\w.-]+)$/.exec(arg);
    if (mutant) {
      mutants[mutant[1]!] = mutant[2]!;
      continue;
    }
    const example = /^example=([\w.-]+)$/.exec(arg);
    if (example) {
      examples.push(example[1]!);
      continue;
    }
    const m = /^(A|B|broken|cm4)=([\w.-]+)$/.exec(arg);
    if (!m) throw new Error(`argument "${arg}" is not role=id with role A, B, broken or cm4, nor mutant.<name>=id or example=id`);
    ids[m[1] as ImageRole] = m[2]!;
  }
  const missing = IMAGE_ROLES.filter((r) => ids[r] === undefined);
  if (missing.length > 0) throw new Error(`missing image ids for: ${missing.join(', ')}`);
  return { ids: ids as Record<ImageRole, string>, mutants, examples };
}

async function main(argv: readonly string[]): Promise<void> {
  const [buildDir, outDir, ...roles] = argv;
  if (buildDir === undefined || outDir === undefined) {
    throw new Error('usage: package-images.ts <build dir> <images dir> A=<id> B=<id> broken=<id> cm4=<id>');
  }
  const { ids, mutants, examples } = parseRoleArguments(roles);
  const manifest = await packageImages(resolve(buildDir), resolve(outDir), ids, { mutants, examples });
  for (const image of [...manifest.images, ...(manifest.mutants ?? []), ...(manifest.examples ?? [])]) {
    console.log(`${image.role.padEnd(7)} ${image.id.padEnd(30)} ${image.loadAddress} ${String(image.size).padStart(6)} bytes  ${image.name} ${image.version}${image.validCode ? '' : '  (not valid code)'}`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  });
}
