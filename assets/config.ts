/** What every asset of this pipeline receives as `ctx.config`, built by the CLI or worker from the environment and flags. */
export type PipelineConfig = Readonly<{
  landingDir: string;
  exportDir: string;
  /** Bad input rows to quarantine in rejected_rows instead of failing the load (SPEC §9). */
  allowBadRows: number;
}>;
