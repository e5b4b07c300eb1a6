import { type AssetStateGrid, type CellState, NO_SOURCE } from './asset-state.ts';
import { PartitionRequiredError, UsageError } from './errors.ts';
import type { AssetGraph } from './graph.ts';
import { inputsOf } from './lineage.ts';
import { monthKey, parseMonth } from './months.ts';
import { type NodeRef, nodeId } from './node.ts';
import { DEFAULT_MAX_PARTITIONS, partitionKeys, planNodes, type RunPlan } from './plan.ts';

/**
 * Planning that knows the graph's state: absent months are left out, `only` keeps the nodes that
 * are missing or stale, `upstream` brings missing (or stale) inputs into the run, and a run that
 * would read a missing or failed partition it does not materialize is refused before it starts.
 */

export type StateSelection = 'missing' | 'stale';

export type StateRequest = {
  selected: readonly string[];
  range?: { from: string; to: string };
  /** Keep only the selected nodes that are missing or failed (`missing`), or also stale (`stale`). */
  only?: StateSelection;
  /** Add the missing or failed (and, with `stale`, stale) upstream nodes, up to the roots. */
  upstream?: StateSelection;
  /** The most months the run may cover (the range, or the data's span without one). */
  maxPartitions?: number;
  /**
   * With `only`: of the nodes that are missing or stale, only these (node ids) — and what is
   * downstream of them (the sensor: what changed files make missing or stale).
   */
  roots?: ReadonlySet<string>;
};

export type PlannedNode = NodeRef & { why: string };

export type StatePlan = {
  plan: RunPlan;
  /** Why each node is in the run, by node id (for --dry-run). */
  why: Map<string, string>;
  /** Inputs the run reads as they are although they are stale (or being materialized by another run). */
  warnings: string[];
  /** What was left out, said once (absent months, running nodes). */
  notes: string[];
};

/** A run that would answer from missing inputs: refused, naming the root gaps compactly. */
export class RunRefused extends UsageError {
  /** The root gaps a run could materialize first (with `upstream`). */
  readonly gaps: string[];
  /** The root gaps that have no source to load them from (a landing file never delivered). */
  readonly withoutSource: string[];
  constructor(gaps: string[], withoutSource: string[]) {
    const parts = [
      ...(gaps.length > 0 ? [gaps.join(', ')] : []),
      ...(withoutSource.length > 0 ? [`with no landing file: ${withoutSource.join(', ')}`] : []),
    ];
    super(
      `refused: the run would read missing or failed partitions it does not materialize: ${parts.join('; ')}`,
    );
    this.gaps = gaps;
    this.withoutSource = withoutSource;
  }
}

const STALE_OR_WORSE = new Set(['missing', 'failed', 'stale']);
const MISSING_OR_FAILED = new Set(['missing', 'failed']);

export function planFromState<C>(
  graph: AssetGraph<C>,
  grid: AssetStateGrid,
  request: StateRequest,
): StatePlan {
  const unknown = request.selected.filter((key) => !graph.has(key));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown asset(s) ${unknown.join(', ')}: valid assets are ${[...graph.order].sort().join(', ')}`,
    );
  }
  const notes: string[] = [];
  const partitioned = request.selected.filter((key) => graph.get(key).partitions);
  let months: string[] = [];
  const limit = request.maxPartitions ?? DEFAULT_MAX_PARTITIONS;
  if (request.range) months = partitionKeys(request.range.from, request.range.to, limit);
  else if (partitioned.length > 0) {
    // --missing / --stale without a range cover the data's span.
    if (!request.only) throw new PartitionRequiredError(partitioned);
    const covered = grid.span ?? { first: grid.months[0], last: grid.months.at(-1) };
    months = covered.first && covered.last ? partitionKeys(covered.first, covered.last, limit) : [];
  }
  const why = new Map<string, string>();
  const chosen: NodeRef[] = [];
  const absent: string[] = [];
  const running: string[] = [];
  const selected = new Set(request.selected);
  const chosenIds = new Set<string>();
  for (const assetKey of graph.order.filter((key) => selected.has(key))) {
    for (const partitionKey of graph.get(assetKey).partitions ? months : ['']) {
      const state = grid.cell(assetKey, partitionKey);
      const id = nodeId(assetKey, partitionKey);
      if (state.state === 'absent' && partitionKey !== '') {
        absent.push(partitionKey);
        continue;
      }
      if (request.only) {
        if (state.state === 'running') {
          running.push(id);
          continue;
        }
        const wanted = request.only === 'stale' ? STALE_OR_WORSE : MISSING_OR_FAILED;
        // Downstream of a node the run materializes is stale once it has run: in it too (not a
        // reader that only validates against it).
        const after = inputsOf(graph, { assetKey, partitionKey }, { propagatingOnly: true })
          .flatMap((input) =>
            input.partitionKey === null
              ? months.map((month) => nodeId(input.assetKey, month))
              : [nodeId(input.assetKey, input.partitionKey)],
          )
          .find((input) => chosenIds.has(input));
        if (wanted.has(state.state) && (!request.roots || request.roots.has(id)))
          why.set(id, describe(state));
        else if (after) why.set(id, `downstream of ${after}, which this run materializes`);
        else continue;
      } else why.set(id, 'selected');
      chosen.push({ assetKey, partitionKey });
      chosenIds.add(id);
    }
  }
  const absentMonths = [...new Set(absent)].sort();
  if (absentMonths.length > 0) {
    notes.push(
      `left out ${compactMonths(absentMonths)}: outside the data's span${grid.span ? ` (${grid.span.first}…${grid.span.last})` : ''}`,
    );
  }
  if (running.length > 0) notes.push(`left out what another run is materializing now: ${running.join(', ')}`);

  // Walk upstream from the chosen nodes: what they read and the run does not materialize.
  const inRun = chosenIds;
  const gaps = new Map<string, CellState>();
  const warnings = new Set<string>();
  const pending = [...chosen];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    for (const input of readCells(graph, grid, node)) {
      const id = nodeId(input.assetKey, input.partitionKey);
      if (inRun.has(id) || input.state === 'absent') continue;
      const addable = request.upstream === 'stale' ? STALE_OR_WORSE : MISSING_OR_FAILED;
      if (request.upstream && addable.has(input.state)) {
        inRun.add(id);
        why.set(id, `upstream of ${nodeId(node.assetKey, node.partitionKey)}: ${describe(input)}`);
        const added = { assetKey: input.assetKey, partitionKey: input.partitionKey };
        chosen.push(added);
        pending.push(added);
      } else if (MISSING_OR_FAILED.has(input.state)) gaps.set(id, input);
      else if (input.state === 'stale')
        warnings.add(`reads ${id} as it is, although it is stale (${input.reason})`);
      else if (input.state === 'running')
        warnings.add(`reads ${id} as it is now: another run is materializing it`);
    }
  }
  if (gaps.size > 0) {
    const roots = rootGaps(graph, grid, [...gaps.values()], inRun);
    const noFile = (cell: CellState) => cell.reason === NO_SOURCE;
    throw new RunRefused(
      compactGaps(
        graph,
        roots.filter((c) => !noFile(c)),
      ),
      compactGaps(graph, roots.filter(noFile)),
    );
  }
  return { plan: planNodes(graph, chosen), why, warnings: [...warnings], notes };
}

/** The cells a node reads (every dependency, validation-only ones included: a missing one fails it too). */
function readCells<C>(graph: AssetGraph<C>, grid: AssetStateGrid, node: NodeRef): CellState[] {
  return inputsOf(graph, node).flatMap((input) =>
    input.partitionKey === null
      ? grid.months.map((month) => grid.cell(input.assetKey, month))
      : [grid.cell(input.assetKey, input.partitionKey)],
  );
}

/** The gaps to name: those whose own inputs are not gaps too (the roots — usually landing files never loaded). */
function rootGaps<C>(
  graph: AssetGraph<C>,
  grid: AssetStateGrid,
  gaps: CellState[],
  inRun: ReadonlySet<string>,
): CellState[] {
  const roots = new Map<string, CellState>();
  const seen = new Set<string>();
  const visit = (gap: CellState) => {
    const id = nodeId(gap.assetKey, gap.partitionKey);
    if (seen.has(id)) return;
    seen.add(id);
    const deeper = readCells(graph, grid, gap).filter(
      (input) => MISSING_OR_FAILED.has(input.state) && !inRun.has(nodeId(input.assetKey, input.partitionKey)),
    );
    if (deeper.length === 0) roots.set(id, gap);
    else for (const input of deeper) visit(input);
  };
  for (const gap of gaps) visit(gap);
  return [...roots.values()];
}

/** Gaps grouped per asset into month ranges (`traffic[2025-11…2026-09]`), in graph order. */
function compactGaps<C>(graph: AssetGraph<C>, cells: CellState[]): string[] {
  const byAsset = new Map<string, string[]>();
  for (const cell of cells)
    byAsset.set(cell.assetKey, [...(byAsset.get(cell.assetKey) ?? []), cell.partitionKey]);
  return graph.order
    .filter((key) => byAsset.has(key))
    .map((key) => {
      const partitions = (byAsset.get(key) ?? []).filter((p) => p !== '').sort();
      return partitions.length === 0 ? key : `${key}[${compactMonths(partitions)}]`;
    });
}

/** Months as ranges of consecutive months: `2025-11…2026-09, 2026-12`. */
export function compactMonths(months: readonly string[]): string {
  const ranges: string[] = [];
  let start: string | undefined;
  let previous: number | undefined;
  const close = () => {
    if (start === undefined || previous === undefined) return;
    const end = monthKey(previous);
    ranges.push(end === start ? start : `${start}…${end}`);
  };
  for (const month of [...months].sort()) {
    const value = parseMonth(month);
    if (previous === undefined || value !== previous + 1) {
      close();
      start = month;
    }
    previous = value;
  }
  close();
  return ranges.join(', ');
}

function describe(state: CellState): string {
  return state.reason ? `${state.state}: ${state.reason}` : state.state;
}
