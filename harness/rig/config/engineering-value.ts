// Component values in rigs.yaml are written the way they are printed on a schematic.
//
//   100k, 100kΩ, 100kohm, 4.7u, 1uF, 3.3, 3.3V, 220n, 1e-6, or a plain YAML number
//
// An optional SI prefix (p n u µ m k M G) may follow the number, then an optional unit that
// must match the quantity (Ω/ohm/R for resistance, F for capacitance, V for voltage). Note
// that `m` is milli and `M` is mega, as on a schematic.

const PREFIX: Record<string, number> = {
  p: 1e-12, n: 1e-9, u: 1e-6, µ: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9,
};

/** The physical quantity a value measures, which decides the unit letters accepted after it. */
export type Quantity = 'resistance' | 'capacitance' | 'voltage';

const UNITS: Record<Quantity, readonly string[]> = {
  resistance: ['', 'Ω', 'ohm', 'ohms', 'R'],
  capacitance: ['', 'F'],
  voltage: ['', 'V'],
};

/** An example of each quantity, for error messages. */
export const QUANTITY_EXAMPLE: Record<Quantity, string> = {
  resistance: 'a resistance like 100k, 4.7kΩ or 100000',
  capacitance: 'a capacitance like 1u, 100nF or 0.000001',
  voltage: 'a voltage like 3.3, 3.3V or 1650m',
};

/** Parses `100k`, `1u`, `3.3V` or a number into SI base units; undefined when it does not parse. */
export function parseEngineeringValue(input: number | string, quantity: Quantity): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input > 0 ? input : undefined;
  const m = /^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)\s*([pnuµmkMG]?)\s*([A-Za-zΩ]*)\s*$/u.exec(input);
  if (!m) return undefined;
  const unit = m[3] ?? '';
  if (!UNITS[quantity].includes(unit)) return undefined;
  const value = Number(m[1]) * PREFIX[m[2] ?? '']!;
  return Number.isFinite(value) && value > 0 ? value : undefined;
}
