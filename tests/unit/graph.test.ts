import { describe, expect, it } from 'vitest';
import { type AssetDependency, defineAsset } from '../../engine/asset.ts';
import { DefinitionError } from '../../engine/errors.ts';
import { AssetGraph } from '../../engine/graph.ts';
import { noOpAsset } from '../support/no-op-assets.ts';

const asset = (key: string, deps: AssetDependency[] = [], partitioned = false) =>
  noOpAsset(key, { deps, partitioned });

describe('defineAsset', () => {
  it('normalizes dependencies and fills in the retry policy and the code version', () => {
    const definition = defineAsset({
      key: 'report',
      group: 'analytics',
      description: 'a report',
      deps: ['a', { asset: 'b', window: 12 }, { asset: 'c', validationOnly: true }],
      partitions: 'monthly',
      retry: { attempts: 5 },
      materialize: async () => ({ rowCount: 1 }),
    });
    expect(definition.deps).toEqual([
      { key: 'a', mapping: { kind: 'identity' }, propagates: true },
      { key: 'b', mapping: { kind: 'window', months: 12 }, propagates: true },
      { key: 'c', mapping: { kind: 'identity' }, propagates: false },
    ]);
    expect(definition.retry).toEqual({ attempts: 5, backoffMs: 1_000 });
    expect(definition.version).toBe('1');
    expect(definition.source).toBeUndefined();
    expect(definition.checks).toEqual([]);
    expect(Object.isFrozen(definition)).toBe(true);
  });
});

describe('AssetGraph validation', () => {
  it('orders assets after their dependencies', () => {
    const graph = new AssetGraph([asset('d', ['b', 'c']), asset('b', ['a']), asset('c', ['a']), asset('a')]);
    const order = graph.order;
    expect(order.indexOf('a')).toBeLessThan(order.indexOf('b'));
    expect(order.indexOf('b')).toBeLessThan(order.indexOf('d'));
    expect(order.indexOf('c')).toBeLessThan(order.indexOf('d'));
    expect([...graph.withUpstream('d')].sort()).toEqual(['a', 'b', 'c', 'd']);
    expect([...graph.withDownstream('b')].sort()).toEqual(['b', 'd']);
    expect(graph.downstreamOf('a').sort()).toEqual(['b', 'c']);
  });

  it('rejects a duplicate key, naming it', () => {
    expect(() => new AssetGraph([asset('a'), asset('b'), asset('a')])).toThrow(
      new DefinitionError("duplicate asset key 'a'"),
    );
  });

  it('rejects an unknown dependency, naming both assets', () => {
    expect(() => new AssetGraph([asset('a'), asset('b', ['a', 'ghost'])])).toThrow(
      "asset 'b' depends on unknown asset 'ghost'",
    );
  });

  it('rejects a cycle, naming its path', () => {
    expect(
      () => new AssetGraph([asset('root'), asset('a', ['root', 'c']), asset('b', ['a']), asset('c', ['b'])]),
    ).toThrow(/dependency cycle: (a → c → b → a|b → a → c → b|c → b → a → c)/);
    expect(() => new AssetGraph([asset('self', ['self'])])).toThrow('dependency cycle: self → self');
  });

  it('rejects malformed keys, windows on unpartitioned assets and duplicate checks', () => {
    expect(() => new AssetGraph([asset('Bad-Key')])).toThrow("asset key 'Bad-Key' must be lower_snake_case");
    expect(() => new AssetGraph([asset('a'), asset('b', [{ asset: 'a', window: 3 }], true)])).toThrow(
      "asset 'b' maps a window of 'a': both must be partitioned",
    );
    const check = { name: 'c', severity: 'warn' as const, run: async () => ({ passed: true }) };
    const twice = defineAsset({
      key: 'x',
      group: 'g',
      description: 'x',
      checks: [check, check],
      materialize: async () => ({ rowCount: 0 }),
    });
    expect(() => new AssetGraph([twice])).toThrow("asset 'x' has two checks named 'c'");
  });
});
