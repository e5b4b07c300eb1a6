import { describe, expect, it } from 'vitest';
import type { AssetDependency } from '../../engine/asset.ts';
import { UsageError } from '../../engine/errors.ts';
import { AssetGraph } from '../../engine/graph.ts';
import { nodeId } from '../../engine/node.ts';
import { DEFAULT_MAX_PARTITIONS, partitionKeys, planRun, type RunPlan } from '../../engine/plan.ts';
import { noOpAsset } from '../support/no-op-assets.ts';

const asset = (key: string, deps: AssetDependency[] = [], partitioned = false) =>
  noOpAsset(key, { deps, partitioned });

/** id → upstream ids, in node order (toEqual on the entries checks the order too). */
function edges(plan: RunPlan): [string, string[]][] {
  return plan.nodes.map((node) => [node.id, node.upstream]);
}

function usageError(run: () => unknown): UsageError {
  try {
    run();
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error('did not throw');
}

// d lists its deps as c, b: upstream lists must still follow dependency order (b before c).
const diamond = (partitioned: boolean) =>
  new AssetGraph([
    asset('a', [], partitioned),
    asset('b', ['a'], partitioned),
    asset('c', ['a'], partitioned),
    asset('d', ['c', 'b'], partitioned),
  ]);

// The shape of docs/contract.md §4, reduced.
const pipeline = new AssetGraph([
  asset('channels'),
  asset('snapshots', [], true),
  asset('customers', ['snapshots']),
  asset('traffic', ['channels', 'customers'], true),
  asset('analytics', [{ asset: 'traffic', window: 12 }, 'snapshots'], true),
  asset('revenue', ['traffic', 'customers']),
]);

describe('nodeId and partitionKeys', () => {
  it('formats node ids', () => {
    expect(nodeId('traffic', '2026-10')).toBe('traffic[2026-10]');
    expect(nodeId('channels', '')).toBe('channels');
  });

  it('lists months inclusively across a year boundary', () => {
    expect(partitionKeys('2025-11', '2026-02')).toEqual(['2025-11', '2025-12', '2026-01', '2026-02']);
    expect(partitionKeys('2026-10', '2026-10')).toEqual(['2026-10']);
  });
});

describe('planRun', () => {
  it('plans a single unpartitioned asset as one node', () => {
    expect(planRun(pipeline, ['channels'])).toEqual({
      nodes: [{ id: 'channels', assetKey: 'channels', partitionKey: '', upstream: [] }],
      partitions: [],
    });
  });

  it('plans an unpartitioned diamond', () => {
    const plan = planRun(diamond(false), ['d', 'a', 'c', 'b']);
    expect(edges(plan)).toEqual([
      ['a', []],
      ['b', ['a']],
      ['c', ['a']],
      ['d', ['b', 'c']],
    ]);
    expect(plan.partitions).toEqual([]);
  });

  it('plans a partitioned diamond for one partition', () => {
    const plan = planRun(diamond(true), ['a', 'b', 'c', 'd'], { from: '2026-10', to: '2026-10' });
    expect(plan.nodes[1]).toEqual({
      id: 'b[2026-10]',
      assetKey: 'b',
      partitionKey: '2026-10',
      upstream: ['a[2026-10]'],
    });
    expect(edges(plan)).toEqual([
      ['a[2026-10]', []],
      ['b[2026-10]', ['a[2026-10]']],
      ['c[2026-10]', ['a[2026-10]']],
      ['d[2026-10]', ['b[2026-10]', 'c[2026-10]']],
    ]);
    expect(plan.partitions).toEqual(['2026-10']);
  });

  it('plans an identity-mapped diamond over a range across a year boundary, partition by partition', () => {
    const plan = planRun(diamond(true), ['a', 'b', 'c', 'd'], { from: '2025-11', to: '2026-02' });
    expect(plan.partitions).toEqual(['2025-11', '2025-12', '2026-01', '2026-02']);
    expect(edges(plan)).toEqual([
      ['a[2025-11]', []],
      ['a[2025-12]', []],
      ['a[2026-01]', []],
      ['a[2026-02]', []],
      ['b[2025-11]', ['a[2025-11]']],
      ['b[2025-12]', ['a[2025-12]']],
      ['b[2026-01]', ['a[2026-01]']],
      ['b[2026-02]', ['a[2026-02]']],
      ['c[2025-11]', ['a[2025-11]']],
      ['c[2025-12]', ['a[2025-12]']],
      ['c[2026-01]', ['a[2026-01]']],
      ['c[2026-02]', ['a[2026-02]']],
      ['d[2025-11]', ['b[2025-11]', 'c[2025-11]']],
      ['d[2025-12]', ['b[2025-12]', 'c[2025-12]']],
      ['d[2026-01]', ['b[2026-01]', 'c[2026-01]']],
      ['d[2026-02]', ['b[2026-02]', 'c[2026-02]']],
    ]);
  });

  it('a 12-month window waits for exactly the in-run partitions of P-11 … P', () => {
    const plan = planRun(pipeline, ['traffic', 'analytics'], { from: '2025-01', to: '2026-10' });
    expect(plan.partitions).toHaveLength(22);
    expect(plan.nodes).toHaveLength(44);
    const byId = new Map(plan.nodes.map((node) => [node.id, node.upstream]));
    expect(byId.get('analytics[2026-10]')).toEqual([
      'traffic[2025-11]',
      'traffic[2025-12]',
      'traffic[2026-01]',
      'traffic[2026-02]',
      'traffic[2026-03]',
      'traffic[2026-04]',
      'traffic[2026-05]',
      'traffic[2026-06]',
      'traffic[2026-07]',
      'traffic[2026-08]',
      'traffic[2026-09]',
      'traffic[2026-10]',
    ]);
    // The window is clipped to the run: the first months have fewer predecessors in it.
    expect(byId.get('analytics[2025-01]')).toEqual(['traffic[2025-01]']);
    expect(byId.get('analytics[2025-03]')).toEqual([
      'traffic[2025-01]',
      'traffic[2025-02]',
      'traffic[2025-03]',
    ]);
    // Traffic's unpartitioned deps are not selected, so traffic waits for nothing.
    expect(byId.get('traffic[2026-10]')).toEqual([]);
  });

  it('a 12-month window over a short run waits only for the partitions in the run', () => {
    const plan = planRun(pipeline, ['traffic', 'analytics'], { from: '2026-09', to: '2026-10' });
    expect(edges(plan)).toEqual([
      ['traffic[2026-09]', []],
      ['traffic[2026-10]', []],
      ['analytics[2026-09]', ['traffic[2026-09]']],
      ['analytics[2026-10]', ['traffic[2026-09]', 'traffic[2026-10]']],
    ]);
  });

  it('an unpartitioned dependant of a partitioned asset waits for all its run partitions', () => {
    const plan = planRun(pipeline, ['snapshots', 'customers'], { from: '2025-12', to: '2026-02' });
    expect(edges(plan)).toEqual([
      ['snapshots[2025-12]', []],
      ['snapshots[2026-01]', []],
      ['snapshots[2026-02]', []],
      ['customers', ['snapshots[2025-12]', 'snapshots[2026-01]', 'snapshots[2026-02]']],
    ]);
    expect(plan.partitions).toEqual(['2025-12', '2026-01', '2026-02']);
  });

  it('a partitioned dependant of unpartitioned assets waits for them in every partition', () => {
    const plan = planRun(pipeline, ['channels', 'customers', 'traffic'], { from: '2026-09', to: '2026-10' });
    expect(edges(plan)).toEqual([
      ['channels', []],
      ['customers', []],
      ['traffic[2026-09]', ['channels', 'customers']],
      ['traffic[2026-10]', ['channels', 'customers']],
    ]);
  });

  it('plans the whole pipeline with every rule at once', () => {
    const plan = planRun(pipeline, pipeline.keys, { from: '2026-09', to: '2026-10' });
    expect(edges(plan)).toEqual([
      ['channels', []],
      ['snapshots[2026-09]', []],
      ['snapshots[2026-10]', []],
      ['customers', ['snapshots[2026-09]', 'snapshots[2026-10]']],
      ['traffic[2026-09]', ['channels', 'customers']],
      ['traffic[2026-10]', ['channels', 'customers']],
      ['analytics[2026-09]', ['snapshots[2026-09]', 'traffic[2026-09]']],
      ['analytics[2026-10]', ['snapshots[2026-10]', 'traffic[2026-09]', 'traffic[2026-10]']],
      ['revenue', ['customers', 'traffic[2026-09]', 'traffic[2026-10]']],
    ]);
  });

  it('does not wait for a dependency outside the selection', () => {
    expect(edges(planRun(pipeline, ['revenue']))).toEqual([['revenue', []]]);
    expect(edges(planRun(diamond(false), ['b', 'c', 'd']))).toEqual([
      ['b', []],
      ['c', []],
      ['d', ['b', 'c']],
    ]);
  });

  it('partitions without any partitioned asset selected plan the unpartitioned nodes only', () => {
    const plan = planRun(pipeline, ['channels', 'revenue'], { from: '2026-10', to: '2026-10' });
    expect(edges(plan)).toEqual([
      ['channels', []],
      ['revenue', []],
    ]);
    expect(plan.partitions).toEqual([]);
  });

  it('a partitioned asset without partitions is a usage error naming the assets and the flags', () => {
    const error = usageError(() => planRun(pipeline, ['channels', 'analytics', 'traffic']));
    expect(error.message).toBe(
      'partitioned asset(s) traffic, analytics need a partition or a range of partitions',
    );
    expect(error.exitCode).toBe(2);
  });

  it('from after to is a usage error', () => {
    const error = usageError(() => planRun(pipeline, ['traffic'], { from: '2026-03', to: '2026-01' }));
    expect(error.message).toBe('partition range 2026-03..2026-01 is empty: it starts after it ends');
    expect(() => partitionKeys('2026-01', '2025-12')).toThrow(UsageError);
  });

  it('a range over the limit is a usage error naming it, before any month is expanded', () => {
    expect(partitionKeys('1976-01', '2025-12')).toHaveLength(DEFAULT_MAX_PARTITIONS);
    const error = usageError(() => planRun(pipeline, ['traffic'], { from: '0001-01', to: '9999-12' }));
    expect(error.message).toBe(
      'partition range 0001-01..9999-12 covers 119988 months: a run covers at most 600 (PIPELINE_MAX_PARTITIONS)',
    );
    expect(partitionKeys('2026-01', '2026-03', 3)).toEqual(['2026-01', '2026-02', '2026-03']);
    expect(() => partitionKeys('2026-01', '2026-04', 3)).toThrow('covers 4 months: a run covers at most 3');
  });

  it('an invalid month is a usage error, even with nothing partitioned selected', () => {
    for (const [from, to, bad] of [
      ['2026-13', '2026-13', '2026-13'],
      ['2026-01', '2026-1', '2026-1'],
      ['26-01', '2026-01', '26-01'],
      ['2026-00', '2026-01', '2026-00'],
    ] as const) {
      expect(usageError(() => planRun(pipeline, ['traffic'], { from, to })).message).toBe(
        `partition '${bad}' is not a month: expected YYYY-MM, e.g. 2026-10`,
      );
    }
    expect(() => planRun(pipeline, ['channels'], { from: 'soon', to: 'soon' })).toThrow(UsageError);
  });

  it('an unknown selected key is a usage error', () => {
    expect(usageError(() => planRun(pipeline, ['trafic'])).message).toMatch(/^unknown asset\(s\) trafic: /);
  });
});
