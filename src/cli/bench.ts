/**
 * `procq bench`: the workloads of `bench/README.md` over procq and over every alternative a user would pick
 * instead (a bare shared-memory ring, `postMessage`, `child_process` IPC, CPython's `multiprocessing`), in one
 * run on one machine, printed as one line per case, then the ratios procq / each alternative and the targets
 * of the issues (informative: speed never fails a run). A failed correctness check fails the run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type { Command } from 'commander';

/**
 * The harness lives in `bench/` (compiled to `dist/bench/`), outside the package's `dist/src`: loaded only when the
 * command runs, so the rest of the CLI works where it is not shipped.
 */
async function loadHarness() {
  try {
    const [analysis, python, report, runner] = await Promise.all([
      import('../../bench/analysis.js'),
      import('../../bench/impl/python.js'),
      import('../../bench/report.js'),
      import('../../bench/runner.js'),
    ]);
    return { ...analysis, ...python, ...report, ...runner };
  } catch (e) {
    throw new Error(
      'procq bench needs the benchmark harness (dist/bench, bench/python_baseline.py): run it from a checkout of ' +
        'the procq repository after `npm run build`',
      { cause: e },
    );
  }
}

export interface BenchOptions {
  /** Small counts; finishes in well under a minute (CI). Checks every item, never speed. */
  quick?: boolean;
  /** Print one JSON document on stdout instead of text. */
  json?: boolean;
  /** Write an SVG bar chart of the results to this file. */
  report?: string;
  /** Run only cases whose `"<bench> <impl> <size>"` matches this regular expression. */
  filter?: string;
  /** Run only these workloads (comma-separated: `jobs,startup`; `jobs` selects `jobs-2x2`, …). */
  only?: string;
  /** Busy-looping processes kept running beside every case (issue 7: job farms use every core). @default 0 */
  load?: number | string;
  /** A previous run's `--json` output: print each case's share of its figure there, and its targets beside these. */
  compare?: string;
  /**
   * Rounds over all cases; each case reports its median run (shared machines are noisy, and one round measures
   * procq and its alternatives at different moments). @default 3, or 1 with `quick`
   */
  repeat?: number | string;
}

function machine(pythonVersion: () => string | undefined) {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.platform()} ${os.release()}`,
    node: process.version,
    python: pythonVersion() ?? null,
    /** 1-minute load average when the run started: on a shared machine, what else was running. */
    load_at_start: Number(os.loadavg()[0]!.toFixed(2)),
  };
}

/** Runs the benchmarks; resolves to the exit status (1 when an item was wrong or a case failed). */
export async function runBench(options: BenchOptions = {}): Promise<number> {
  const out = (s = '') => {
    if (!options.json) process.stdout.write(`${s}\n`);
  };
  const { boundingCost, ratios, ratioTables, retention, targets, pythonVersion, renderSvg, runAll } =
    await loadHarness();
  // `procq bench | head`: a closed pipe ends the output, not with a stack trace.
  process.stdout.once('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  const repeat = options.repeat === undefined ? (options.quick ? 1 : 3) : Number(options.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) {
    throw new RangeError(`Expected \`--repeat\` to be an integer from 1 and up, got ${options.repeat}`);
  }
  const load = options.load === undefined ? 0 : Number(options.load);
  if (!Number.isInteger(load) || load < 0) {
    throw new RangeError(`Expected \`--load\` to be an integer from 0 and up, got ${options.load}`);
  }
  const other = options.compare ? readCompared(options.compare) : undefined;
  const only = options.only
    ?.split(',')
    .map((w) => w.trim())
    .filter(Boolean);
  const m = machine(pythonVersion);
  out(
    `# procq bench${options.quick ? ' --quick' : ''}: ${m.cpu}, ${m.cores} cores, ${m.memory_gb} GB, ${m.os}, node ${m.node}` +
      `${m.python ? `, python ${m.python}` : ''}, load ${m.load_at_start} (${m.cores} cores)`,
  );
  if (load) out(`# --load ${load}: ${load} busy-looping process(es) run beside every case`);
  const run = await runAll({
    quick: options.quick ?? false,
    filter: options.filter ? new RegExp(options.filter) : undefined,
    only,
    repeat,
    load,
    onStart: (notes, count, rounds) => {
      for (const note of notes) out(`# note: ${note}`);
      out(
        `# ${count} cases, each run in a fresh process${rounds > 1 ? `, ${rounds} rounds over all cases; each line is the case's median run` : ''}:`,
      );
    },
    onLine: (line) => out(line),
    progress: true,
  });
  const tables = ratioTables(run.results);
  if (tables.length) {
    out();
    for (const l of tables) out(l);
  }
  const cost = boundingCost(run.results);
  if (cost.length) {
    out();
    for (const l of cost) out(l);
  }
  const checks = targets(run.results, { load });
  if (other) {
    const lines = retention(run.results, other.results, other.name);
    if (lines.length) {
      out();
      for (const l of lines) out(l);
    }
  }
  const otherChecks = other ? targets(other.results, { load: other.load }) : [];
  out();
  out(
    `targets (ratios from this run${load ? `, under --load ${load}` : ''}; informative, never failing the run):`,
  );
  for (const t of checks) {
    const o = t.key ? otherChecks.find((c) => c.key === t.key) : undefined;
    out(`${t.status} ${t.text}${o ? `  [${other!.name}: ${o.status} ${o.value}]` : ''}`);
  }
  const failed = run.problems.filter((p) => p.status === 'failed');
  if (failed.length) {
    out();
    for (const p of failed)
      out(`FAILED bench=${p.bench} impl=${p.impl} size=${p.size}: ${p.reason.split('\n')[0]}`);
  }
  if (options.report) {
    writeFileSync(
      options.report,
      renderSvg(
        run.results,
        `procq bench${options.quick ? ' --quick (small counts: not for speed claims)' : ''}`,
      ),
    );
    out(`# chart written to ${options.report}`);
  }
  const loadAtEnd = Number(os.loadavg()[0]!.toFixed(2));
  if (options.json) {
    const doc = {
      machine: m,
      quick: options.quick ?? false,
      repeat,
      load,
      load_at_end: loadAtEnd,
      results: run.results,
      problems: run.problems,
      notes: run.notes,
      ratios: ratios(run.results),
      targets: checks,
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  }
  out(`# load average (1 min) at start ${m.load_at_start}, at end ${loadAtEnd}, on ${m.cores} cores`);
  if (!options.json)
    out(
      failed.length
        ? `# ${failed.length} case(s) FAILED`
        : `# all ${run.results.length} case(s) delivered every item correctly`,
    );
  return failed.length ? 1 : 0;
}

/** A previous `--json` run, named after its load (`quiet`, `load 2`). */
function readCompared(file: string): {
  results: import('../../bench/lib/result.js').CaseResult[];
  load: number;
  name: string;
} {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { results?: unknown; load?: number };
  if (!Array.isArray(doc.results)) throw new TypeError(`${file} is not the --json output of procq bench`);
  const load = doc.load ?? 0;
  return { results: doc.results as never, load, name: load ? `--load ${load} run` : 'quiet run' };
}

/** Adds `procq bench` to the CLI. */
export function registerBenchCommand(program: Command): Command {
  return program
    .command('bench')
    .description(
      'measure procq against postMessage, child_process IPC, CPython multiprocessing and a bare ring',
    )
    .option('--quick', 'small counts, under a minute; checks every delivered item (CI), never speed')
    .option('--json', 'print one JSON document on stdout instead of text')
    .option('--report <file.svg>', 'write a bar chart of the results (SVG)')
    .option('--filter <regex>', 'only cases whose "<bench> <impl> <size>" matches')
    .option(
      '--only <workloads>',
      'only these workloads, comma-separated (jobs, poolmap, spsc-obj, startup, …)',
    )
    .option('--load <n>', 'run every case with n busy-looping processes beside it (default 0)')
    .option(
      '--compare <run.json>',
      "print each case's share of a previous --json run's figure, targets side by side",
    )
    .option('--repeat <n>', 'rounds over all cases; each line is the median run (default 3; 1 with --quick)')
    .action(async (opts: BenchOptions) => {
      process.exitCode = await runBench(opts);
    });
}
