import type { AssetDefinition } from './asset.ts';
import { DefinitionError } from './errors.ts';

const KEY_PATTERN = /^[a-z][a-z0-9_]*$/;

/**
 * The validated asset graph: every key unique and well-formed, every dependency known, no cycles.
 * Built once when the definitions load; everything downstream may trust it.
 */
export class AssetGraph<Config = unknown> {
  private readonly byKey = new Map<string, AssetDefinition<Config>>();
  private readonly dependants = new Map<string, string[]>();
  /** Keys in dependency order (every asset after its dependencies), ties by declaration order. */
  readonly order: readonly string[];

  constructor(definitions: readonly AssetDefinition<Config>[]) {
    for (const definition of definitions) {
      if (!KEY_PATTERN.test(definition.key)) {
        throw new DefinitionError(`asset key '${definition.key}' must be lower_snake_case`);
      }
      if (this.byKey.has(definition.key))
        throw new DefinitionError(`duplicate asset key '${definition.key}'`);
      if (definition.retry.attempts < 1) {
        throw new DefinitionError(`asset '${definition.key}' must have retry.attempts ≥ 1`);
      }
      this.byKey.set(definition.key, definition);
      this.dependants.set(definition.key, []);
    }
    for (const definition of definitions) {
      const seen = new Set<string>();
      for (const dep of definition.deps) {
        if (!this.byKey.has(dep.key)) {
          throw new DefinitionError(`asset '${definition.key}' depends on unknown asset '${dep.key}'`);
        }
        if (seen.has(dep.key))
          throw new DefinitionError(`asset '${definition.key}' lists '${dep.key}' twice`);
        seen.add(dep.key);
        if (dep.mapping.kind === 'window') {
          if (!definition.partitions || !this.byKey.get(dep.key)?.partitions) {
            throw new DefinitionError(
              `asset '${definition.key}' maps a window of '${dep.key}': both must be partitioned`,
            );
          }
          if (!Number.isInteger(dep.mapping.months) || dep.mapping.months < 1) {
            throw new DefinitionError(
              `asset '${definition.key}' has a window of '${dep.key}' that is not ≥ 1 month`,
            );
          }
        }
        this.dependants.get(dep.key)?.push(definition.key);
      }
      for (const check of definition.checks) {
        if (definition.checks.filter((c) => c.name === check.name).length > 1) {
          throw new DefinitionError(`asset '${definition.key}' has two checks named '${check.name}'`);
        }
      }
    }
    this.order = this.sortTopologically(definitions.map((d) => d.key));
  }

  get(key: string): AssetDefinition<Config> {
    const definition = this.byKey.get(key);
    if (!definition) throw new Error(`no asset '${key}'`);
    return definition;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  get keys(): string[] {
    return [...this.order];
  }

  get groups(): string[] {
    return [...new Set(this.order.map((key) => this.get(key).group))].sort();
  }

  /** Direct dependencies. */
  upstreamOf(key: string): string[] {
    return this.get(key).deps.map((dep) => dep.key);
  }

  /** Direct dependants. */
  downstreamOf(key: string): string[] {
    return [...(this.dependants.get(key) ?? [])];
  }

  /** The key and everything it depends on, transitively. */
  withUpstream(key: string): Set<string> {
    return this.closure(key, (k) => this.upstreamOf(k));
  }

  /** The key and everything that depends on it, transitively. */
  withDownstream(key: string): Set<string> {
    return this.closure(key, (k) => this.downstreamOf(k));
  }

  private closure(start: string, next: (key: string) => string[]): Set<string> {
    const found = new Set<string>([start]);
    const pending = [start];
    for (let key = pending.pop(); key !== undefined; key = pending.pop()) {
      for (const other of next(key)) {
        if (!found.has(other)) {
          found.add(other);
          pending.push(other);
        }
      }
    }
    return found;
  }

  /** Kahn's algorithm; what remains at the end is a cycle, which is reported by its path. */
  private sortTopologically(declared: string[]): string[] {
    const waiting = new Map(declared.map((key) => [key, this.upstreamOf(key).length]));
    const order: string[] = [];
    let ready = declared.filter((key) => waiting.get(key) === 0);
    while (ready.length > 0) {
      order.push(...ready);
      const next: string[] = [];
      for (const key of ready) {
        for (const dependant of this.downstreamOf(key)) {
          const remaining = (waiting.get(dependant) ?? 0) - 1;
          waiting.set(dependant, remaining);
          if (remaining === 0) next.push(dependant);
        }
      }
      ready = declared.filter((key) => next.includes(key));
    }
    if (order.length < declared.length) {
      throw new DefinitionError(
        `dependency cycle: ${this.findCycle(declared.filter((k) => !order.includes(k)))}`,
      );
    }
    return order;
  }

  private findCycle(stuck: string[]): string {
    const start = stuck[0] ?? '';
    const path = [start];
    let current = start;
    for (;;) {
      const next = this.upstreamOf(current).find((key) => stuck.includes(key)) ?? start;
      const seenAt = path.indexOf(next);
      if (seenAt >= 0) return [...path.slice(seenAt), next].join(' → ');
      path.push(next);
      current = next;
    }
  }
}
