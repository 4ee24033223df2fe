// Seed program 1: processes do not share globals.
// Each child starts from its own fresh copy of this module, so what a child does to `counter` is never seen by
// the parent or by the other child. Run: node dist/examples/01-separate-memory.js
import { isMainProcess, Process } from '../src/index.js';

let counter = 100;

export function addFifty(): void {
  counter += 50;
  console.log(`child 1: counter = ${counter}`); // 150
}

export function subtractFifty(): void {
  counter -= 50;
  console.log(`child 2: counter = ${counter}`); // 50
}

if (isMainProcess()) {
  console.log('main: start');
  console.log(`main: counter = ${counter}`);
  const p1 = new Process({ target: addFifty });
  const p2 = new Process({ target: subtractFifty });
  p1.start();
  await p1.join(); // one after the other, so the output reads in order
  p2.start();
  await p2.join();
  console.log(`main: counter = ${counter} (unchanged: each child changed its own copy)`);
  console.log('main: end');
}
