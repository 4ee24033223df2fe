// SharedMemory and ShareableList: CPython's _TestSharedMemory, ported, in both start methods where a child is
// involved; plus the byte layout against Python's own ShareableList (when python3 is installed).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';
import { activeChildren, Event, Process, Queue, type StartMethod } from '../src/index.js';
import { loadNative } from '../src/native/index.js';
import { ShareableList, SharedMemory } from '../src/shared-memory/index.js';
import { PROCESS_METHOD } from './helpers/util.js';

const TARGETS = new URL('./fixtures/shared-memory-targets.js', import.meta.url);
const noNative = loadNative() === null && 'SharedMemory needs the native addon';
const canSpawn = loadNative() !== null && process.env.PROCQ_SEGMENT !== 'sab';
const hasPython =
  spawnSync('python3', ['-c', 'import multiprocessing.shared_memory'], { stdio: 'ignore' }).status === 0;

afterEach(async () => {
  const left = activeChildren();
  for (const p of left) p.kill();
  await Promise.all(left.map((p) => p.join()));
  assert.deepEqual(
    left.map((p) => p.name),
    [],
    'a test left children running',
  );
});

const uniqueName = (prefix: string) => `${prefix}${process.pid}_${Math.random().toString(16).slice(2, 8)}`;
const exists = (name: string) => existsSync(`/dev/shm/${name}`);

describe('_TestSharedMemory', { skip: noNative }, () => {
  test('test_shared_memory_basics', () => {
    const name = uniqueName('test01_tsmb');
    const sms = new SharedMemory({ name, create: true, size: 512 });
    try {
      assert.equal(sms.name, name);
      assert.ok(sms.size >= 512);
      assert.ok(sms.buf.length >= sms.size);
      assert.match(String(sms), new RegExp(name));
      assert.match(String(sms), /512/);
      sms.buf[0] = 42;
      assert.equal(sms.buf[0], 42);

      const also = new SharedMemory({ name });
      assert.equal(also.buf[0], 42);
      also.close();

      const same = new SharedMemory({ name, size: 20 * sms.size });
      assert.ok(same.size < 20 * sms.size, 'size is ignored when attaching');
      same.close();

      assert.throws(() => new SharedMemory({ create: true, size: -2 }), RangeError);
      assert.throws(() => new SharedMemory({ create: false }), TypeError);

      // Posix shared memory can only be unlinked once.
      const dbl = uniqueName('test01_dblunlink');
      const uno = new SharedMemory({ name: dbl, create: true, size: 5000 });
      assert.ok(uno.size >= 5000);
      const duo = new SharedMemory({ name: dbl });
      duo.unlink();
      duo.close();
      uno.close();
      assert.throws(() => uno.unlink(), { code: 'ENOENT' });

      assert.throws(() => new SharedMemory({ name, create: true, size: 512 }), { code: 'EEXIST' });
      assert.throws(() => new SharedMemory({ name: 'test01_notthere' }), { code: 'ENOENT' });
      sms.close();
      assert.throws(() => sms.buf, TypeError);
    } finally {
      sms.unlink();
    }
    assert.equal(exists(name), false);
  });

  test('test_invalid_shared_memory_cration', () => {
    assert.throws(() => new SharedMemory({ create: true, size: -1 }), RangeError);
    assert.throws(() => new SharedMemory({ create: true, size: 0 }), RangeError);
    assert.throws(() => new SharedMemory({ create: true }), RangeError);
    assert.throws(() => new SharedMemory({ name: 'a/b' }), TypeError);
  });

  test('default names are unique, and the block is zero-filled', () => {
    const a = new SharedMemory({ create: true, size: 3 });
    const b = new SharedMemory({ create: true, size: 3 });
    try {
      assert.notEqual(a.name, b.name);
      assert.equal(a.size, 3);
      assert.deepEqual([...a.buf], [0, 0, 0]);
    } finally {
      a.unlink();
      b.unlink();
    }
  });

  test('test_shared_memory_pickle_unpickle: a block travels through a queue by name, same bytes', async () => {
    const sms = new SharedMemory({ create: true, size: 512 });
    const q = new Queue<SharedMemory>();
    try {
      sms.buf.set(Buffer.from('pickle'));
      await q.put(sms);
      const sms2 = await q.get();
      assert.ok(sms2 instanceof SharedMemory);
      assert.notEqual(sms2, sms);
      assert.equal(sms2.name, sms.name);
      assert.equal(Buffer.from(sms2.buf.subarray(0, 6)).toString(), 'pickle');
      sms.buf.set(Buffer.from('newval'));
      assert.equal(Buffer.from(sms2.buf.subarray(0, 6)).toString(), 'newval');
      sms2.buf.set(Buffer.from('oldval'));
      assert.equal(Buffer.from(sms.buf.subarray(0, 6)).toString(), 'oldval');
    } finally {
      sms.unlink();
    }
  });

  test('test_shared_memory_pickle_unpickle_dead_object', async () => {
    const sms = new SharedMemory({ create: true, size: 512 });
    const q = new Queue<SharedMemory>();
    await q.put(sms);
    sms.close();
    sms.unlink();
    await assert.rejects(q.get(), { code: 'ENOENT' });
  });

  for (const startMethod of [PROCESS_METHOD, 'thread'] as StartMethod[]) {
    const skip = startMethod !== 'thread' && !canSpawn && 'spawn needs the native addon';
    test(`test_shared_memory_across_processes (${startMethod})`, { skip }, async () => {
      const sms = new SharedMemory({ create: true, size: 512 });
      try {
        let p = new Process({
          target: 'attachThenWrite',
          module: TARGETS,
          args: [sms.name, Buffer.from('howdy')],
          startMethod,
        });
        p.start();
        await p.join();
        assert.equal(p.exitCode, 0);
        assert.equal(Buffer.from(sms.buf.subarray(0, 5)).toString(), 'howdy');
        p = new Process({
          target: 'attachThenWrite',
          module: TARGETS,
          args: [sms, Buffer.from('HELLO')],
          startMethod,
        });
        p.start();
        await p.join();
        assert.equal(p.exitCode, 0);
        assert.equal(Buffer.from(sms.buf.subarray(0, 5)).toString(), 'HELLO');
      } finally {
        sms.unlink();
      }
    });

    test(`ShareableList passed in args is the same list (${startMethod})`, { skip }, async () => {
      const sl = new ShareableList(['aaaaaaaa', 1, null]);
      try {
        const p = new Process({
          target: 'setItems',
          module: TARGETS,
          args: [sl, 0, 'from kid'],
          startMethod,
        });
        p.start();
        await p.join();
        assert.equal(p.exitCode, 0);
        assert.deepEqual([...sl], ['from kid', 1, 'child']);
      } finally {
        sl.shm.unlink();
      }
    });
  }

  test('a block its creator never unlinked is unlinked when the creator exits (spawn)', {
    skip: !canSpawn && 'needs spawn',
  }, async () => {
    const names = new Queue<string>();
    const p = new Process({
      target: 'createAndReturn',
      module: TARGETS,
      args: [names],
      startMethod: 'spawn',
    });
    p.start();
    const name = await names.get({ timeout: 30_000 });
    await p.join();
    assert.equal(p.exitCode, 0);
    assert.equal(exists(name), false, 'the resource tracker role: unlinked at exit');
  });

  test('test_shared_memory_cleaned_after_process_termination (spawn)', {
    skip: !canSpawn && 'needs spawn',
  }, async () => {
    const names = new Queue<string>();
    const p = new Process({
      target: 'createAndHang',
      module: TARGETS,
      args: [names, new Event()],
      startMethod: 'spawn',
    });
    p.start();
    const name = await names.get({ timeout: 30_000 });
    assert.equal(exists(name), true);
    p.terminate();
    await p.join();
    assert.equal(exists(name), false, 'a SharedMemory block was leaked after its creator was terminated');
    assert.throws(() => new SharedMemory({ name }), { code: 'ENOENT' });
  });

  test('test_shared_memory_ShareableList_basics', () => {
    const sl = new ShareableList(['howdy', Buffer.from('HoWdY'), -273.154, 100, null, true, 42]);
    try {
      assert.ok(String(sl).includes(sl.shm.name));
      assert.throws(() => sl.get(7), RangeError);
      assert.throws(() => sl.set(7, 2), RangeError);
      sl.set(0, 'howdy');
      assert.equal(sl.format, '8s8sdqxxxxxx?xxxxxxxx?q');
      assert.equal(sl.length, 7);
      assert.throws(() => sl.index('100'), RangeError);
      assert.equal(sl.index(100), 3);
      assert.equal(sl.get(0), 'howdy');
      assert.equal(sl.get(-2), true);
      assert.equal(sl.at(-1), 42);
      assert.deepEqual([...sl], ['howdy', Buffer.from('HoWdY'), -273.154, 100, null, true, 42]);

      sl.set(3, 42);
      assert.equal(sl.get(3), 42);
      sl.set(4, 'some');
      assert.equal(sl.get(4), 'some');
      assert.equal(sl.format, '8s8sdq8sxxxxxxx?q');
      assert.throws(() => sl.set(4, 'far too many'), /exceeds available storage/);
      assert.equal(sl.get(4), 'some');
      sl.set(0, 'encodés'); // exactly 8 bytes of UTF-8
      assert.equal(sl.get(0), 'encodés');
      assert.deepEqual(sl.get(1), Buffer.from('HoWdY'));
      assert.throws(() => sl.set(0, 'encodées'), /exceeds available storage/);
      assert.throws(() => sl.set(1, Buffer.from('123456789')), /exceeds available storage/);
      assert.deepEqual(sl.get(1), Buffer.from('HoWdY'));

      assert.equal(sl.count(42), 2);
      assert.equal(sl.count(Buffer.from('HoWdY')), 1);
      assert.equal(sl.count(Buffer.from('adios')), 0);

      const dupName = uniqueName('test03_duplicate');
      const copy = new ShareableList(sl, { name: dupName });
      try {
        assert.equal(copy.shm.name, dupName);
        assert.deepEqual([...copy], [...sl]);
        assert.equal(copy.format, sl.format);
        copy.set(-1, 77);
        assert.equal(copy.get(-1), 77);
        assert.notEqual(sl.get(-1), 77);
      } finally {
        copy.shm.unlink();
      }

      const tethered = new ShareableList(null, { name: sl.shm.name });
      tethered.set(-1, 880);
      assert.equal(sl.get(-1), 880);
      tethered.shm.close();

      const empty = new ShareableList();
      try {
        assert.equal(empty.length, 0);
        assert.equal(empty.format, '');
        assert.equal(empty.count('any'), 0);
        assert.throws(() => empty.index(null), RangeError);
      } finally {
        empty.shm.unlink();
      }
    } finally {
      sl.shm.unlink();
    }
  });

  test('ShareableList: bigint, int64 limits, bad types', () => {
    const sl = new ShareableList([2n ** 62n, -(2n ** 63n), 1.5, false]);
    try {
      assert.equal(sl.get(0), 2n ** 62n);
      assert.equal(sl.get(1), -(2n ** 63n));
      assert.equal(sl.get(3), false);
      assert.equal(sl.format, 'qqdxxxxxxx?');
      assert.throws(() => sl.set(0, 2n ** 63n), RangeError);
      assert.throws(() => sl.set(0, {} as never), TypeError);
      assert.throws(() => new ShareableList([[1] as never]), TypeError);
    } finally {
      sl.shm.unlink();
    }
  });

  test('test_shared_memory_ShareableList_pickling (through a queue)', async () => {
    const sl = new ShareableList(Array.from({ length: 10 }, (_, i) => i));
    const q = new Queue<ShareableList>();
    try {
      await q.put(sl);
      const other = await q.get();
      assert.notEqual(other, sl);
      assert.equal(other.get(-1), 9);
      other.set(4, 'changed');
      assert.equal(sl.get(4), 'changed');
      sl.set(3, 'newvalue');
      assert.equal(other.get(3), 'newvalue');
    } finally {
      sl.shm.unlink();
    }
  });

  test("the byte layout is Python's: a list made here reads in Python, and back", {
    skip: !hasPython && 'python3 not installed',
  }, () => {
    const sl = new ShareableList(['howdy', Buffer.from('HoWdY'), -273.154, 100, null, true, 42n ** 10n]);
    try {
      const py = spawnSync(
        'python3',
        [
          '-c',
          `import sys
from multiprocessing import shared_memory, resource_tracker
sl = shared_memory.ShareableList(name=sys.argv[1])
print(repr(list(sl)), sl.format)
sl[0] = 'python'
sl[3] = 1.25
resource_tracker.unregister(sl.shm._name, 'shared_memory')`,
          sl.shm.name,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(py.status, 0, py.stderr);
      assert.equal(
        py.stdout.trim(),
        `['howdy', b'HoWdY', -273.154, 100, None, True, ${42n ** 10n}] 8s8sdqxxxxxx?xxxxxxxx?q`,
      );
      assert.equal(sl.get(0), 'python');
      assert.equal(sl.get(3), 1.25);
    } finally {
      sl.shm.unlink();
    }
  });
});
