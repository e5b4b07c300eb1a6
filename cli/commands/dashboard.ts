import { once } from 'node:events';
import type { Command } from 'commander';
import { redactUrl } from '../../engine/errors.ts';
import { assetConfig } from '../asset-config.ts';
import { loadConfig } from '../config.ts';
import { loadAssetGraph } from '../load-assets.ts';
import { wholeNumber } from '../options.ts';

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description('serve the dashboard: asset graph, runs, materialize, and Bull Board at /queues')
    .option('--port <n>', 'port to listen on (default DASHBOARD_PORT, 3000)', wholeNumber('port', 1, 65535))
    .action(async (flags: { port?: number }) => {
      const config = loadConfig();
      const [{ openDatabase }, { connectQueues }, { createDashboard, listen }] = await Promise.all([
        import('../../engine/database.ts'),
        import('../../queues/queues.ts'),
        import('../../dashboard/server.ts'),
      ]);
      const graph = await loadAssetGraph();
      const database = await openDatabase(config.databaseUrl, { max: 5 });
      const queues = await connectQueues(config.redisUrl, config.queuePrefix);
      const auth = config.dashboard.auth;
      // Without credentials the dashboard (which can start runs) listens on loopback only.
      const host = auth ? '0.0.0.0' : '127.0.0.1';
      const port = flags.port ?? config.dashboard.port;
      const app = createDashboard({
        graph,
        database,
        config: assetConfig(config),
        queues,
        auth,
        readOnly: config.dashboard.readOnly,
      });
      const server = await listen(app, port, host);
      console.log(
        `dashboard on http://${host === '0.0.0.0' ? 'localhost' : host}:${port} — ${
          auth
            ? `basic auth as '${auth.user}', all interfaces`
            : 'no DASHBOARD_USER/DASHBOARD_PASSWORD: loopback only'
        }${config.dashboard.readOnly ? ', read-only' : ''}; queues on ${redactUrl(config.redisUrl)} (Ctrl-C to stop)`,
      );
      await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
      server.close();
      server.closeAllConnections();
      await queues.close();
      await database.close();
    });
}
