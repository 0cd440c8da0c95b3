// What `dfu-hil doctor` checks. Each check says whether it applies to a rig and returns ok,
// warn or fail with a fix; add a check by appending to DOCTOR_CHECKS.
import { constants } from 'node:fs';
import { access, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { RigConfig } from '../../rig/config/load-rigs.js';
import { formatUsbId } from '../../rig/config/schema.js';
import { defaultLockDir } from '../../rig/lock/rig-lock.js';

/** A check's verdict. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** What a check found, and what to do about it. */
export interface CheckResult {
  status: CheckStatus;
  detail: string;
  fix?: string;
}

/** What checks may look at; injectable so tests control PATH and the file system. */
export interface DoctorEnvironment {
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  platform: NodeJS.Platform;
  nodeVersion: string;
  /** Full path of an executable on PATH, or undefined. */
  which(command: string): Promise<string | undefined>;
  pathExists(file: string): Promise<boolean>;
  canReadWrite(file: string): Promise<boolean>;
  /** The text of every file in the udev rules directories. */
  udevRules(): Promise<Array<{ file: string; text: string }>>;
}

/** One doctor check. */
export interface DoctorCheck {
  id: string;
  appliesTo(rig: RigConfig): boolean;
  run(rig: RigConfig, environment: DoctorEnvironment): Promise<CheckResult>;
}

/** Where a tool comes from, for the fix line. */
const TOOL_SOURCES: Record<string, string> = {
  'st-flash': 'sudo apt-get install stlink-tools',
  openocd: 'sudo apt-get install openocd',
  'dfu-util': 'sudo apt-get install dfu-util',
  uhubctl: 'sudo apt-get install uhubctl',
  STM32_Programmer_CLI: 'install STM32CubeProgrammer from st.com (not packaged by Debian) and add its bin/ folder to PATH',
};

const PROBE_BINARIES = { 'st-flash': 'st-flash', openocd: 'openocd', 'stm32-programmer-cli': 'STM32_Programmer_CLI' } as const;

const isHardware = (rig: RigConfig): boolean => rig.kind !== 'sim';

async function toolCheck(command: string, environment: DoctorEnvironment, missing: CheckStatus, why: string): Promise<CheckResult> {
  const found = await environment.which(command);
  if (found) return { status: 'ok', detail: `${command} found at ${found}` };
  return { status: missing, detail: `${command} is not on PATH (${why})`, fix: TOOL_SOURCES[command] ?? `install ${command}` };
}

const PLACEHOLDER = /REPLACE|CHANGE-?ME|XXXX/i;

/** The checks doctor runs, in order. */
export const DOCTOR_CHECKS: readonly DoctorCheck[] = [
  {
    id: 'node',
    appliesTo: () => true,
    async run(_rig, environment) {
      const major = Number(/^v?(\d+)/.exec(environment.nodeVersion)?.[1] ?? 0);
      return major >= 20
        ? { status: 'ok', detail: `Node.js ${environment.nodeVersion}` }
        : { status: 'fail', detail: `Node.js ${environment.nodeVersion} is too old`, fix: 'install Node.js 20 or later' };
    },
  },
  {
    id: 'simulated-board',
    appliesTo: (rig) => rig.kind === 'sim',
    async run(rig) {
      return { status: 'ok', detail: `simulated ROM ${rig.bootloader.profile ?? 'st-rom-v9.2'} enumerating as ${formatUsbId(rig.bootloader.vidPid)}; no hardware or tools needed` };
    },
  },
  {
    id: 'placeholders',
    appliesTo: isHardware,
    async run(rig) {
      const fields: Array<[string, string | undefined]> = [
        ['usb.serial', rig.usb.serial], ['probe.serial', rig.probe?.serial], ['console.path', rig.console.path],
      ];
      const left = fields.filter(([, v]) => v !== undefined && PLACEHOLDER.test(v)).map(([k]) => `rigs.${rig.name}.${k}`);
      if (left.length === 0) return { status: 'ok', detail: 'no placeholder values' };
      return {
        status: 'fail',
        detail: `${left.join(', ')} still hold${left.length === 1 ? 's' : ''} a placeholder`,
        fix: 'fill in the real values: `ls -l /dev/serial/by-id/` for the console, `dfu-util -l` (in DFU mode) for the DFU serial, `st-info --probe` for the ST-LINK serial',
      };
    },
  },
  {
    id: 'probe-tool',
    appliesTo: (rig) => isHardware(rig) && rig.probe !== undefined,
    run: (rig, environment) => toolCheck(PROBE_BINARIES[rig.probe!.tool], environment, 'fail', `the rig's probe tool is ${rig.probe!.tool}`),
  },
  {
    id: 'uhubctl',
    appliesTo: (rig) => isHardware(rig) && (rig.power !== undefined || rig.entry['boot0-jumper']?.uhubctl !== undefined),
    run: (_rig, environment) => toolCheck('uhubctl', environment, 'fail', 'the rig switches board power with it'),
  },
  {
    id: 'dfu-util',
    appliesTo: isHardware,
    run: (_rig, environment) => toolCheck('dfu-util', environment, 'warn', 'optional: for checking the board by hand with `dfu-util -l`'),
  },
  {
    id: 'udev-rules',
    appliesTo: (rig) => isHardware(rig),
    async run(rig, environment) {
      if (environment.platform !== 'linux') return { status: 'ok', detail: `not Linux (${environment.platform}): no udev rules needed` };
      const vid = formatUsbId(rig.bootloader.vidPid).slice(0, 4);
      const pid = formatUsbId(rig.bootloader.vidPid).slice(5);
      const rules = await environment.udevRules();
      const match = rules.find((r) => r.text.toLowerCase().includes(vid) && r.text.toLowerCase().includes(pid));
      if (match) return { status: 'ok', detail: `${match.file} covers ${vid}:${pid}` };
      return {
        status: 'warn',
        detail: `no udev rule mentions ${vid}:${pid}; without one only root can open the DFU device`,
        fix: `add /etc/udev/rules.d/50-dfu-hil.rules with: SUBSYSTEM=="usb", ATTRS{idVendor}=="${vid}", ATTRS{idProduct}=="${pid}", MODE="0660", GROUP="plugdev", TAG+="uaccess"  then: sudo udevadm control --reload && sudo udevadm trigger`,
      };
    },
  },
  {
    id: 'console-path',
    appliesTo: isHardware,
    async run(rig, environment) {
      const console = rig.console.path;
      if (console === undefined) return { status: 'fail', detail: 'no console path', fix: `set rigs.${rig.name}.console.path` };
      if (!(await environment.pathExists(console))) {
        return { status: 'fail', detail: `${console} does not exist`, fix: 'plug in the board\'s ST-LINK USB and pick its port from `ls -l /dev/serial/by-id/` (the STLINK ...-if02 entry)' };
      }
      if (!(await environment.canReadWrite(console))) {
        return { status: 'fail', detail: `${console} exists but cannot be opened for reading and writing`, fix: 'sudo usermod -aG dialout $USER, then log in again' };
      }
      return { status: 'ok', detail: `${console} is there and usable` };
    },
  },
  {
    id: 'lock-dir',
    appliesTo: isHardware,
    async run(_rig, environment) {
      const dir = defaultLockDir(environment.env, environment.cwd);
      const parent = (await environment.pathExists(dir)) ? dir : path.dirname(dir);
      if (await environment.canReadWrite(parent)) return { status: 'ok', detail: `rig leases in ${dir}` };
      return { status: 'warn', detail: `cannot write rig leases in ${dir}`, fix: 'set DFU_HIL_LOCK_DIR to a writable directory shared by every run on this bench' };
    },
  },
];

/** Runs the checks that apply to `rig`, in order. */
export async function runDoctorChecks(rig: RigConfig, environment: DoctorEnvironment, checks: readonly DoctorCheck[] = DOCTOR_CHECKS): Promise<Array<{ id: string } & CheckResult>> {
  const results: Array<{ id: string } & CheckResult> = [];
  for (const check of checks) {
    if (!check.appliesTo(rig)) continue;
    try {
      results.push({ id: check.id, ...(await check.run(rig, environment)) });
    } catch (error) {
      results.push({ id: check.id, status: 'fail', detail: `the check itself failed: ${(error as Error).message}` });
    }
  }
  return results;
}

/** The doctor environment of this machine, with PATH from `env`. */
export function systemDoctorEnvironment(env: Readonly<Record<string, string | undefined>>, cwd: string): DoctorEnvironment {
  const exists = async (file: string, mode: number): Promise<boolean> => access(file, mode).then(() => true, () => false);
  return {
    env,
    cwd,
    platform: process.platform,
    nodeVersion: process.version,
    async which(command) {
      for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
        const candidate = path.join(dir, command);
        if (await exists(candidate, constants.X_OK)) return candidate;
      }
      return undefined;
    },
    pathExists: (file) => exists(file, constants.F_OK),
    canReadWrite: (file) => exists(file, constants.R_OK | constants.W_OK),
    async udevRules() {
      const found: Array<{ file: string; text: string }> = [];
      for (const dir of ['/etc/udev/rules.d', '/lib/udev/rules.d', '/usr/lib/udev/rules.d']) {
        const names = await readdir(dir).catch(() => [] as string[]);
        for (const name of names.filter((n) => n.endsWith('.rules'))) {
          const text = await readFile(path.join(dir, name), 'utf8').catch(() => '');
          found.push({ file: path.join(dir, name), text });
        }
      }
      return found;
    },
  };
}
