// "The application is up": what a rig waits for after a reset, a power cycle or DFU leave,
// before it hands the board back. The test application prints READY; a team's own firmware
// may print another banner, enumerate on USB, raise a pin, need a fixed time, or nothing the
// harness can see (flash and leave only); on a simulated board an image with none of these is
// up once the core runs it. Each form is one object with its time and I/O injected (clock,
// console lines, USB bus, debug probe), so a rig of any kind can use it; rigs.yaml `appReady`
// picks one (rig-app-ready.ts).
import type { Clock, TimerHandle } from '../../clock/clock.js';
import { DfuHilError } from '../../errors.js';

/**
 * The forms: the test application's READY (the default where the image speaks its console), a
 * banner of the team's own, the application's USB device, a pin, a settle time, nothing, and (on
 * a simulated board only) the core running the image.
 */
export type AppReadyForm = 'test-app-ready' | 'console-banner' | 'usb-device' | 'gpio-level' | 'settle-time' | 'none' | 'image-running';

/** The application's name and version, when a form can read them. */
export interface AppIdentity {
  name?: string;
  version?: string;
}

/** What showed that the application is up. */
export interface AppReadyResult extends AppIdentity {
  form: AppReadyForm;
  /** False only for `none`: nothing was looked at. */
  checked: boolean;
  /** Clock ms at which the application was seen up. */
  t: number;
  /** Clock ms from {@link AppReadyCheck.arm} until the application was seen up. */
  afterMs: number;
  /** What was seen, for reports: the banner line, the device, the pin's level. */
  evidence: string;
}

/** One wait for the application, started before the action that boots it. */
export interface AppReadyWatch {
  /** Resolves once the application is seen up; rejects with {@link AppNotReadyError} after `timeoutMs`. */
  wait(timeoutMs: number): Promise<AppReadyResult>;
  /** Stops watching; a wait in progress rejects. Idempotent. */
  cancel(): void;
}

/** A way to tell that the application is up. */
export interface AppReadyCheck {
  readonly form: AppReadyForm;
  /** One line for reports and errors: `console banner /^READY / on /dev/ttyACM0`. */
  describe(): string;
  /**
   * Starts watching. Call it before the reset or leave that boots the application, so that what
   * the application shows early (a banner, an enumeration) is not missed.
   */
  arm(): AppReadyWatch;
}

/**
 * The application did not show itself up in time: a finding about the firmware, unless the rig is
 * miswired. The message says what was looked for and what was seen, and ends with the form.
 */
export class AppNotReadyError extends DfuHilError {
  constructor(readonly form: AppReadyForm, message: string, hint: string) {
    super('app-not-ready', `${message} (appReady: ${form})`, { hint });
  }
}

/** The wait was cancelled before the application showed itself up. */
export class AppReadyCancelled extends DfuHilError {
  constructor(readonly form: AppReadyForm) {
    super('app-ready-cancelled', `the wait for the application (${form}) was cancelled`);
  }
}

/**
 * The plumbing every event-driven form shares: one result, a deadline on the clock, cleanup
 * exactly once. `seen` is called by the form when its evidence arrives.
 */
export class ReadyLatch {
  private result: AppReadyResult | undefined;
  private failure: Error | undefined;
  private settle: { resolve(r: AppReadyResult): void; reject(e: Error): void } | undefined;
  private timer: TimerHandle | undefined;
  private done = false;
  readonly armedAt: number;

  constructor(private readonly clock: Clock, readonly form: AppReadyForm, private readonly stop: () => void) {
    this.armedAt = clock.now();
  }

  /** The form saw the application up (the first call counts). */
  seen(evidence: string, identity?: AppIdentity): void {
    if (this.done) return;
    this.finish();
    const t = this.clock.now();
    this.result = { form: this.form, checked: true, t, afterMs: t - this.armedAt, evidence, ...identity };
    this.settle?.resolve(this.result);
  }

  /** Waits for {@link seen} until `timeoutMs` (without a deadline when `onTimeout` is absent); `onTimeout` builds the error. */
  wait(timeoutMs: number, onTimeout?: () => AppNotReadyError): Promise<AppReadyResult> {
    if (this.result) return Promise.resolve(this.result);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<AppReadyResult>((resolve, reject) => {
      this.settle = { resolve, reject };
      if (onTimeout) this.timer = this.clock.setTimer(timeoutMs, () => this.fail(onTimeout()));
    });
  }

  /** Ends the watch with `error` (a timeout, a cancel). */
  fail(error: Error): void {
    if (this.done) return;
    this.finish();
    this.failure = error;
    this.settle?.reject(error);
  }

  private finish(): void {
    this.done = true;
    this.timer?.cancel();
    this.stop();
  }
}

/** Named groups `name` and `version` of a match, when it has them. */
export function identityFromGroups(groups: Record<string, string | undefined> | undefined): AppIdentity | undefined {
  if (!groups) return undefined;
  const identity: AppIdentity = {};
  if (groups.name !== undefined) identity.name = groups.name;
  if (groups.version !== undefined) identity.version = groups.version;
  return identity.name === undefined && identity.version === undefined ? undefined : identity;
}
