// Compiled (never run) by test/types.test.ts with `tsc --noEmit --strict` against the built package ('procq'
// resolves to dist/src/index.d.ts, the published types). Every `@ts-expect-error` line must be an error: tsc fails
// on one that is not. The other lines must compile.
import {
  getContext,
  JoinableQueue,
  type JoinableQueueLike,
  type Pool,
  Process,
  Queue,
  type QueueLike,
  type RedisJoinableQueue,
  type RedisQueue,
  SharedArray,
  SimpleQueue,
  Value,
} from 'procq';

export function greet(who: string, times: number): void {
  console.log(who.repeat(times));
}
export async function consume(q: Queue<number>, limit?: number): Promise<void> {
  await q.get({ timeout: limit });
}
export function noArgs(): void {}

// Process: `args` is checked against the target's parameters.
new Process({ target: greet, args: ['world', 2] });
// @ts-expect-error a wrong type
new Process({ target: greet, args: ['wrong', '42'] });
// @ts-expect-error one argument too many
new Process({ target: greet, args: ['world', 2, 'extra'] });
// @ts-expect-error one argument missing
new Process({ target: greet, args: ['world'] });
// @ts-expect-error the target takes arguments, none given
new Process({ target: greet });
new Process({ target: noArgs });
new Process({ target: consume, args: [new Queue<number>()] });
new Process({ target: consume, args: [new Queue<number>(), 100] });
// @ts-expect-error a queue of strings for a queue of numbers
new Process({ target: consume, args: [new Queue<string>()] });
// A target named by its export: anything goes (checked when the child imports it).
new Process({ target: 'greet', module: './api.js', args: [1, 2, 3] });
const anyProcess: Process = new Process({ target: greet, args: ['a', 1] });
void anyProcess;

// Pool keeps checking its functions' arguments.
declare const pool: Pool;
void pool.apply(greet, ['x', 1]);
// @ts-expect-error a wrong type
void pool.apply(greet, ['x', 'y']);

// Queues are Disposable and AsyncDisposable.
{
  using q = new Queue<number>();
  using j = new JoinableQueue<string>(10);
  using s = new SimpleQueue();
  q.putNowait(1);
  j.putNowait('x');
  s.putNowait(null);
}
export async function scoped(): Promise<void> {
  await using q = new Queue<number>();
  await q.put(1);
}

// One contract for both transports.
const local: QueueLike<number> = new Queue<number>();
declare const remote: RedisQueue<number>;
declare const remoteJoinable: RedisJoinableQueue<number>;
const contract: QueueLike<number>[] = [local, remote];
const joinables: JoinableQueueLike<number>[] = [new JoinableQueue<number>(), remoteJoinable];
void contract;
void joinables;
// @ts-expect-error a queue of strings is not a queue of numbers
const mismatched: QueueLike<number> = new Queue<string>();
void mismatched;

// Value: the typecode decides the value's type.
const i = new Value('i', 1);
const n: number = i.value;
i.value = 2;
const q = new Value('q', 1n);
const b: bigint = q.value;
q.value = 5n;
q.value = 5;
void n;
void b;
// @ts-expect-error a 64-bit typecode holds a bigint, not a number
const notNumber: number = q.value;
void notNumber;
// @ts-expect-error an integer typecode does not take 1.5
new Value('i', 1.5);
// @ts-expect-error nor does a 64-bit one
new Value('Q', 2.5);
// @ts-expect-error a string is not a number
new Value('i', 'x');
// @ts-expect-error a bigint for a float typecode
new Value('d', 1n);
// @ts-expect-error an unknown typecode
new Value('c', 1);
new Value('d', 1.5);
new Value('f', -0.25);
new Value('B', 255);
// @ts-expect-error a string for an integer typecode
i.value = '1';
const arr = new SharedArray('Q', 3);
const first: bigint = arr.get(0);
void first;

// Internals are not in the published types.
// @ts-expect-error `_engine` is internal
void new Queue()._engine;

// A context's Process checks its arguments the same way.
const threads = getContext('thread');
new threads.Process({ target: greet, args: ['x', 1] });
// @ts-expect-error a wrong type, through a context
new threads.Process({ target: greet, args: [1, 1] });
