import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Router } from 'express';
import type { PipelineQueues } from '../queues/queues.ts';

/**
 * Bull Board over every queue of the pipeline at /queues. Asset jobs are named after their node
 * and show their run, asset and partition; retrying a failed asset job there resumes its run.
 */
export function bullBoardRouter(queues: PipelineQueues, options: { readOnly: boolean }): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath('/queues');
  const assets = new BullMQAdapter(queues.assets, {
    readOnlyMode: options.readOnly,
    description: 'one job per (asset, partition) of a run; Retry on a failed job resumes its run',
  });
  assets.setFormatter('data', (data: { runId?: string; assetKey?: string; partitionKey?: string }) => ({
    run: data.runId,
    asset: data.assetKey,
    partition: data.partitionKey || '(unpartitioned)',
  }));
  const schedule = new BullMQAdapter(queues.schedule, {
    readOnlyMode: options.readOnly,
    description: 'the monthly tick of the job scheduler (1st of the month, 09:00 UTC)',
  });
  createBullBoard({
    queues: [assets, schedule],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'asset-pipeline queues' } },
  });
  // Its router is an Express app of its own, which would announce itself on every response.
  const app = serverAdapter.getRouter() as Router & { disable?: (setting: string) => unknown };
  app.disable?.('x-powered-by');
  return app;
}
