// Whole programs run as child scripts: the seed's programs 2 and 3, and the event-loop (keep-alive) contract.
// Each child must exit on its own, and leave no shared-memory segment behind.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StartMethod } from '../../src/index.js';
import type { SegmentKind } from './queue-suite-local.js';
import { fixture, type RunResult, runScript, segmentsOf } from './util.js';

function assertClean(r: RunResult): void {
  assert.equal(r.signal, null, `killed by ${r.signal} (hung?) after ${Math.round(r.ms)} ms\n${r.stderr}`);
  assert.equal(r.status, 0, `exit ${r.status}\n${r.stderr}`);
  assert.deepEqual(segmentsOf(r.pid), [], 'segments left in /dev/shm by the finished program');
}

export function installScriptSuite(segment: SegmentKind, methods: StartMethod[]): void {
  const env = segment === 'sab' ? { PROCQ_SEGMENT: 'sab' } : {};
  describe(`whole programs (segment: ${segment})`, { concurrency: true }, () => {
    test("the seed's program 2: Queue(3), full(), a 2 s Full, putNowait Full, drain in order", async () => {
      const r = await runScript(fixture('queue-seed-2.js'), [], env);
      assertClean(r);
      assert.equal(
        r.stdout,
        [
          'full: false',
          'full: true',
          'the queue is full, qsize: 3',
          'the queue is full, qsize: 3',
          'message 1',
          'message 2',
          'message 3',
          'put message 4, qsize: 1',
          '',
        ].join('\n'),
      );
      const waited = Number(/waited (\d+) ms/.exec(r.stderr)?.[1]);
      assert.ok(waited >= 1995 && waited < 3500, `the 2 s Full took ${waited} ms`);
    });

    for (const method of methods) {
      test(`the seed's program 3 (${method}): five writes, then five reads in order, nothing lost or twice`, async () => {
        // The seed orders writer and reader with a 1 s sleep: a run where the reader looked before the writer had
        // finished (a child started late on a loaded machine) tests nothing, and is run again (at most 3 times).
        let r: RunResult;
        for (let attempt = 1; ; attempt++) {
          r = await runScript(fixture('queue-seed-3.js'), [method], env);
          const writerDone = Number(/timing: writer done at (\d+)/.exec(r.stderr)?.[1]);
          const readerLooks = Number(/timing: reader looks at (\d+)/.exec(r.stderr)?.[1]);
          if (!(readerLooks < writerDone) || attempt === 3) break;
        }
        assertClean(r);
        const lines = r.stdout.trimEnd().split('\n');
        assert.deepEqual(
          lines,
          [
            'main: start',
            ...[0, 1, 2, 3, 4].map((i) => `wrote: message ${i}`),
            ...[0, 1, 2, 3, 4].map((i) => `read: message ${i}`),
            'main: end (exit codes 0 0, left 0)',
          ],
          r.stderr,
        );
      });
    }

    for (const scenario of ['get-timer', 'getMany-timer', 'put-timer', 'join-timer']) {
      test(`a pending async call keeps the event loop alive (${scenario}), then the process exits`, async () => {
        const r = await runScript(fixture('queue-keepalive.js'), [scenario], env);
        assert.notEqual(r.status, 13, 'exited while the call was still pending (unsettled top-level await)');
        assertClean(r);
        assert.match(r.stdout, /fed by an unref\(\)ed timer|put after room was made: second|joined: true/);
      });
    }

    for (const method of methods) {
      test(`a pending get fed later by a daemon ${method} child keeps the parent alive`, async () => {
        const r = await runScript(fixture('queue-keepalive.js'), ['get-process', method], env);
        assert.notEqual(r.status, 13, 'exited while the get was still pending (unsettled top-level await)');
        assertClean(r);
        assert.equal(r.stdout, 'from a daemon child\n');
      });
    }

    test('holding many queues does not stop the program from starting subprocesses', async () => {
      const r = await runScript(fixture('queue-many.js'), [], env);
      assertClean(r);
      assert.match(r.stdout, /^spawned a subprocess while holding \d+ queues\n$/);
    });

    test('once nothing is pending (resolved, timed out, aborted, shut down), the process exits at once', async () => {
      // A leaked keep-alive handle would hold the process forever: it is killed after 15 s, and fails here.
      const r = await runScript(fixture('queue-keepalive.js'), ['idle'], env, 15_000);
      assertClean(r);
      assert.equal(
        r.stdout,
        'ok x, Empty, Empty, AbortError, Full, AbortError, ShutDown, ok false\n',
        'the outcomes of the calls',
      );
    });
  });
}
