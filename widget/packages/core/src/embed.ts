import { installDeclarative } from './declarative';
import { mount, open } from './latchkey';

declare const __VERSION__: string;

// Loaded twice (a script tag and loadLatchkey()), the first copy stays in charge.
if (!window.Latchkey) {
  window.Latchkey = { version: __VERSION__, open, mount };
  installDeclarative();
}
