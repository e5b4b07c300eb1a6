/** What every landing-file load reports (issue 5): rows in the file and what became of them. */
export type LoadMetadata = {
  rowCount: number;
  rowsInFile: number;
  rowsLoaded: number;
  duplicatesCollapsed: number;
  rowsRejected: number;
  bytes: number;
  seconds: number;
};

export function loadMetadata(figures: {
  started: number;
  finished: number;
  records: number;
  loaded: number;
  rejected: number;
  bytes: number;
}): LoadMetadata {
  return {
    rowCount: figures.loaded,
    rowsInFile: figures.records,
    rowsLoaded: figures.loaded,
    // Records that are neither loaded nor rejected were exact copies of another record.
    duplicatesCollapsed: figures.records - figures.rejected - figures.loaded,
    rowsRejected: figures.rejected,
    bytes: figures.bytes,
    seconds: seconds(figures.started, figures.finished),
  };
}

/** Seconds between two performance.now() readings, to the millisecond. */
export const seconds = (from: number, to: number) => Number(((to - from) / 1000).toFixed(3));
