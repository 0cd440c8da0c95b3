// A rig touches its board only while it holds the board's lease. Everything that reaches the
// board (the USB bus and every transport opened on it, the console, the debug probe) is put
// behind a gate that asks the lease first: once the lease has expired or been taken, the next
// transfer, console command or probe command fails with RigLockLostError (an infrastructure
// failure) instead of reaching a board another run may now be driving (labgrid#450: a kicked
// session that never notices).
import type { GadgetReply, UsbConnector, UsbGadget } from '../usb/gadget.js';
import type { UsbBus, UsbTransport } from '../usb/transport.js';

/** What a gate needs of a lease. */
export interface LeaseHandle {
  /** Throws RigLockLostError once the lease is gone. */
  assertHeld(): void;
  /** Looks at the lease now (not only at its last refresh); throws RigLockLostError when it is gone. */
  check?(): Promise<void>;
  release(): Promise<void>;
}

/** A lease the caller holds, as a rig uses it: checked like its own, but releasing it is left to the caller. */
export function borrowedLease(lease: LeaseHandle): LeaseHandle {
  return { assertHeld: () => lease.assertHeld(), check: () => lease.check?.() ?? Promise.resolve(), release: async () => undefined };
}

/** Calls that never reach the board: letting go of it and bookkeeping stay possible after a loss. */
const UNGATED = new Set<string | symbol>(['close', 'dispose', 'release', 'mark', 'since', 'watch']);

/** `target` with every method call preceded by `lease.assertHeld()`; other members pass through. */
export function leaseGated<T extends object>(target: T, lease: Pick<LeaseHandle, 'assertHeld'>, wrapResult?: (method: string | symbol, result: unknown) => unknown): T {
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function' || UNGATED.has(property)) return typeof value === 'function' ? value.bind(object) : value;
      return (...args: unknown[]) => {
        // Every gated call is asynchronous (transfers, console and probe commands): refuse as a rejection.
        try {
          lease.assertHeld();
        } catch (error) {
          return Promise.reject(error);
        }
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(object, args);
        return wrapResult ? wrapResult(property, result) : result;
      };
    },
  });
}

/** `bus` behind the lease, and every transport it opens too. */
export function leaseGatedBus<B extends UsbBus>(bus: B, lease: Pick<LeaseHandle, 'assertHeld'>): B {
  return leaseGated(bus, lease, (method, result) => (method === 'open'
    ? (result as Promise<UsbTransport>).then((transport) => leaseGated(transport, lease))
    : result));
}

/**
 * `connector` as seen by programs that reach the board through it (`sim expose`): once the
 * lease is lost, the device behaves as unplugged mid-transfer and nothing reaches the board.
 */
export function leaseGatedConnector(connector: UsbConnector, lease: Pick<LeaseHandle, 'assertHeld'>): UsbConnector {
  const held = (): boolean => {
    try {
      lease.assertHeld();
      return true;
    } catch {
      return false;
    }
  };
  const wrappers = new WeakMap<UsbGadget, UsbGadget>();
  const wrap = (gadget: UsbGadget | undefined): UsbGadget | undefined => {
    if (!gadget) return undefined;
    let wrapped = wrappers.get(gadget);
    if (!wrapped) {
      wrapped = {
        control: (setup, data): GadgetReply | Promise<GadgetReply> => (held() ? gadget.control(setup, data) : { type: 'disconnected' }),
        busReset: () => { if (held()) gadget.busReset(); },
      };
      wrappers.set(gadget, wrapped);
    }
    return wrapped;
  };
  return {
    portPath: connector.portPath,
    current: () => wrap(connector.current()),
    watch: (listener) => connector.watch((gadget) => listener(wrap(gadget))),
  };
}
