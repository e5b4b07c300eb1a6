import type { Sql } from 'postgres';

/**
 * What every scheduler tick did (the monthly run, the landing-zone sensor), and the schedulers'
 * own settings: how each fires and whether it is paused. Kept in PostgreSQL with the runs, so
 * the dashboard, the CLI and every worker see one history and one paused flag.
 */

/** started a run · current (nothing to do) · waiting (files settling or covered by a run) · refused · paused. */
export type TickOutcome = 'started' | 'current' | 'waiting' | 'refused' | 'paused';

/** What a sensor tick found about one landing file. */
export type TickFileChange =
  /** Never loaded: a run loads it. */
  | 'new'
  /** Its bytes differ from the ones loaded: a run loads it again. */
  | 'changed'
  /** Loaded once, gone now: its data stays, nothing starts. */
  | 'deleted'
  /** Written less than the settle time ago: taken once it is left alone. */
  | 'settling'
  /** A sensor run that has not ended covers it: looked at again once that run ends. */
  | 'covered'
  /** The sensor's run for exactly this file failed: not tried again (`pipeline retry` resumes it). */
  | 'failed';

export type TickFile = {
  name: string;
  fingerprint: string | null;
  change: TickFileChange;
  /** The run that covers it or failed with it. */
  runId?: string;
};

export type TickRecord = {
  schedulerId: string;
  jobId: string;
  firedAt: Date;
  outcome: TickOutcome;
  message: string;
  filesSeen: number | null;
  files: TickFile[];
  runId: string | null;
};

export type RecordedTick = TickRecord & { id: number; tickedAt: Date; runStatus: string | null };

/** How a scheduler fires, as BullMQ's upsertJobScheduler takes it. */
export type SchedulerRepeat = { pattern: string; tz: string } | { every: number };

export type SchedulerSetting = { id: string; repeat: SchedulerRepeat; paused: boolean; updatedAt: Date };

type TickRow = {
  id: string;
  scheduler_id: string;
  job_id: string;
  fired_at: string;
  ticked_at: string;
  outcome: TickOutcome;
  message: string;
  files_seen: number | null;
  files: TickFile[];
  run_id: string | null;
  run_status: string | null;
};

export class TickStore {
  constructor(private readonly sql: Sql) {}

  /** Records a tick once: a tick delivered again keeps the first record (returned as it is). */
  async record(tick: TickRecord): Promise<RecordedTick> {
    await this.sql`
      insert into ticks (scheduler_id, job_id, fired_at, outcome, message, files_seen, files, run_id)
      values (${tick.schedulerId}, ${tick.jobId}, ${tick.firedAt.toISOString()}::timestamptz, ${tick.outcome},
        ${tick.message}, ${tick.filesSeen}, ${JSON.stringify(tick.files)}::jsonb, ${tick.runId})
      on conflict (scheduler_id, job_id) do nothing`;
    const recorded = await this.find(tick.schedulerId, tick.jobId);
    if (!recorded) throw new Error(`tick ${tick.jobId} was not recorded`);
    return recorded;
  }

  /** The tick of this job, if one was recorded (a tick delivered twice). */
  async find(schedulerId: string, jobId: string): Promise<RecordedTick | undefined> {
    const [row] = await this.sql<TickRow[]>`
      select t.*, r.status as run_status
      from ticks t left join runs r on r.id = t.run_id
      where t.scheduler_id = ${schedulerId} and t.job_id = ${jobId}`;
    return row && fromRow(row);
  }

  /** The latest ticks, newest first (of one scheduler, or of all). */
  async recent(limit: number, schedulerId?: string): Promise<RecordedTick[]> {
    const rows = await this.sql<TickRow[]>`
      select t.*, r.status as run_status
      from ticks t left join runs r on r.id = t.run_id
      ${schedulerId === undefined ? this.sql`` : this.sql`where t.scheduler_id = ${schedulerId}`}
      order by t.ticked_at desc, t.id desc limit ${limit}`;
    return rows.map(fromRow);
  }

  /** Every scheduler's settings, by id. */
  async schedulers(): Promise<Map<string, SchedulerSetting>> {
    const rows = await this.sql<
      { id: string; repeat: SchedulerRepeat; paused: boolean; updated_at: string }[]
    >`select id, repeat, paused, updated_at::text from schedulers order by id`;
    return new Map(
      rows.map((row) => [
        row.id,
        { id: row.id, repeat: row.repeat, paused: row.paused, updatedAt: new Date(row.updated_at) },
      ]),
    );
  }

  /** Records how a scheduler fires; a paused one stays paused. Returns its settings now. */
  async defineScheduler(id: string, repeat: SchedulerRepeat): Promise<SchedulerSetting> {
    const [row] = await this.sql<{ paused: boolean; updated_at: string }[]>`
      insert into schedulers (id, repeat) values (${id}, ${JSON.stringify(repeat)}::jsonb)
      on conflict (id) do update set repeat = excluded.repeat, updated_at = now()
      returning paused, updated_at::text`;
    return { id, repeat, paused: row?.paused ?? false, updatedAt: new Date(row?.updated_at ?? Date.now()) };
  }

  async forgetScheduler(id: string): Promise<void> {
    await this.sql`delete from schedulers where id = ${id}`;
  }

  /** Pauses or resumes a scheduler; undefined when there is no such scheduler. */
  async setPaused(id: string, paused: boolean): Promise<SchedulerSetting | undefined> {
    const [row] = await this.sql<{ repeat: SchedulerRepeat; updated_at: string }[]>`
      update schedulers set paused = ${paused}, updated_at = now() where id = ${id}
      returning repeat, updated_at::text`;
    return row && { id, repeat: row.repeat, paused, updatedAt: new Date(row.updated_at) };
  }

  async isPaused(id: string): Promise<boolean> {
    const [row] = await this.sql<{ paused: boolean }[]>`select paused from schedulers where id = ${id}`;
    return row?.paused ?? false;
  }
}

function fromRow(row: TickRow): RecordedTick {
  return {
    id: Number(row.id),
    schedulerId: row.scheduler_id,
    jobId: row.job_id,
    firedAt: new Date(row.fired_at),
    tickedAt: new Date(row.ticked_at),
    outcome: row.outcome,
    message: row.message,
    filesSeen: row.files_seen,
    files: row.files,
    runId: row.run_id,
    runStatus: row.run_status,
  };
}
