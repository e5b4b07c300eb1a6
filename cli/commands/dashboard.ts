import { once } from 'node:events';
import type { Command } from 'commander';
import { ConfigError, redactUrl } from '../../engine/errors.ts';
import { assetConfig } from '../asset-config.ts';
import { loadConfig } from '../config.ts';
import { loadAssetGraph } from '../load-assets.ts';
import { wholeNumber } from '../options.ts';

/** The shortest DASHBOARD_PASSWORD a dashboard on all interfaces accepts. */
const MIN_PASSWORD_LENGTH = 12;

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description('serve the dashboard: asset graph, runs, materialize, and Bull Board at /queues')
    .option('--port <n>', 'port to listen on (default DASHBOARD_PORT, 3000)', wholeNumber('port', 1, 65535))
    .action(async (flags: { port?: number }) => {
      const config = loadConfig();
      const auth = config.dashboard.auth;
      // Reachable from the network, a guessable password is no protection.
      if (auth && auth.password.length < MIN_PASSWORD_LENGTH) {
        throw new ConfigError(
          `DASHBOARD_PASSWORD is ${auth.password.length} characters: on all interfaces the dashboard needs at least ${MIN_PASSWORD_LENGTH}`,
        );
      }
      const [{ openDatabase }, { connectQueues }, { createDashboard, listen }, { ownHosts }] =
        await Promise.all([
          import('../../engine/database.ts'),
          import('../../queues/queues.ts'),
          import('../../dashboard/server.ts'),
          import('../../dashboard/request-guards.ts'),
        ]);
      const graph = await loadAssetGraph();
      const database = await openDatabase(config.databaseUrl, { max: 5 });
      const queues = await connectQueues(config.redisUrl, config.queuePrefix);
      // Without credentials the dashboard (which can start runs) listens on loopback only.
      const host = auth ? '0.0.0.0' : '127.0.0.1';
      const port = flags.port ?? config.dashboard.port;
      const allowedHosts = ownHosts(config.dashboard.allowedHosts, Boolean(auth));
      const app = createDashboard({
        graph,
        database,
        config: assetConfig(config),
        queues,
        auth,
        readOnly: config.dashboard.readOnly,
        allowedHosts,
        maxPartitions: config.maxPartitions,
      });
      const server = await listen(app, port, host);
      console.log(
        `dashboard on http://${host === '0.0.0.0' ? 'localhost' : host}:${port} — ${
          auth
            ? `basic auth as '${auth.user}', all interfaces`
            : 'no DASHBOARD_USER/DASHBOARD_PASSWORD: loopback only'
        }${config.dashboard.readOnly ? ', read-only' : ''}; queues on ${redactUrl(config.redisUrl)} (Ctrl-C to stop)`,
      );
      console.log(
        allowedHosts === 'any'
          ? '  any Host header is taken: set DASHBOARD_ALLOWED_HOSTS to the names it is reached by (DNS rebinding)'
          : `  answers to the hosts ${allowedHosts.join(', ')}`,
      );
      await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
      server.close();
      server.closeAllConnections();
      await queues.close();
      await database.close();
    });
}
