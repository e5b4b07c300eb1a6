import { describe, expect, it } from 'vitest';
import type { AssetDependency } from '../../engine/asset.ts';
import { UsageError } from '../../engine/errors.ts';
import { AssetGraph } from '../../engine/graph.ts';
import { selectAssets } from '../../engine/selection.ts';
import { noOpAsset } from '../support/no-op-assets.ts';

const asset = (key: string, group: string, deps: AssetDependency[] = []) => noOpAsset(key, { group, deps });

// Declared out of dependency order on purpose: results must follow graph.order, not the input.
//   raw_b ─┐
//   raw_a ─┴─ joined ── report
//   raw_a ─── side
//   other
const graph = new AssetGraph([
  asset('report', 'business', ['joined']),
  asset('joined', 'core', ['raw_a', 'raw_b']),
  asset('raw_b', 'ingest'),
  asset('raw_a', 'ingest'),
  asset('side', 'core', ['raw_a']),
  asset('other', 'business'),
]);

const VALID_ASSETS = 'valid assets are joined, other, raw_a, raw_b, report, side';

function usageError(expression: string): UsageError {
  try {
    selectAssets(graph, expression);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`selection '${expression}' did not throw`);
}

describe('selectAssets', () => {
  it('the toy graph has the dependency order the other tests rely on', () => {
    expect(graph.order).toEqual(['raw_b', 'raw_a', 'other', 'joined', 'side', 'report']);
  });

  it('* selects every asset in dependency order', () => {
    expect(selectAssets(graph, '*')).toEqual(['raw_b', 'raw_a', 'other', 'joined', 'side', 'report']);
  });

  it('a bare key selects only that asset', () => {
    expect(selectAssets(graph, 'joined')).toEqual(['joined']);
  });

  it('+key adds everything upstream, transitively', () => {
    expect(selectAssets(graph, '+report')).toEqual(['raw_b', 'raw_a', 'joined', 'report']);
    expect(selectAssets(graph, '+raw_a')).toEqual(['raw_a']);
  });

  it('key+ adds everything downstream, transitively', () => {
    expect(selectAssets(graph, 'raw_a+')).toEqual(['raw_a', 'joined', 'side', 'report']);
    expect(selectAssets(graph, 'report+')).toEqual(['report']);
  });

  it('+key+ adds both directions', () => {
    expect(selectAssets(graph, '+joined+')).toEqual(['raw_b', 'raw_a', 'joined', 'report']);
  });

  it('group:NAME selects the assets of the group', () => {
    expect(selectAssets(graph, 'group:ingest')).toEqual(['raw_b', 'raw_a']);
    expect(selectAssets(graph, 'group:business')).toEqual(['other', 'report']);
  });

  it('terms separated by commas, spaces or both are a union in dependency order', () => {
    expect(selectAssets(graph, 'report,raw_a')).toEqual(['raw_a', 'report']);
    expect(selectAssets(graph, 'report raw_a')).toEqual(['raw_a', 'report']);
    expect(selectAssets(graph, ' side ,  group:business,\traw_b ')).toEqual([
      'raw_b',
      'other',
      'side',
      'report',
    ]);
  });

  it('an asset named by several terms appears once', () => {
    expect(selectAssets(graph, '+report, joined raw_a+ group:core')).toEqual([
      'raw_b',
      'raw_a',
      'joined',
      'side',
      'report',
    ]);
    expect(selectAssets(graph, '*,*,joined')).toHaveLength(6);
  });

  it('a -TERM takes its assets out of the union, wherever it stands', () => {
    expect(selectAssets(graph, '* -group:business')).toEqual(['raw_b', 'raw_a', 'joined', 'side']);
    expect(selectAssets(graph, '-raw_b,+report')).toEqual(['raw_a', 'joined', 'report']);
    expect(selectAssets(graph, '+report -raw_a+')).toEqual(['raw_b']);
    expect(selectAssets(graph, 'side -side')).toEqual([]);
    expect(usageError('* -nope').message).toContain("unknown asset 'nope'");
  });

  it('an empty expression is a usage error listing the valid assets', () => {
    for (const expression of ['', '   ', ' , ,']) {
      const error = usageError(expression);
      expect(error.message).toMatch(/^empty selection/);
      expect(error.message).toContain(VALID_ASSETS);
      expect(error.exitCode).toBe(2);
    }
  });

  it('an unknown key, in any form, names the key and lists the valid assets', () => {
    expect(usageError('repot').message).toBe(`unknown asset 'repot' in selection: ${VALID_ASSETS}`);
    expect(usageError('+repot').message).toBe(`unknown asset 'repot' in selection: ${VALID_ASSETS}`);
    expect(usageError('repot+').message).toBe(`unknown asset 'repot' in selection: ${VALID_ASSETS}`);
    expect(usageError('joined, +repot+').message).toBe(`unknown asset 'repot' in selection: ${VALID_ASSETS}`);
  });

  it('a lone + is an unknown asset, not a crash', () => {
    expect(usageError('+').message).toBe(`unknown asset '+' in selection: ${VALID_ASSETS}`);
    expect(usageError('++').message).toBe(`unknown asset '++' in selection: ${VALID_ASSETS}`);
  });

  it('an unknown group names the group and lists the valid groups', () => {
    expect(usageError('group:foo').message).toBe(
      "unknown group 'foo': valid groups are business, core, ingest",
    );
    expect(usageError('raw_a group:').message).toBe(
      "unknown group '': valid groups are business, core, ingest",
    );
  });
});
