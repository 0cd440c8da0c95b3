import { hex32 } from '../errors.js';
import type { MemoryLayout } from './layout.js';
import { ImageError } from '../image/errors.js';
import { describeRange, type DfuseTarget, type FirmwareImage } from '../image/firmware-image.js';

/** Memory layouts by alternate setting, as the device's iInterface strings describe them. */
export type LayoutsByAltSetting = ReadonlyMap<number, MemoryLayout> | Readonly<Record<number, MemoryLayout>>;

/** The layout for one alt setting, from either form. */
function layoutFor(layouts: LayoutsByAltSetting, alt: number): MemoryLayout | undefined {
  return layouts instanceof Map ? layouts.get(alt) : (layouts as Readonly<Record<number, MemoryLayout>>)[alt];
}

/**
 * Checks every element lies in writable memory of its target's alt setting. An image without
 * DfuSe targets (.bin, .hex) is checked against alt 0. Throws ImageError('outside-layout').
 */
export function checkImageAgainstLayouts(image: FirmwareImage, layouts: LayoutsByAltSetting): void {
  const targets: readonly DfuseTarget[] = image.targets ?? [{ alternateSetting: 0, segments: image.segments }];
  targets.forEach((target, t) => {
    const alt = target.alternateSetting;
    const layout = layoutFor(layouts, alt);
    const label = image.targets ? `target ${t} (alt ${alt})` : `alt ${alt}`;
    if (!layout) {
      throw new ImageError(image.source, 'outside-layout', `${label}: the device has no memory layout for alternate setting ${alt}`);
    }
    target.segments.forEach((segment, e) => {
      const length = segment.data.length;
      if (length === 0) return;
      const range = describeRange(segment.address, length);
      const outside = layout.uncovered(segment.address, length);
      if (outside !== undefined) {
        throw new ImageError(image.source, 'outside-layout',
          `${label} element ${e} ${range} is outside "${layout.name}" (${describeRange(layout.start, layout.end - layout.start)}) from ${hex32(outside)}`);
      }
      const readOnly = layout.sectorsTouched(segment.address, length).find((sector) => !sector.segment.writable);
      if (readOnly) {
        throw new ImageError(image.source, 'outside-layout',
          `${label} element ${e} ${range} writes sector ${describeRange(readOnly.start, readOnly.size)} of "${layout.name}", which is not writable`);
      }
    });
  });
}
