// Compile-only: the hand-written declarations in src/types.ts describe what src/ implements.
import { forwardCallbacks, latchkeyError, loadLatchkey, optionsKey } from '../src/index';
import { mount, open } from '../src/latchkey';
import type * as Declared from '../src/types';

export const declaredLoader: typeof Declared.loadLatchkey = loadLatchkey;
export const declaredApi: Declared.LatchkeyStatic = { version: '0.0.0', open, mount };
export const declaredGlobal: Declared.LatchkeyStatic | undefined = window.Latchkey;
export const declaredError: typeof Declared.latchkeyError = latchkeyError;
export const declaredForward: typeof Declared.forwardCallbacks = forwardCallbacks;
export const declaredKey: typeof Declared.optionsKey = optionsKey;
