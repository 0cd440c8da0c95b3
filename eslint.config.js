// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Layers may only import downwards (see README "Architecture"). */
const layerRules = [
  {
    // The more specific layer rules below replace this one for their folders; none of those imports tools/ either.
    files: ['harness/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/tools/**', '**/fixtures/**', '**/specs/**'], message: 'The harness is the library: tools/, fixtures/ and specs/ build on it, never the other way round.' }],
      }],
    },
  },
  {
    files: ['harness/sim/**/*.ts'],
    // Tests may drive the simulator with host code; the simulator itself may not know the host.
    ignores: ['harness/sim/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          group: ['**/dfu/**', '**/rig/**', '**/cli/**', '**/probe/**', '**/serial/**', '**/fixtures/**',
            '**/usb/transport*', '**/usb/in-process-bus*', '**/usb/libusb*', '**/usb/trace*', '**/usb/errors*'],
          message: 'The simulator knows nothing of the host: of harness/usb it may import only the wire format (spec, gadget, descriptors).',
        }],
        paths: ['usb', 'serialport', 'execa'].map((name) => ({ name, message: 'The simulator knows nothing of the host.' })),
      }],
    },
  },
  {
    // The DFU/DfuSe wire vocabulary is shared by the host and the simulated devices, so it knows neither.
    files: ['harness/dfu-wire/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          group: ['**/dfu/**', '**/sim/**', '**/rig/**', '**/cli/**', '**/fixtures/**', '**/usb-emulation/**',
            '**/usb/*', '!**/usb/spec*'],
          message: 'The wire module knows neither the host nor the simulator: it may import only the USB wire types (usb/spec).',
        }],
      }],
    },
  },
  {
    // Firmware image formats are shared by the host, the rigs and the simulated board, so they know none of them.
    files: ['harness/image/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          group: ['**/dfu/**', '**/sim/**', '**/rig/**', '**/cli/**', '**/usb/**', '**/usb-emulation/**', '**/serial/**', '**/probe/**', '**/fixtures/**'],
          message: 'The image module knows neither the host nor the simulator: formats only (and the DFU wire vocabulary the .dfu suffix shares).',
        }],
      }],
    },
  },
  {
    files: ['harness/usb/**/*.ts', 'harness/dfu/**/*.ts'],
    // Host tests drive the simulator's DfuSe device model (one device model for host and simulator).
    ignores: ['harness/dfu/**/*.test.ts', 'harness/dfu/testing/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/sim/**', '**/rig/**', '**/cli/**', '**/fixtures/**'], message: 'Protocol layers do not know the rig, the simulator or the CLI.' }],
      }],
    },
  },
  {
    files: ['harness/dfu/**/*.test.ts', 'harness/dfu/testing/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/rig/**', '**/cli/**', '**/fixtures/**'], message: 'Host tests may use the simulated bootloader, never the rig or the CLI.' }],
      }],
    },
  },
  {
    // The emulation carries any gadget to libusb programs; its tests (and their shared support in
    // testing/) may use a simulated rig.
    files: ['harness/usb-emulation/**/*.ts'],
    ignores: ['harness/usb-emulation/**/*.test.ts', 'harness/usb-emulation/testing/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/sim/**', '**/rig/**', '**/cli/**', '**/fixtures/**'], message: 'The USB emulation serves UsbGadgets; it does not know the rig, the simulator or the CLI.' }],
      }],
    },
  },
  {
    files: ['specs/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/harness/usb/**', '**/harness/sim/**'], message: 'Specs talk to a Rig and the DFU host through fixtures, never to a transport or the simulator.' }],
        paths: ['usb', 'serialport'].map((name) => ({ name, message: 'Specs never talk to a transport.' })),
      }],
    },
  },
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'allure-report/**', 'allure-results/**', 'firmware-images/build/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-properties': ['error',
        { object: 'it', property: 'only', message: 'Never commit .only.' },
        { object: 'test', property: 'only', message: 'Never commit .only.' },
        { object: 'describe', property: 'only', message: 'Never commit .only.' }],
    },
  },
  ...layerRules,
);
