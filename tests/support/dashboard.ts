import type { Server } from 'node:http';
import { createDashboard, type DashboardOptions, listen } from '../../dashboard/server.ts';
import type { Database } from '../../engine/database.ts';
import { AssetGraph } from '../../engine/graph.ts';
import type { PipelineQueues } from '../../queues/queues.ts';
import { assets as toyAssets } from '../fixtures/toy-assets.ts';

export type Served = { url: string; port: number; close: () => Promise<void> };

/**
 * Dashboards served in-process on free loopback ports, all with the same `defaults` (graph,
 * database, queues) and each with its own options; `closeAll` stops every one of them.
 */
export function dashboardServers(defaults: () => DashboardOptions) {
  const servers: Served[] = [];
  return {
    serve: async (options: Partial<DashboardOptions> = {}): Promise<Served> => {
      const server: Server = await listen(createDashboard({ ...defaults(), ...options }), 0, '127.0.0.1');
      const address = server.address();
      if (!address || typeof address === 'string') throw new Error('no address');
      const served = {
        url: `http://127.0.0.1:${address.port}`,
        port: address.port,
        close: async () => {
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
      servers.push(served);
      return served;
    },
    closeAll: async () => {
      await Promise.all(servers.splice(0).map((served) => served.close()));
    },
  };
}

/** Dashboards of the toy graph over a test's own database and queues (no landing zone), writable. */
export function toyDashboards(services: () => { database: Database; queues: PipelineQueues }) {
  const graph = new AssetGraph(toyAssets);
  return dashboardServers(() => ({
    graph,
    ...services(),
    config: { landingDir: '', exportDir: '', allowBadRows: 0 },
    readOnly: false,
  }));
}

/** What a browser sends with a request from the dashboard's own page at `base`. */
export function sameOrigin(base: string): Record<string, string> {
  return { origin: new URL(base).origin };
}

/** A same-origin form POST to one of the dashboard's actions, with its CSRF token and cookie if given. */
export function postForm(base: string, path: string, token?: string, cookie?: string) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...sameOrigin(base),
      ...(cookie ? { cookie } : {}),
    },
    body: new URLSearchParams(token ? { _csrf: token } : {}).toString(),
  });
}
