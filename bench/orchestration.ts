/**
 * npm run bench:orchestration — the engine's own cost per node on BullMQ: a synthetic graph of 50
 * no-op assets (6 levels, diamonds) materialized through the real worker (startWorker, one process,
 * concurrency 1, job logs on as users run it), against the floor measured in the same run: 50
 * BullMQ jobs processed back to back by a bare Worker (concurrency 1) that each commit one row to
 * Postgres — the least any engine keeping a durable record per node does. Targets: the graph in
 * ≤ 3× those jobs, and under 150 ms.
 *
 * Everything runs in this one process (no CLI start-up in the figures). The graph is timed from
 * launchRun until the run is 'succeeded' in Postgres: the asset worker's own 'completed' event
 * (the same signal the baseline is timed by) counts the 50 jobs — a job completes only after its
 * node's completion committed, and the last completion settles the run — and then one read of
 * runs.status confirms it, inside the time. Nothing polls Postgres or Redis while a run is going.
 * Also shown, without targets: the graph at concurrency 4, plain no-op bare jobs, and where the
 * time of a node goes (instrumented rounds after the timed ones).
 */
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { DEFAULT_REDIS_URL } from '../cli/config.ts';
import { type AssetDefinition, defineAsset } from '../engine/asset.ts';
import { type Database, openDatabase } from '../engine/database.ts';
import { launchRun } from '../engine/executor.ts';
import { AssetGraph } from '../engine/graph.ts';
import { createLogger } from '../engine/logger.ts';
import { planRun } from '../engine/plan.ts';
import { RunStore } from '../engine/run-store.ts';
import { BullMqExecutor } from '../queues/bullmq-executor.ts';
import { connectRedis, redisOptions } from '../queues/connection.ts';
import { openQueues, type PipelineQueues } from '../queues/queues.ts';
import { type RunningWorker, startWorker } from '../workers/worker.ts';
import { freshDatabase, median, saveResult } from './support.ts';

const ROUNDS = Number(process.env.BENCH_RUNS ?? 5); // timed rounds of each, medians
const PROFILED_ROUNDS = Number(process.env.BENCH_PROFILE_RUNS ?? 3); // instrumented, after the timed ones
const REDIS_URL = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
// As users run workers: every info line to the worker's output (here /dev/null) and to the job's
// log in Redis (BENCH_LOG_LEVEL=warn measures without them).
const LOG_LEVEL = (process.env.BENCH_LOG_LEVEL ?? 'info') as 'warn' | 'info';
const TARGET_RATIO = 3;
const TARGET_MS = 150;
const TIMEOUT_MS = 60_000;
const PREFIX = `bench-${randomUUID()}`;
const BARE_QUEUE = 'bare';

// ---------------------------------------------------------------------------------------------
// The synthetic graph: 50 unpartitioned no-op assets in 6 levels. Each asset of level ≥ 2 depends
// on 2 (the last level: 3) neighbouring assets of the level above, so paths fork and join again
// (diamonds) all the way down; every asset of a level feeds the next one.
const LEVELS = [1, 7, 12, 14, 12, 4];

function noOpGraph(): AssetGraph {
  const definitions: AssetDefinition[] = [];
  let above: string[] = [];
  LEVELS.forEach((size, level) => {
    const keys = Array.from({ length: size }, (_, j) => `l${level}_${String(j).padStart(2, '0')}`);
    keys.forEach((key, j) => {
      const width = Math.max(2, Math.ceil(above.length / size));
      const start = Math.floor((j * above.length) / size);
      const deps = [...new Set(Array.from({ length: width }, (_, d) => above[(start + d) % above.length]))];
      definitions.push(
        defineAsset({
          key,
          group: `level_${level}`,
          description: `no-op asset ${key} (level ${level})`,
          deps: deps.filter((dep): dep is string => dep !== undefined),
          materialize: async () => ({ rowCount: 0 }),
        }),
      );
    });
    above = keys;
  });
  return new AssetGraph(definitions);
}

const graph = noOpGraph();
const plan = planRun(graph, graph.keys);
const NODES = plan.nodes.length;
const edges = plan.nodes.reduce((sum, node) => sum + node.upstream.length, 0);
const joins = plan.nodes.filter((node) => node.upstream.length >= 2).length;
if (NODES !== 50) throw new Error(`the synthetic graph has ${NODES} nodes, not 50`);

// ---------------------------------------------------------------------------------------------
// Services: a fresh database, the producer's side (its own pool and Redis client, as the CLI has),
// two asset workers (concurrency 1 and 4, each on its own prefix so they never share jobs) and
// the bare worker of the baseline.
const loadBefore = loadavg()[0] ?? 0;
const url = await freshDatabase('pipeline_bench_orchestration');
const logger = createLogger(LOG_LEVEL);
const producer = await openDatabase(url, { max: 2, applicationName: 'bench-producer' });
const producerStore = new RunStore(producer.sql);
const producerRedis = await connectRedis(REDIS_URL);

type GraphSetup = {
  concurrency: number;
  prefix: string;
  database: Database;
  worker: RunningWorker;
  queues: PipelineQueues;
};

async function startGraphWorker(concurrency: number): Promise<GraphSetup> {
  const prefix = `${PREFIX}-c${concurrency}`;
  // As `pipeline worker` sizes it: one connection per running job, a few for the run store.
  const database = await openDatabase(url, { max: concurrency + 3, applicationName: 'bench-worker' });
  const worker = startWorker({
    graph,
    database,
    configFor: () => undefined,
    redisUrl: REDIS_URL,
    prefix,
    concurrency,
    logger,
    output: pino.destination('/dev/null'),
  });
  await worker.assets.waitUntilReady();
  await worker.ticks.waitUntilReady();
  return { concurrency, prefix, database, worker, queues: openQueues(producerRedis, prefix) };
}

const serial = await startGraphWorker(1);
// `pipeline worker`'s default concurrency.
const parallel = await startGraphWorker(2);

type BareSetup = { queue: Queue; worker: Worker; connection: Redis };

/** A bare BullMQ worker on its own prefix and connection, as startWorker's has. */
async function startBareWorker(
  name: string,
  processor: (job: Job) => Promise<void>,
  concurrency = 1,
): Promise<BareSetup> {
  const prefix = `${PREFIX}-${name}`;
  const connection = new Redis(REDIS_URL, redisOptions('worker'));
  const queue = new Queue(BARE_QUEUE, { connection: producerRedis, prefix });
  const worker = new Worker(BARE_QUEUE, processor, { connection, prefix, concurrency });
  await worker.waitUntilReady();
  return { queue, worker, connection };
}

// For scale (no target): a no-op processor.
const bareSetup = await startBareWorker('bare', async () => {});
// The baseline: the same jobs each committing one row to Postgres, i.e. the floor of any engine
// that keeps a durable record per node (one WAL flush each); at concurrency 1 and 2 like the graph.
const floorDatabase = await openDatabase(url, { max: 2, applicationName: 'bench-floor' });
await floorDatabase.sql`create table bench_floor (i int not null, at timestamptz not null default now())`;
const commitRow = async (job: Job) => {
  await floorDatabase.sql`insert into bench_floor (i) values (${(job.data as { i: number }).i})`;
};
const durableSetup = await startBareWorker('durable', commitRow);
const durable2Setup = await startBareWorker('durable2', commitRow, 2);

/** Resolves at the `count`-th 'completed' event of the worker; rejects on a failed job or timeout. */
function completions<T>(worker: Worker<T>, count: number, onEach?: (job: Job<T>) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let completed = 0;
    const finish = (error?: Error) => {
      clearTimeout(timer);
      worker.off('completed', onCompleted);
      worker.off('failed', onFailed);
      error ? reject(error) : resolve();
    };
    const onCompleted = (job: Job<T>) => {
      onEach?.(job);
      if (++completed === count) finish();
    };
    const onFailed = (job: Job<T> | undefined, error: Error) =>
      finish(new Error(`job ${job?.name} failed: ${error.message}`));
    const timer = setTimeout(
      () => finish(new Error(`only ${completed} of ${count} jobs completed in ${TIMEOUT_MS} ms`)),
      TIMEOUT_MS,
    );
    worker.on('completed', onCompleted);
    worker.on('failed', onFailed);
  });
}

/** 50 plain jobs, added at once, processed back to back by a bare worker. */
async function bareRound(setup: BareSetup = bareSetup): Promise<number> {
  const done = completions(setup.worker, NODES);
  const started = performance.now();
  await setup.queue.addBulk(Array.from({ length: NODES }, (_, i) => ({ name: `job-${i}`, data: { i } })));
  await done;
  return performance.now() - started;
}

type GraphRound = { ms: number; runId: string };

/** The graph: launchRun until the run is 'succeeded' in Postgres. */
async function graphRound(setup: GraphSetup): Promise<GraphRound> {
  const runIds = new Set<string>();
  const done = completions(setup.worker.assets, NODES, (job) => runIds.add(job.data.runId));
  const started = performance.now();
  const { runId } = await launchRun(producerStore, new BullMqExecutor(setup.queues.assets, graph), {
    plan,
    trigger: 'cli',
    selection: 'bench:orchestration',
  });
  await done;
  const [row] = await producer.sql<{ status: string }[]>`select status from runs where id = ${runId}`;
  const ms = performance.now() - started;
  if (row?.status !== 'succeeded' || runIds.size !== 1 || !runIds.has(runId)) {
    throw new Error(`run ${runId} is ${row?.status} after its ${NODES} jobs (runs seen: ${[...runIds]})`);
  }
  return { ms, runId };
}

/** A quiet moment between measurements: the worker back to waiting, pending writes flushed. */
const settle = () => sleep(50);

// One warm-up round of each (not counted), then rounds alternating which goes first, so the noise
// of a shared machine falls on both alike.
await bareRound();
await settle();
await bareRound(durableSetup);
await settle();
await bareRound(durable2Setup);
await settle();
await graphRound(serial);
await settle();
await graphRound(parallel);
await settle();
const bare: number[] = [];
const durable: number[] = [];
const durable2: number[] = [];
const serialRuns: GraphRound[] = [];
const parallelRuns: GraphRound[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const pairs = [
    [
      async () => durable.push(await bareRound(durableSetup)),
      async () => serialRuns.push(await graphRound(serial)),
    ],
    [
      async () => durable2.push(await bareRound(durable2Setup)),
      async () => parallelRuns.push(await graphRound(parallel)),
    ],
  ];
  for (const steps of pairs) {
    if (round % 2 === 1) steps.reverse();
    for (const step of steps) {
      await step();
      await settle();
    }
  }
  bare.push(await bareRound());
  await settle();
}

// The runs' own wall time as Postgres recorded it (runs.created_at → finished_at).
const recorded = async (runs: GraphRound[]) =>
  median(
    (
      await producer.sql<{ ms: number }[]>`
        select extract(epoch from finished_at - created_at)::float8 * 1000 as ms
        from runs where id in ${producer.sql(runs.map((run) => run.runId))}`
    ).map((row) => row.ms),
  );
const serialRecordedMs = await recorded(serialRuns);
const parallelRecordedMs = await recorded(parallelRuns);

// ---------------------------------------------------------------------------------------------
// Where the time goes, per node (instrumented rounds on the concurrency-1 worker, after the timed
// ones; the wrappers add a little of their own): each RunStore call of the worker, the node's
// materialization transaction, the job's Redis calls, and BullMQ's completion of the job.
const profile = new Map<string, { ms: number; calls: number }>();
const add = (step: string, ms: number) => {
  const entry = profile.get(step) ?? { ms: 0, calls: 0 };
  entry.ms += ms;
  entry.calls += 1;
  profile.set(step, entry);
};
let profiling = false;
let storeDepth = 0;
let queries = 0;
/** Commits that wrote (update/insert/delete or a row lock): each waits for a WAL flush. */
let writingCommits = 0;

function timed<T extends object>(
  target: T,
  method: keyof T & string,
  step: string,
  applies: (self: unknown) => boolean,
) {
  const original = target[method] as (...args: unknown[]) => Promise<unknown>;
  (target as Record<string, unknown>)[method] = async function (this: unknown, ...args: unknown[]) {
    if (!profiling || !applies(this)) return original.apply(this, args);
    const started = performance.now();
    try {
      return await original.apply(this, args);
    } finally {
      add(step, performance.now() - started);
    }
  };
}

const ofWorker = (self: unknown) => self !== producerStore;
for (const method of ['startNode', 'completeNode', 'failNode', 'queuedNodes'] as const) {
  const original = RunStore.prototype[method] as (...args: unknown[]) => Promise<unknown>;
  (RunStore.prototype as unknown as Record<string, unknown>)[method] = async function (
    this: RunStore,
    ...args: unknown[]
  ) {
    storeDepth++;
    try {
      return await original.apply(this, args);
    } finally {
      storeDepth--;
    }
  };
  timed(RunStore.prototype, method, `store.${method}`, ofWorker);
}
// The node's own transaction (begin, advisory lock, the no-op, its completion, commit): the worker
// pool's begin() outside any RunStore call (completeNode is timed inside it as well).
const begin = serial.database.sql.begin.bind(serial.database.sql);
serial.database.sql.begin = (async (...args: unknown[]) => {
  if (!profiling || storeDepth > 0) return (begin as (...a: unknown[]) => Promise<unknown>)(...args);
  const started = performance.now();
  try {
    return await (begin as (...a: unknown[]) => Promise<unknown>)(...args);
  } finally {
    add('materializeNode transaction', performance.now() - started);
  }
}) as typeof begin;
// Statements on the worker's pool, and which commits wrote (its transactions run one at a time).
let inTransaction = false;
let wrote = false;
serial.database.sql.options.debug = (_connection: number, statement: string) => {
  if (!profiling) return;
  queries++;
  const text = statement.trim().toLowerCase();
  const writes = /^(update|insert|delete|with)\b/.test(text) || /\bfor update\b/.test(text);
  if (text === 'begin') {
    inTransaction = true;
    wrote = false;
  } else if (text === 'commit') {
    if (wrote) writingCommits++;
    inTransaction = false;
  } else if (writes) {
    if (inTransaction) wrote = true;
    else writingCommits++;
  }
};
timed(Job.prototype, 'log', 'job.log (Redis, sent together at the end)', () => true);
timed(Job.prototype, 'moveToCompleted', 'BullMQ moveToCompleted + fetch next', () => true);
timed(Queue.prototype, 'addBulk', 'enqueue ready nodes (addBulk)', (self) => self !== serial.queues.assets);
timed(Queue.prototype, 'add', 'enqueue one ready node (add)', (self) => self !== serial.queues.assets);

// The processor's wall time: from the job's 'active' event to its moveToCompleted.
let activeAt = 0;
const onActive = () => {
  activeAt = performance.now();
};
const moveToCompleted = Job.prototype.moveToCompleted;
Job.prototype.moveToCompleted = function (this: Job, ...args: Parameters<Job['moveToCompleted']>) {
  if (profiling && activeAt > 0) add('processor (all of it)', performance.now() - activeAt);
  return moveToCompleted.apply(this, args);
};
serial.worker.assets.on('active', onActive);

const profiledMs: number[] = [];
let startMs = 0;
for (let round = 0; round < PROFILED_ROUNDS; round++) {
  profiling = true;
  const started = performance.now();
  const done = completions(serial.worker.assets, NODES);
  await launchRun(producerStore, new BullMqExecutor(serial.queues.assets, graph), {
    plan,
    trigger: 'cli',
    selection: 'bench:orchestration (profiled)',
  });
  startMs += performance.now() - started;
  await done;
  profiledMs.push(performance.now() - started);
  profiling = false;
  activeAt = 0;
  await settle();
}
serial.worker.assets.off('active', onActive);
const perNode = (ms: number) => ms / (NODES * PROFILED_ROUNDS);

// One PostgreSQL round trip on the worker's pool, for scale.
const pings: number[] = [];
for (let i = 0; i < 200; i++) {
  const started = performance.now();
  await serial.database.sql`select 1`;
  pings.push(performance.now() - started);
}
const pingMs = median(pings);
const redisPings: number[] = [];
for (let i = 0; i < 200; i++) {
  const started = performance.now();
  await producerRedis.ping();
  redisPings.push(performance.now() - started);
}
const redisPingMs = median(redisPings);

// ---------------------------------------------------------------------------------------------
// Clean up: stop the workers, obliterate every queue of this run's prefixes, check nothing is left.
await serial.worker.close();
await parallel.worker.close();
for (const setup of [bareSetup, durableSetup, durable2Setup]) {
  await setup.worker.close();
  setup.connection.disconnect();
  await setup.queue.obliterate({ force: true });
  await setup.queue.close();
}
for (const setup of [serial, parallel]) {
  await setup.queues.assets.obliterate({ force: true });
  await setup.queues.schedule.obliterate({ force: true });
  await setup.queues.close();
}
let leftover = 0;
for (let cursor = '0'; ; ) {
  const [next, keys] = await producerRedis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
  if (keys.length > 0) leftover += await producerRedis.del(...keys);
  cursor = next;
  if (cursor === '0') break;
}
producerRedis.disconnect();
for (const database of [producer, floorDatabase, serial.database, parallel.database]) await database.close();

// ---------------------------------------------------------------------------------------------
const loadAfter = loadavg()[0] ?? 0;
const bareMs = median(bare);
const durableMs = median(durable);
const durable2Ms = median(durable2);
const serialMs = median(serialRuns.map((run) => run.ms));
const parallelMs = median(parallelRuns.map((run) => run.ms));
const ratio = serialMs / durableMs;
const ratio2 = parallelMs / durable2Ms;
const ratioMet = ratio <= TARGET_RATIO;
const timeMet = serialMs < TARGET_MS;
const ratio2Met = ratio2 <= TARGET_RATIO;
const time2Met = parallelMs < TARGET_MS;
const ms = (value: number) => `${value.toFixed(1)} ms`;
const verdict = (met: boolean) => (met ? 'MET' : 'MISSED');
const list = (values: number[]) => values.map((v) => v.toFixed(1)).join(', ');

console.log(
  `orchestration: ${NODES} no-op assets in ${LEVELS.length} levels (${LEVELS.join(' + ')}), ${edges} edges, ` +
    `${joins} join nodes (diamonds); medians of ${ROUNDS} rounds after a warm-up; job log level ${LOG_LEVEL}`,
);
console.log(
  `  (a) baseline: ${NODES} BullMQ jobs, bare Worker, concurrency 1, each committing one row  ${ms(durableMs)}` +
    `  (${ms(durableMs / NODES)} per job)`,
);
console.log(
  `  (b) the graph through startWorker, concurrency 1, launchRun → run 'succeeded'      ${ms(serialMs)}` +
    `  (${ms(serialMs / NODES)} per node; Postgres created_at → finished_at ${ms(serialRecordedMs)})`,
);
console.log(
  `  (a2) the baseline at concurrency 2 (\`pipeline worker\`'s default)                    ${ms(durable2Ms)}`,
);
console.log(
  `  (b2) the graph at concurrency 2                                                     ${ms(parallelMs)}` +
    `  (Postgres ${ms(parallelRecordedMs)})`,
);
console.log(
  `      for scale: plain no-op BullMQ jobs, concurrency 1 (extra)                      ${ms(bareMs)}` +
    `  ((b) is ${(serialMs / bareMs).toFixed(2)}× this)`,
);
console.log(
  `  ratio (b)/(a): ${ratio.toFixed(2)}×, (b2)/(a2): ${ratio2.toFixed(2)}×; engine overhead per node (b − a) / ${NODES}: ${ms((serialMs - durableMs) / NODES)}`,
);
console.log(
  `  target ≤ ${TARGET_RATIO}× the committing jobs: concurrency 1 ${verdict(ratioMet)} (${ratio.toFixed(2)}×), ` +
    `concurrency 2 ${verdict(ratio2Met)} (${ratio2.toFixed(2)}×)`,
);
console.log(
  `  target < ${TARGET_MS} ms for the whole graph: concurrency 1 ${verdict(timeMet)} (${ms(serialMs)}), ` +
    `concurrency 2 ${verdict(time2Met)} (${ms(parallelMs)})`,
);
console.log(
  `  machine: ${cpus().length} CPUs, 1-min load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after ` +
    '(every SQL or Redis round trip waits for a CPU: figures grow with the load)',
);
console.log(
  `  rounds: (a) ${list(durable)}; (b) ${list(serialRuns.map((r) => r.ms))}; (a2) ${list(durable2)}; ` +
    `(b2) ${list(parallelRuns.map((r) => r.ms))}; bare ${list(bare)} ms`,
);
console.log(
  `  where (b)'s time goes, per node (${PROFILED_ROUNDS} instrumented rounds, ${ms(median(profiledMs))} median; ` +
    `${(queries / (NODES * PROFILED_ROUNDS)).toFixed(1)} SQL statements and ` +
    `${(writingCommits / (NODES * PROFILED_ROUNDS)).toFixed(1)} writing commits (WAL flushes) per node on the worker's pool; ` +
    `one round trip: Postgres ${ms(pingMs)}, Redis ${ms(redisPingMs)}):`,
);
// What the processor spends outside the steps timed inside it: job data parsing, the job logger,
// building Drizzle instances and queries, awaiting.
const inside = [...profile.entries()]
  .filter(([step]) => step !== 'processor (all of it)' && !step.startsWith('BullMQ'))
  .reduce((sum, [, entry]) => sum + entry.ms, 0);
const processor = profile.get('processor (all of it)');
if (processor) profile.set('processor: the rest (JS)', { ms: processor.ms - inside, calls: processor.calls });
const rows = [...profile.entries()].sort((a, b) => b[1].ms - a[1].ms);
const width = Math.max(...rows.map(([step]) => step.length));
for (const [step, entry] of rows) {
  console.log(
    `    ${step.padEnd(width)}  ${ms(perNode(entry.ms)).padStart(8)}  (${(entry.calls / (NODES * PROFILED_ROUNDS)).toFixed(2)} calls/node)`,
  );
}
console.log(`    launchRun, once per run: ${ms(startMs / PROFILED_ROUNDS)}`);
console.log(`  cleaned up: queues of ${PREFIX}-* obliterated (${leftover} stray keys removed)`);

saveResult('orchestration', {
  nodes: NODES,
  levels: LEVELS,
  edges,
  joins,
  rounds: ROUNDS,
  logLevel: LOG_LEVEL,
  bareMs,
  durableMs,
  durable2Ms,
  serialMs,
  parallelMs,
  ratio,
  ratio2,
  ratio2Met,
  time2Met,
  overheadPerNodeMs: (serialMs - durableMs) / NODES,
  ratioMet,
  timeMet,
  serialRecordedMs,
  parallelRecordedMs,
  bare,
  durable,
  durable2,
  serial: serialRuns.map((run) => run.ms),
  parallel: parallelRuns.map((run) => run.ms),
  profile: Object.fromEntries(rows.map(([step, entry]) => [step, perNode(entry.ms)])),
  sqlStatementsPerNode: queries / (NODES * PROFILED_ROUNDS),
  writingCommitsPerNode: writingCommits / (NODES * PROFILED_ROUNDS),
  loadAverage: { before: loadBefore, after: loadAfter },
  pingMs,
  redisPingMs,
});
