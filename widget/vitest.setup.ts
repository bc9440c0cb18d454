import nodeConsole from 'node:console';

// happy-dom loads no iframe page or script here, and reports each refusal on the console it captured at
// start-up (Node's own, which Vitest's onConsoleLog never sees). Those refusals are expected.
const expected = /(Iframe page|JavaScript file) loading is disabled/;
const printError = nodeConsole.error.bind(nodeConsole);
nodeConsole.error = (...args: unknown[]) => {
  if (expected.test(String(args[0]))) return;
  printError(...args);
};
